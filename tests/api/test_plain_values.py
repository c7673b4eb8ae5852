"""Serializers that take already-plain input as it is (PlainValuesMixin) validate exactly as
DRF does: the same data out, the same errors, for valid and invalid input alike."""

from typing import Any

import pytest
from django.core import validators
from hypothesis import example, given, settings
from hypothesis import strategies as st
from rest_framework import serializers

from api.v1 import common_serializers
from api.v1.patient_serializers import ExerciseEntryInputSerializer
from tests.api.test_copied_fields import assert_session_validates_as_drf, rebuilt

FIELDS = list(ExerciseEntryInputSerializer._declared_fields)

values = st.one_of(
    st.integers(min_value=-5, max_value=5),
    st.integers(min_value=95, max_value=105),
    st.integers(min_value=995, max_value=1005),
    st.integers(min_value=3595, max_value=3605),
    st.integers(),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["", " ", "7", "7.0", " 7", "true", "no", "x" * 300, "x" * 301, "a\x00b"]),
    st.text(max_size=12),
    st.text(alphabet=st.characters(codec="ascii"), min_size=295, max_size=305),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=1),
)
entries = st.dictionaries(st.sampled_from([*FIELDS, "unknown"]), values, max_size=len(FIELDS) + 1)


def outcome(serializer: serializers.Serializer, data: Any) -> tuple[str, Any]:
    """('ok', data with each value's type) or ('error', DRF's error detail)."""
    try:
        result = serializer.run_validation(data)
    except serializers.ValidationError as exc:
        return "error", exc.detail
    return "ok", {name: (type(value), value) for name, value in result.items()}


@settings(max_examples=400, deadline=None)
@given(data=entries)
@example(data={"prescribed_exercise": 1, "skipped_reason": " padded "})
@example(data={"prescribed_exercise": 1, "skipped_reason": "\u00e9t\u00e9"})
@example(data={"prescribed_exercise": True})
@example(data={"prescribed_exercise": 1, "completed": 1})
@example(data={"prescribed_exercise": 1, "sets_done": 101})
@example(data={"prescribed_exercise": 1, "reps_done": None})
@example(data={"prescribed_exercise": 0})
@example(data={"sets_done": 1})
def test_an_entry_validates_as_drf_validates_it(data):
    ours = outcome(ExerciseEntryInputSerializer(), data)
    drf = outcome(rebuilt(ExerciseEntryInputSerializer)(), data)
    assert ours == drf


@settings(max_examples=100, deadline=None)
@given(items=st.lists(st.one_of(entries, values), max_size=4))
def test_a_session_validates_its_entries_as_drf_does(items):
    assert_session_validates_as_drf(
        {
            "client_id": "6f1d2c1e-7f2b-4a43-9a2c-0b1c2d3e4f50",
            "performed_at": "2026-12-06T07:00:00+00:00",
            "exercises": items,
        }
    )


def test_plain_input_takes_the_direct_path_and_anything_else_drfs(monkeypatch):
    """The examples above must exercise both paths, or they prove nothing."""
    calls = []
    real = serializers.Serializer.run_validation

    def spy(self, data=serializers.empty):
        calls.append(data)
        return real(self, data)

    monkeypatch.setattr(serializers.Serializer, "run_validation", spy)
    plain = {"prescribed_exercise": 3, "sets_done": 2, "completed": False, "skipped_reason": "Sore"}
    assert ExerciseEntryInputSerializer().run_validation(plain) == {
        **plain,
        "reps_done": 0,
        "hold_seconds_done": 0,
    }
    assert calls == []
    assert (
        ExerciseEntryInputSerializer().run_validation({**plain, "sets_done": "2"})["sets_done"] == 2
    )
    assert len(calls) == 1


def test_a_partial_update_gets_no_defaults():
    assert ExerciseEntryInputSerializer(partial=True).run_validation({"sets_done": 1}) == {
        "sets_done": 1
    }


@pytest.mark.parametrize(
    "serializer_class",
    [
        type(
            "WithValidate",
            (common_serializers.PlainValuesMixin, serializers.Serializer),
            {"n": serializers.IntegerField(), "validate": lambda self, attrs: {"n": 0}},
        ),
        type(
            "WithFieldValidator",
            (common_serializers.PlainValuesMixin, serializers.Serializer),
            {"n": serializers.IntegerField(validators=[lambda value: None])},
        ),
        type(
            "WithExplicitBound",
            (common_serializers.PlainValuesMixin, serializers.Serializer),
            {"n": serializers.IntegerField(validators=[validators.MaxValueValidator(5)])},
        ),
        type(
            "WithSerializerValidators",
            (common_serializers.PlainValuesMixin, serializers.Serializer),
            {"n": serializers.IntegerField(), "Meta": type("Meta", (), {"validators": [print]})},
        ),
        type(
            "WithOtherField",
            (common_serializers.PlainValuesMixin, serializers.Serializer),
            {"n": serializers.IntegerField(), "day": serializers.DateField(required=False)},
        ),
    ],
)
def test_a_serializer_that_needs_drf_always_gets_it(serializer_class):
    assert common_serializers._plain_rules(serializer_class()) is None


def test_bounds_given_as_arguments_are_checked_directly():
    bounded = type(
        "Bounded",
        (common_serializers.PlainValuesMixin, serializers.Serializer),
        {"n": serializers.IntegerField(max_value=5), "s": serializers.CharField(max_length=2)},
    )
    (n, text) = common_serializers._plain_rules(bounded())
    assert (n.kind, n.high, text.kind, text.high) == ("int", 5, "str", 2)
    with pytest.raises(serializers.ValidationError):
        bounded().run_validation({"n": 6, "s": "ok"})
    assert bounded().run_validation({"n": 5, "s": "ok"}) == {"n": 5, "s": "ok"}


def test_the_rules_keep_no_serializer_alive():
    """Rules are read once per class; they must not pin the first request's serializer (its
    data and context) for the life of the process."""
    import gc
    import weakref

    entry = ExerciseEntryInputSerializer()
    common_serializers._PLAIN_RULES.pop(ExerciseEntryInputSerializer, None)
    entry.run_validation({"prescribed_exercise": 1})
    assert common_serializers._PLAIN_RULES[ExerciseEntryInputSerializer] is not None
    alive = weakref.ref(entry)
    del entry
    gc.collect()
    assert alive() is None
