"""Tests for patients.instruments (pure Python: no database, no Django)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from patients.instruments import (
    INSTRUMENT_VERSION,
    INSTRUMENTS,
    AnswerError,
    ScoreChange,
    ScoreResult,
    UnknownInstrumentError,
    instrument_as_dict,
    is_worse_by_mcid,
    score,
    score_change,
    validate_answers,
)

# Expected conversion tables, copied independently from shared/clinical/outcome_measures.json
# so that a typo in the module is caught.
HOOS_JR_EXPECTED = [
    100.000, 92.340, 85.257, 80.550, 76.776, 73.472, 70.426, 67.516, 64.664, 61.815,
    58.930, 55.985, 52.965, 49.858, 46.652, 43.335, 39.902, 36.363, 32.735, 29.009,
    25.103, 20.805, 15.633, 8.104, 0.000,
]  # fmt: skip
KOOS_JR_EXPECTED = [
    100.000, 91.975, 84.600, 79.914, 76.332, 73.342, 70.704, 68.284, 65.994, 63.776,
    61.583, 59.381, 57.140, 54.840, 52.465, 50.012, 47.487, 44.905, 42.281, 39.625,
    36.931, 34.174, 31.307, 28.251, 24.875, 20.941, 15.939, 8.291, 0.000,
]  # fmt: skip

ITEM_COUNT = {"hoos_jr": 6, "koos_jr": 7, "lefs": 20}
SHARED_JSON = Path(__file__).resolve().parents[3] / "shared" / "clinical" / "outcome_measures.json"


def answers_summing_to(code: str, total: int, *, front_loaded: bool = True) -> dict[str, int]:
    """Answers (0-4 each) for a fixed-item instrument whose items sum to ``total``."""
    n = ITEM_COUNT[code]
    assert 0 <= total <= 4 * n
    if front_loaded:
        values = []
        remaining = total
        for _ in range(n):
            values.append(min(4, remaining))
            remaining -= values[-1]
    else:  # spread as evenly as possible, larger values at the end
        base, extra = divmod(total, n)
        values = [base + (1 if i >= n - extra else 0) for i in range(n)]
    assert sum(values) == total
    return {f"q{i}": v for i, v in enumerate(values, start=1)}


def psfs(*ratings: int) -> dict[str, Any]:
    return {"activities": [{"name": f"Activity {i}", "rating": r} for i, r in enumerate(ratings)]}


def errors_of(code: str, answers: object) -> dict[str, list[str]]:
    with pytest.raises(AnswerError) as excinfo:
        score(code, answers)
    # validate_answers must agree with score
    with pytest.raises(AnswerError) as excinfo2:
        validate_answers(code, answers)
    assert excinfo.value.errors == excinfo2.value.errors
    return excinfo.value.errors


# --------------------------------------------------------------------------------------
# HOOS JR / KOOS JR conversion tables
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", range(25))
def test_hoos_jr_every_raw_sum_maps_to_table(raw: int) -> None:
    for front_loaded in (True, False):
        result = score("hoos_jr", answers_summing_to("hoos_jr", raw, front_loaded=front_loaded))
        assert result.raw == raw
        assert result.score == HOOS_JR_EXPECTED[raw]
        assert result.version == INSTRUMENT_VERSION["hoos_jr"]


@pytest.mark.parametrize("raw", range(29))
def test_koos_jr_every_raw_sum_maps_to_table(raw: int) -> None:
    for front_loaded in (True, False):
        result = score("koos_jr", answers_summing_to("koos_jr", raw, front_loaded=front_loaded))
        assert result.raw == raw
        assert result.score == KOOS_JR_EXPECTED[raw]
        assert result.version == INSTRUMENT_VERSION["koos_jr"]


@pytest.mark.parametrize(
    ("code", "raw", "expected"),
    [
        ("hoos_jr", 6, 70.426),
        ("hoos_jr", 11, 55.985),
        ("koos_jr", 7, 68.284),
        ("koos_jr", 15, 50.012),
    ],
)
def test_published_spot_values(code: str, raw: int, expected: float) -> None:
    assert score(code, answers_summing_to(code, raw)).score == expected


@pytest.mark.parametrize(
    ("code", "raw"), [("hoos_jr", 6), ("hoos_jr", 18), ("koos_jr", 7), ("koos_jr", 20)]
)
def test_conversion_is_not_linear(code: str, raw: int) -> None:
    max_raw = 4 * ITEM_COUNT[code]
    linear = 100 - raw / max_raw * 100
    assert abs(score(code, answers_summing_to(code, raw)).score - linear) > 1


def test_table_endpoints() -> None:
    assert score("hoos_jr", answers_summing_to("hoos_jr", 0)) == ScoreResult(0.0, 100.0, "1.0")
    assert score("hoos_jr", answers_summing_to("hoos_jr", 24)).score == 0.0
    assert score("koos_jr", answers_summing_to("koos_jr", 28)).score == 0.0


@pytest.mark.skipif(not SHARED_JSON.exists(), reason="shared clinical reference not present")
def test_embedded_tables_match_shared_reference() -> None:
    data = json.loads(SHARED_JSON.read_text())
    for code in ("hoos_jr", "koos_jr"):
        inst = INSTRUMENTS[code]
        assert list(inst.score_table or ()) == data[code]["interval_score_by_raw_sum"]
        assert inst.pass_threshold == data[code]["pass"]
        assert len(inst.items) == data[code]["items"]


answer_value = st.integers(min_value=0, max_value=4)


@pytest.mark.parametrize("code", ["hoos_jr", "koos_jr"])
@given(data=st.data())
def test_table_scores_bounded_and_monotone(code: str, data: st.DataObject) -> None:
    n = ITEM_COUNT[code]
    a = data.draw(st.lists(answer_value, min_size=n, max_size=n))
    b = data.draw(st.lists(answer_value, min_size=n, max_size=n))
    ra = score(code, {f"q{i}": v for i, v in enumerate(a, start=1)})
    rb = score(code, {f"q{i}": v for i, v in enumerate(b, start=1)})
    for r in (ra, rb):
        assert 0.0 <= r.score <= 100.0
    assert ra.raw == sum(a)
    assert rb.raw == sum(b)
    if ra.raw <= rb.raw:
        assert ra.score >= rb.score
    if ra.raw >= rb.raw:
        assert ra.score <= rb.score


# --------------------------------------------------------------------------------------
# LEFS, PSFS, NPRS
# --------------------------------------------------------------------------------------


def test_lefs_is_the_sum() -> None:
    answers = {f"q{i}": (i % 5) for i in range(1, 21)}  # 0,1,2,3,4 repeated
    expected = sum(i % 5 for i in range(1, 21))
    assert score("lefs", answers) == ScoreResult(float(expected), float(expected), "1.0")


def test_lefs_bounds() -> None:
    assert score("lefs", answers_summing_to("lefs", 0)).score == 0.0
    assert score("lefs", answers_summing_to("lefs", 80)).score == 80.0
    assert score("lefs", answers_summing_to("lefs", 37)).raw == 37.0


def test_psfs_mean_rounded() -> None:
    result = score("psfs", psfs(3, 4, 4))
    assert result.raw == 11.0
    assert result.score == 3.67
    assert score("psfs", psfs(10, 10, 10, 10, 9)).score == 9.8
    assert score("psfs", psfs(0, 0, 0)).score == 0.0


@pytest.mark.parametrize("count", [0, 1, 2, 6])
def test_psfs_activity_count_enforced(count: int) -> None:
    errors = errors_of("psfs", psfs(*([5] * count)))
    assert "activities" in errors


@pytest.mark.parametrize("count", [3, 4, 5])
def test_psfs_accepts_three_to_five(count: int) -> None:
    assert score("psfs", psfs(*([6] * count))).score == 6.0


def test_psfs_activity_fields_validated() -> None:
    answers = {
        "activities": [
            {"name": "", "rating": 5},
            {"name": "x" * 121, "rating": 5},
            {"name": "Stairs", "rating": 11},
            {"name": "Gardening"},
            {"name": "Walking", "rating": 2.0, "extra": 1},
        ]
    }
    errors = errors_of("psfs", answers)
    assert set(errors) == {
        "activities.0.name",
        "activities.1.name",
        "activities.2.rating",
        "activities.3.rating",
        "activities.4.rating",
        "activities.4.extra",
    }
    assert errors["activities.3.rating"] == ["This question must be answered."]


def test_psfs_name_length_boundary() -> None:
    answers = psfs(4, 5, 6)
    answers["activities"][0]["name"] = "y" * 120
    assert score("psfs", answers).score == 5.0


def test_nprs_value() -> None:
    assert score("nprs", {"pain": 7}) == ScoreResult(7.0, 7.0, "1.0")
    assert score("nprs", {"pain": 0}).score == 0.0
    assert score("nprs", {"pain": 10}).score == 10.0


# --------------------------------------------------------------------------------------
# Validation errors
# --------------------------------------------------------------------------------------


def test_missing_item() -> None:
    answers = answers_summing_to("hoos_jr", 10)
    del answers["q4"]
    assert errors_of("hoos_jr", answers) == {"q4": ["This question must be answered."]}


def test_none_counts_as_missing() -> None:
    assert errors_of("nprs", {"pain": None}) == {"pain": ["This question must be answered."]}


def test_empty_answers_flag_every_item() -> None:
    errors = errors_of("koos_jr", {})
    assert list(errors) == [f"q{i}" for i in range(1, 8)]


@pytest.mark.parametrize(
    ("code", "key", "value"), [("hoos_jr", "q1", 5), ("lefs", "q20", -1), ("nprs", "pain", 11)]
)
def test_out_of_range(code: str, key: str, value: int) -> None:
    answers: dict[str, Any] = {"pain": 5} if code == "nprs" else answers_summing_to(code, 4)
    answers[key] = value
    errors = errors_of(code, answers)
    assert list(errors) == [key]
    assert "out of range" in errors[key][0]


@pytest.mark.parametrize("value", [True, False])
def test_bool_rejected(value: bool) -> None:
    answers: dict[str, Any] = answers_summing_to("lefs", 40)
    answers["q3"] = value
    errors = errors_of("lefs", answers)
    assert list(errors) == ["q3"]
    assert "true or false" in errors["q3"][0]


@pytest.mark.parametrize("value", [2.0, 2.5, "2", [2]])
def test_non_integer_rejected(value: object) -> None:
    errors = errors_of("nprs", {"pain": value})
    assert list(errors) == ["pain"]
    assert "whole number" in errors["pain"][0]


def test_unknown_key() -> None:
    answers: dict[str, Any] = answers_summing_to("hoos_jr", 3)
    answers["q7"] = 1
    errors = errors_of("hoos_jr", answers)
    assert list(errors) == ["q7"]


def test_unknown_instrument() -> None:
    with pytest.raises(UnknownInstrumentError) as excinfo:
        score("oxford_hip", {"q1": 1})
    assert "instrument" in excinfo.value.errors
    assert isinstance(excinfo.value, AnswerError)
    with pytest.raises(UnknownInstrumentError):
        score_change("oxford_hip", 10, 20)
    with pytest.raises(UnknownInstrumentError):
        instrument_as_dict("oxford_hip")


def test_answers_must_be_a_mapping() -> None:
    assert list(errors_of("lefs", [1, 2, 3])) == ["__all__"]


def test_error_is_value_error_with_message() -> None:
    with pytest.raises(ValueError, match="q2"):
        score("hoos_jr", {"q1": 1})


# --------------------------------------------------------------------------------------
# Change thresholds
# --------------------------------------------------------------------------------------


def test_nprs_two_point_drop_is_meaningful() -> None:
    change = score_change("nprs", 8, 6)
    assert change == ScoreChange(delta=-2.0, improved=True, meaningful=True, threshold=2.0)


def test_nprs_thirty_percent_drop_is_meaningful() -> None:
    change = score_change("nprs", 3, 2.1)
    assert change.improved
    assert change.meaningful
    assert math.isclose(change.threshold, 0.9)
    assert not score_change("nprs", 3, 2.2).meaningful


def test_nprs_one_point_from_eight_is_not_meaningful() -> None:
    change = score_change("nprs", 8, 7)
    assert change.improved
    assert not change.meaningful


def test_nprs_zero_baseline_uses_points_only() -> None:
    assert not score_change("nprs", 0, 1).meaningful
    assert score_change("nprs", 0, 2).meaningful


def test_nprs_direction() -> None:
    worse = score_change("nprs", 4, 7)
    assert worse.delta == 3.0
    assert not worse.improved
    assert worse.meaningful
    assert is_worse_by_mcid("nprs", 4, 7)
    assert not is_worse_by_mcid("nprs", 7, 4)


def test_lefs_mcid() -> None:
    assert score_change("lefs", 40, 49) == ScoreChange(9.0, True, True, 9.0)
    assert score_change("lefs", 40, 48).meaningful is False
    assert score_change("lefs", 40, 48).improved is True
    assert score_change("lefs", 49, 40).improved is False
    assert is_worse_by_mcid("lefs", 49, 40)


def test_psfs_mcid_on_mean() -> None:
    assert score_change("psfs", 3.33, 5.33).meaningful
    assert not score_change("psfs", 3.33, 5.0).meaningful


def test_hoos_decline_flagged() -> None:
    baseline = score("hoos_jr", answers_summing_to("hoos_jr", 6)).score  # 70.426
    current = score("hoos_jr", answers_summing_to("hoos_jr", 9)).score  # 61.815
    assert is_worse_by_mcid("hoos_jr", baseline, current)
    assert not is_worse_by_mcid("hoos_jr", current, baseline)  # that is an improvement
    small = score("hoos_jr", answers_summing_to("hoos_jr", 8)).score  # 64.664, drop 5.762
    assert not is_worse_by_mcid("hoos_jr", baseline, small)
    assert score_change("hoos_jr", baseline, current).threshold == 8.0


def test_koos_mcid() -> None:
    assert score_change("koos_jr", 50.0, 56.8).meaningful
    assert not score_change("koos_jr", 50.0, 56.7).meaningful


def test_no_change() -> None:
    change = score_change("hoos_jr", 70.426, 70.426)
    assert change.delta == 0.0
    assert not change.improved
    assert not change.meaningful
    assert not is_worse_by_mcid("hoos_jr", 70.426, 70.426)


@pytest.mark.parametrize(("baseline", "current"), [(-1, 5), (5, 11), (True, 5), (math.nan, 5)])
def test_score_change_rejects_bad_scores(baseline: float, current: float) -> None:
    with pytest.raises(ValueError, match=r"score range|must be a number"):
        score_change("nprs", baseline, current)


# --------------------------------------------------------------------------------------
# Definitions and API shape
# --------------------------------------------------------------------------------------


def test_item_keys_and_counts() -> None:
    assert [i.key for i in INSTRUMENTS["hoos_jr"].items] == [f"q{i}" for i in range(1, 7)]
    assert [i.key for i in INSTRUMENTS["koos_jr"].items] == [f"q{i}" for i in range(1, 8)]
    assert [i.key for i in INSTRUMENTS["lefs"].items] == [f"q{i}" for i in range(1, 21)]
    assert [i.key for i in INSTRUMENTS["nprs"].items] == ["pain"]
    psfs_def = INSTRUMENTS["psfs"]
    assert (psfs_def.items, psfs_def.min_items, psfs_def.max_items) == ((), 3, 5)
    assert (psfs_def.item_min, psfs_def.item_max) == (0, 10)
    assert len({i.text for i in INSTRUMENTS["lefs"].items}) == 20


def test_option_labels_direction() -> None:
    lefs_opts = INSTRUMENTS["lefs"].items[0].options
    assert [o.value for o in lefs_opts] == [0, 1, 2, 3, 4]
    assert "no difficulty" in lefs_opts[4].label.lower()
    hoos_opts = INSTRUMENTS["hoos_jr"].items[0].options
    assert hoos_opts[0].label == "None"
    assert hoos_opts[4].label == "Extreme"


def test_instrument_metadata() -> None:
    assert INSTRUMENTS["nprs"].higher_is_better is False
    assert INSTRUMENTS["nprs"].mcid_percent == 30.0
    assert INSTRUMENTS["hoos_jr"].pass_threshold == 76.7
    assert INSTRUMENTS["koos_jr"].pass_threshold == 63.7
    assert {c: i.mcid for c, i in INSTRUMENTS.items()} == {
        "nprs": 2.0,
        "hoos_jr": 8.0,
        "koos_jr": 6.8,
        "lefs": 9.0,
        "psfs": 2.0,
    }
    assert set(INSTRUMENTS) == set(INSTRUMENT_VERSION)


@pytest.mark.parametrize("code", ["nprs", "hoos_jr", "koos_jr", "lefs", "psfs"])
def test_instrument_as_dict_is_json(code: str) -> None:
    data = json.loads(json.dumps(instrument_as_dict(code)))
    inst = INSTRUMENTS[code]
    assert data["code"] == code
    assert data["version"] == inst.version
    assert data["higher_is_better"] == inst.higher_is_better
    assert data["mcid"] == inst.mcid
    assert data["pass_threshold"] == inst.pass_threshold
    assert len(data["items"]) == len(inst.items)
    for item in data["items"]:
        assert [o["value"] for o in item["options"]] == list(
            range(inst.item_min, inst.item_max + 1)
        )
    if code == "psfs":
        assert data["response_format"] == "activities"
        assert data["activity"]["name_max_length"] == 120
        assert len(data["activity"]["rating_options"]) == 11
    else:
        assert data["response_format"] == "items"
