"""Outcome-measure instruments and their scoring.

Pure Python: no Django, no database, no file access at runtime. Everything here is a
plain value, so it can be used from models, serializers, services and tests alike.

Instruments
-----------
- ``nprs``    Numeric Pain Rating Scale: one item 0-10, score = value, lower is better.
- ``lefs``    Lower Extremity Functional Scale: 20 items 0-4, score = sum 0-80.
- ``psfs``    Patient-Specific Functional Scale: 3-5 activities the patient names, each
              rated 0-10, score = mean of the ratings (2 decimals).
- ``hoos_jr`` HOOS, JR. (hip): 6 items 0-4, raw sum 0-24 converted to an interval score
              0-100 through a Rasch-based table (NOT linear).
- ``koos_jr`` KOOS, JR. (knee): 7 items 0-4, raw sum 0-28 converted the same way.

Item wording and answer labels are written for Stride; only the item topics and the
published numbers (ranges, conversion tables, change thresholds) are carried over.
The Oxford Hip Score is licensed and deliberately not included.

Versioning
----------
Each instrument has a version string (``INSTRUMENT_VERSION[code]``). Store it with every
response together with the raw answers, the raw sum and the score, so a score can be
recomputed later. Bump the version whenever the items, the answer scale or the scoring of
that instrument change.

Scores support clinical judgement; they do not replace it.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Final

__all__ = [
    "HOOS_JR_INTERVAL_SCORES",
    "INSTRUMENTS",
    "INSTRUMENT_VERSION",
    "KOOS_JR_INTERVAL_SCORES",
    "NON_FIELD_ERRORS",
    "PSFS_ACTIVITY_NAME_MAX_LENGTH",
    "AnswerError",
    "AnswerOption",
    "Instrument",
    "Item",
    "ScoreChange",
    "ScoreResult",
    "ScoringMethod",
    "UnknownInstrumentError",
    "get_instrument",
    "instrument_as_dict",
    "is_worse_by_mcid",
    "score",
    "score_change",
    "validate_answers",
]

# --------------------------------------------------------------------------------------
# Constants
# --------------------------------------------------------------------------------------

#: Version of each instrument definition (items, answer scale and scoring).
INSTRUMENT_VERSION: Final[Mapping[str, str]] = MappingProxyType(
    {
        "nprs": "1.0",
        "hoos_jr": "1.0",
        "koos_jr": "1.0",
        "lefs": "1.0",
        "psfs": "1.0",
    }
)

#: Key used in ``AnswerError.errors`` for problems not tied to a single field.
NON_FIELD_ERRORS: Final = "__all__"

#: Longest activity name accepted for the PSFS.
PSFS_ACTIVITY_NAME_MAX_LENGTH: Final = 120

# HOOS, JR. interval score (0-100) indexed by raw sum 0..24 (Hospital for Special Surgery
# conversion table, Rasch-based). 100 = no hip problems, 0 = extreme problems.
HOOS_JR_INTERVAL_SCORES: Final[tuple[float, ...]] = (
    100.000, 92.340, 85.257, 80.550, 76.776, 73.472, 70.426, 67.516, 64.664, 61.815,
    58.930, 55.985, 52.965, 49.858, 46.652, 43.335, 39.902, 36.363, 32.735, 29.009,
    25.103, 20.805, 15.633, 8.104, 0.000,
)  # fmt: skip

# KOOS, JR. interval score (0-100) indexed by raw sum 0..28 (same source and method).
KOOS_JR_INTERVAL_SCORES: Final[tuple[float, ...]] = (
    100.000, 91.975, 84.600, 79.914, 76.332, 73.342, 70.704, 68.284, 65.994, 63.776,
    61.583, 59.381, 57.140, 54.840, 52.465, 50.012, 47.487, 44.905, 42.281, 39.625,
    36.931, 34.174, 31.307, 28.251, 24.875, 20.941, 15.939, 8.291, 0.000,
)  # fmt: skip

# Tolerance for float comparisons against change thresholds (e.g. 3 - 2.1 vs 0.9).
_EPSILON: Final = 1e-9
# Decimals kept for deltas and thresholds (scores have at most 3 decimals).
_DELTA_DECIMALS: Final = 6


# --------------------------------------------------------------------------------------
# Data types
# --------------------------------------------------------------------------------------


class ScoringMethod(StrEnum):
    """How item answers turn into a score."""

    VALUE = "value"  # single item, score = the answer
    SUM = "sum"  # score = sum of the items
    MEAN = "mean"  # score = mean of the (free-named) items, 2 decimals
    TABLE = "table"  # score = conversion table indexed by the raw sum


@dataclass(frozen=True, slots=True)
class AnswerOption:
    """One allowed answer to an item."""

    value: int
    label: str


@dataclass(frozen=True, slots=True)
class Item:
    """One fixed question of an instrument."""

    key: str
    text: str
    options: tuple[AnswerOption, ...]


@dataclass(frozen=True, slots=True)
class Instrument:
    """Definition of an outcome measure.

    ``items`` is empty for instruments whose items are named by the patient (PSFS); for
    those, ``min_items``/``max_items`` bound how many activities are rated and
    ``rating_options`` lists the allowed ratings.
    """

    code: str
    name: str
    version: str
    description: str
    items: tuple[Item, ...]
    min_items: int
    max_items: int
    item_min: int
    item_max: int
    score_min: float
    score_max: float
    higher_is_better: bool
    mcid: float
    mcid_percent: float | None
    pass_threshold: float | None
    scoring: ScoringMethod
    instructions: str = ""
    score_table: tuple[float, ...] | None = None
    rating_options: tuple[AnswerOption, ...] = field(default=())
    mcid_single_item: float | None = None

    @property
    def free_named_items(self) -> bool:
        """True when the patient names the items (PSFS) instead of answering fixed ones."""
        return not self.items

    @property
    def item_keys(self) -> tuple[str, ...]:
        return tuple(item.key for item in self.items)


@dataclass(frozen=True, slots=True)
class ScoreResult:
    """Result of scoring one response. ``version`` is the instrument version used."""

    raw: float
    score: float
    version: str


@dataclass(frozen=True, slots=True)
class ScoreChange:
    """Change between two scores of the same instrument.

    ``delta`` is ``current - baseline``. ``improved`` respects the instrument's direction
    (for NPRS a drop is an improvement). ``meaningful`` is True when the size of the change,
    in either direction, reaches ``threshold`` (the minimal clinically important difference
    that applies to this baseline).
    """

    delta: float
    improved: bool
    meaningful: bool
    threshold: float

    @property
    def worsened(self) -> bool:
        return self.delta != 0 and not self.improved


class AnswerError(ValueError):
    """Answers failed validation.

    ``errors`` maps a field key (an item key such as ``"q3"``, ``"pain"``,
    ``"activities"``, ``"activities.1.rating"``, ``"instrument"`` or
    :data:`NON_FIELD_ERRORS`) to human-readable messages.
    """

    def __init__(self, errors: Mapping[str, list[str]]) -> None:
        self.errors: dict[str, list[str]] = {key: list(msgs) for key, msgs in errors.items()}
        summary = "; ".join(f"{key}: {' '.join(msgs)}" for key, msgs in self.errors.items())
        super().__init__(summary or "Invalid answers.")


class UnknownInstrumentError(AnswerError):
    """The instrument code is not one Stride scores."""

    def __init__(self, code: object) -> None:
        self.code = code
        known = ", ".join(sorted(INSTRUMENTS))
        super().__init__({"instrument": [f"Unknown instrument {code!r}. Choose one of: {known}."]})


# --------------------------------------------------------------------------------------
# Instrument definitions
# --------------------------------------------------------------------------------------

_SEVERITY_OPTIONS: Final = (
    AnswerOption(0, "None"),
    AnswerOption(1, "Mild"),
    AnswerOption(2, "Moderate"),
    AnswerOption(3, "Severe"),
    AnswerOption(4, "Extreme"),
)

_LEFS_OPTIONS: Final = (
    AnswerOption(0, "Extremely difficult, or I can't do it"),
    AnswerOption(1, "A lot of difficulty"),
    AnswerOption(2, "Some difficulty"),
    AnswerOption(3, "A little difficulty"),
    AnswerOption(4, "No difficulty at all"),
)

_NPRS_OPTIONS: Final = tuple(
    AnswerOption(
        value,
        {0: "0 - No pain at all", 10: "10 - The worst pain I can imagine"}.get(value, str(value)),
    )
    for value in range(11)
)

_PSFS_OPTIONS: Final = tuple(
    AnswerOption(
        value,
        {
            0: "0 - I can't do this activity",
            10: "10 - I can do it as well as before my problem started",
        }.get(value, str(value)),
    )
    for value in range(11)
)


def _items(texts: tuple[str, ...], options: tuple[AnswerOption, ...]) -> tuple[Item, ...]:
    return tuple(Item(f"q{n}", text, options) for n, text in enumerate(texts, start=1))


_HOOS_JR_TEXTS: Final = (
    # Items 1-2 ask about pain, items 3-6 about difficulty (function).
    "During the past week, how much hip pain did you have going up or down stairs?",
    "During the past week, how much hip pain did you have walking on uneven ground?",
    "During the past week, how much difficulty did your hip give you getting up from a chair "
    "or other seat?",
    "During the past week, how much difficulty did your hip give you bending down to the "
    "floor or picking something up?",
    "During the past week, how much difficulty did your hip give you lying in bed, for "
    "example turning over or holding your hip in one position?",
    "During the past week, how much difficulty did your hip give you while sitting?",
)

_KOOS_JR_TEXTS: Final = (
    # Item 1 asks about stiffness, items 2-5 about pain, items 6-7 about function.
    "During the past week, how stiff was your knee when you first woke up in the morning?",
    "During the past week, how much knee pain did you have twisting or pivoting on your knee?",
    "During the past week, how much knee pain did you have straightening your knee all the way?",
    "During the past week, how much knee pain did you have going up or down stairs?",
    "During the past week, how much knee pain did you have standing up straight?",
    "During the past week, how much difficulty did your knee give you getting up from a chair "
    "or other seat?",
    "During the past week, how much difficulty did your knee give you bending down to the "
    "floor or picking something up?",
)

_LEFS_TEXTS: Final = (
    "Your everyday work, housework or school tasks",
    "Your usual hobbies, leisure activities or sport",
    "Climbing into or out of the bath",
    "Walking from one room to another",
    "Putting on your shoes or socks",
    "Squatting down",
    "Lifting something like a bag of shopping off the floor",
    "Light jobs around the house",
    "Heavy jobs around the house",
    "Getting into or out of a car",
    "Walking about two blocks",
    "Walking about a mile (1.6 km)",
    "Going up or down about ten stairs (one flight)",
    "Standing for an hour",
    "Sitting for an hour",
    "Running on flat, even ground",
    "Running on rough or uneven ground",
    "Changing direction sharply while running fast",
    "Hopping",
    "Turning over in bed",
)

INSTRUMENTS: dict[str, Instrument] = {
    "nprs": Instrument(
        code="nprs",
        name="Numeric Pain Rating Scale (NPRS)",
        version=INSTRUMENT_VERSION["nprs"],
        description=(
            "A single 0-10 rating of pain intensity. Lower is better. A drop of 2 points, "
            "or of 30% from the starting level, is usually taken as a change that matters."
        ),
        items=(
            Item(
                "pain",
                "How strong is your pain right now, from 0 (no pain at all) to 10 "
                "(the worst pain you can imagine)?",
                _NPRS_OPTIONS,
            ),
        ),
        min_items=1,
        max_items=1,
        item_min=0,
        item_max=10,
        score_min=0.0,
        score_max=10.0,
        higher_is_better=False,
        mcid=2.0,  # Farrar 2001
        mcid_percent=30.0,
        pass_threshold=None,
        scoring=ScoringMethod.VALUE,
        instructions="Pick the number that best matches your pain.",
    ),
    "hoos_jr": Instrument(
        code="hoos_jr",
        name="HOOS, JR. (Hip disability and Osteoarthritis Outcome Score, Joint Replacement)",
        version=INSTRUMENT_VERSION["hoos_jr"],
        description=(
            "Six questions about hip pain and function over the past week. The raw total "
            "(0-24) is converted with a published table to a score from 0 (extreme problems) "
            "to 100 (no problems). Every question must be answered."
        ),
        items=_items(_HOOS_JR_TEXTS, _SEVERITY_OPTIONS),
        min_items=6,
        max_items=6,
        item_min=0,
        item_max=4,
        score_min=0.0,
        score_max=100.0,
        higher_is_better=True,
        # Distribution-based MCID is about 8: 7.76 in osteoarthritis, 8.46 in
        # non-osteoarthritis groups. Stride uses 8 for both.
        mcid=8.0,
        mcid_percent=None,
        pass_threshold=76.7,  # patient acceptable symptom state
        scoring=ScoringMethod.TABLE,
        instructions="Think about your hip over the past week and choose one answer per question.",
        score_table=HOOS_JR_INTERVAL_SCORES,
    ),
    "koos_jr": Instrument(
        code="koos_jr",
        name="KOOS, JR. (Knee injury and Osteoarthritis Outcome Score, Joint Replacement)",
        version=INSTRUMENT_VERSION["koos_jr"],
        description=(
            "Seven questions about knee stiffness, pain and function over the past week. The "
            "raw total (0-28) is converted with a published table to a score from 0 (extreme "
            "problems) to 100 (no problems). Every question must be answered."
        ),
        items=_items(_KOOS_JR_TEXTS, _SEVERITY_OPTIONS),
        min_items=7,
        max_items=7,
        item_min=0,
        item_max=4,
        score_min=0.0,
        score_max=100.0,
        higher_is_better=True,
        mcid=6.8,  # reported MCID
        mcid_percent=None,
        pass_threshold=63.7,  # patient acceptable symptom state
        scoring=ScoringMethod.TABLE,
        instructions="Think about your knee over the past week and choose one answer per question.",
        score_table=KOOS_JR_INTERVAL_SCORES,
    ),
    "lefs": Instrument(
        code="lefs",
        name="Lower Extremity Functional Scale (LEFS)",
        version=INSTRUMENT_VERSION["lefs"],
        description=(
            "Twenty everyday and sporting activities, each rated from 0 (extremely difficult "
            "or impossible) to 4 (no difficulty). The score is the total, 0-80; higher is "
            "better. A change of 9 points is usually taken as one that matters."
        ),
        items=_items(_LEFS_TEXTS, _LEFS_OPTIONS),
        min_items=20,
        max_items=20,
        item_min=0,
        item_max=4,
        score_min=0.0,
        score_max=80.0,
        higher_is_better=True,
        mcid=9.0,  # Binkley 1999
        mcid_percent=None,
        pass_threshold=None,
        scoring=ScoringMethod.SUM,
        instructions="Because of your hip or leg problem, how hard is each of these for you today?",
    ),
    "psfs": Instrument(
        code="psfs",
        name="Patient-Specific Functional Scale (PSFS)",
        version=INSTRUMENT_VERSION["psfs"],
        description=(
            "The patient names 3 to 5 activities that their problem makes hard and rates "
            "each from 0 (can't do it) to 10 (as well as before). The score is the average "
            "rating; higher is better. A change of 2 points in the average, or 3 points on "
            "one activity, is usually taken as one that matters."
        ),
        items=(),
        min_items=3,
        max_items=5,
        item_min=0,
        item_max=10,
        score_min=0.0,
        score_max=10.0,
        higher_is_better=True,
        mcid=2.0,  # Stratford 1995, on the mean
        mcid_percent=None,
        pass_threshold=None,
        scoring=ScoringMethod.MEAN,
        instructions="List 3 to 5 activities you find hard or can't do because of your "
        "problem, and rate how well you can do each one today.",
        rating_options=_PSFS_OPTIONS,
        mcid_single_item=3.0,
    ),
}


def _check_definitions() -> None:
    """Fail at import if a definition is internally inconsistent."""
    for code, inst in INSTRUMENTS.items():
        if code != inst.code or inst.version != INSTRUMENT_VERSION[code]:
            raise RuntimeError(f"instrument {code!r}: code or version mismatch")
        expected = tuple(range(inst.item_min, inst.item_max + 1))
        option_sets = [item.options for item in inst.items] or [inst.rating_options]
        for options in option_sets:
            if tuple(opt.value for opt in options) != expected:
                raise RuntimeError(f"instrument {code!r}: options do not cover the item range")
        if inst.items and not inst.min_items == inst.max_items == len(inst.items):
            raise RuntimeError(f"instrument {code!r}: item counts do not match the items")
        if inst.scoring is ScoringMethod.TABLE:
            table = inst.score_table
            if table is None or len(table) != len(inst.items) * inst.item_max + 1:
                raise RuntimeError(f"instrument {code!r}: conversion table has the wrong size")
            if any(later >= earlier for earlier, later in itertools.pairwise(table)):
                raise RuntimeError(f"instrument {code!r}: conversion table must decrease")


_check_definitions()


# --------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------

_MSG_REQUIRED: Final = "This question must be answered."


def get_instrument(code: object) -> Instrument:
    """Return the instrument for ``code`` or raise :class:`UnknownInstrumentError`."""
    if not isinstance(code, str) or code not in INSTRUMENTS:
        raise UnknownInstrumentError(code)
    return INSTRUMENTS[code]


def _rating_error(value: object, low: int, high: int) -> str | None:
    """Return a message if ``value`` is not an integer within ``low..high``, else None."""
    if isinstance(value, bool):
        return f"Enter a whole number from {low} to {high}, not true or false."
    if not isinstance(value, int):
        return f"Enter a whole number from {low} to {high}."
    if not low <= value <= high:
        return f"Enter a number from {low} to {high}; {value} is out of range."
    return None


def _add(errors: dict[str, list[str]], key: str, message: str) -> None:
    errors.setdefault(key, []).append(message)


def _validate_fixed_items(inst: Instrument, answers: Mapping[Any, Any]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for item in inst.items:
        value = answers.get(item.key)
        if value is None:
            _add(errors, item.key, _MSG_REQUIRED)
            continue
        message = _rating_error(value, inst.item_min, inst.item_max)
        if message:
            _add(errors, item.key, message)
    known = set(inst.item_keys)
    for key in answers:
        if key not in known:
            _add(errors, str(key), "This is not a question of this questionnaire.")
    return errors


def _validate_activities(inst: Instrument, answers: Mapping[Any, Any]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for key in answers:
        if key != "activities":
            _add(errors, str(key), "This is not part of this questionnaire.")

    activities = answers.get("activities")
    if activities is None:
        _add(errors, "activities", f"List {inst.min_items} to {inst.max_items} activities.")
        return errors
    if not isinstance(activities, list | tuple):
        _add(errors, "activities", "Activities must be a list.")
        return errors
    if not inst.min_items <= len(activities) <= inst.max_items:
        _add(
            errors,
            "activities",
            f"List {inst.min_items} to {inst.max_items} activities; {len(activities)} given.",
        )

    seen: set[str] = set()
    for index, activity in enumerate(activities):
        prefix = f"activities.{index}"
        if not isinstance(activity, Mapping):
            _add(errors, prefix, "Each activity needs a name and a rating.")
            continue
        for key in activity:
            if key not in ("name", "rating"):
                _add(errors, f"{prefix}.{key}", "This is not part of an activity.")

        name = activity.get("name")
        if name is None:
            _add(errors, f"{prefix}.name", "Name the activity.")
        elif not isinstance(name, str):
            _add(errors, f"{prefix}.name", "The activity name must be text.")
        else:
            cleaned = name.strip()
            if not cleaned:
                _add(errors, f"{prefix}.name", "Name the activity.")
            elif len(cleaned) > PSFS_ACTIVITY_NAME_MAX_LENGTH:
                _add(
                    errors,
                    f"{prefix}.name",
                    f"Keep the activity name to {PSFS_ACTIVITY_NAME_MAX_LENGTH} characters "
                    f"or fewer (it has {len(cleaned)}).",
                )
            elif cleaned.casefold() in seen:
                _add(errors, f"{prefix}.name", "This activity is already listed.")
            else:
                seen.add(cleaned.casefold())

        rating = activity.get("rating")
        if rating is None:
            _add(errors, f"{prefix}.rating", _MSG_REQUIRED)
        else:
            message = _rating_error(rating, inst.item_min, inst.item_max)
            if message:
                _add(errors, f"{prefix}.rating", message)
    return errors


def validate_answers(code: str, answers: object) -> None:
    """Check ``answers`` for instrument ``code``; raise :class:`AnswerError` if invalid.

    Fixed-item instruments expect ``{"q1": 0, ...}`` (``{"pain": 3}`` for NPRS): every item
    answered with an integer in the item range, no other keys. The PSFS expects
    ``{"activities": [{"name": "Climbing stairs", "rating": 4}, ...]}`` with 3 to 5
    activities, each with a name of 1-120 characters and an integer rating 0-10.
    Booleans and floats (even ``3.0``) are rejected.
    """
    inst = get_instrument(code)
    if not isinstance(answers, Mapping):
        raise AnswerError({NON_FIELD_ERRORS: ["Answers must be an object of question: answer."]})
    if inst.free_named_items:
        errors = _validate_activities(inst, answers)
    else:
        errors = _validate_fixed_items(inst, answers)
    if errors:
        raise AnswerError(errors)


# --------------------------------------------------------------------------------------
# Scoring
# --------------------------------------------------------------------------------------


def score(code: str, answers: object) -> ScoreResult:
    """Validate and score ``answers`` for instrument ``code``.

    - NPRS: raw = score = the pain rating.
    - LEFS: raw = score = sum of the 20 items (0-80).
    - PSFS: raw = sum of the activity ratings; score = their mean, rounded to 2 decimals.
    - HOOS JR / KOOS JR: raw = sum of the items; score = conversion table[raw].

    Raises :class:`AnswerError` (or its subclass :class:`UnknownInstrumentError`).
    """
    validate_answers(code, answers)
    inst = INSTRUMENTS[code]
    assert isinstance(answers, Mapping)  # guaranteed by validate_answers

    if inst.free_named_items:
        ratings = [int(activity["rating"]) for activity in answers["activities"]]
        raw = sum(ratings)
        return ScoreResult(raw=float(raw), score=round(raw / len(ratings), 2), version=inst.version)

    raw = sum(int(answers[key]) for key in inst.item_keys)
    if inst.scoring is ScoringMethod.TABLE:
        assert inst.score_table is not None  # checked at import
        value = inst.score_table[raw]
    else:  # VALUE and SUM: the score is the total itself
        value = float(raw)
    return ScoreResult(raw=float(raw), score=value, version=inst.version)


# --------------------------------------------------------------------------------------
# Change over time
# --------------------------------------------------------------------------------------


def _check_score(inst: Instrument, name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number, got {value!r}.")
    number = float(value)
    if not math.isfinite(number) or not inst.score_min <= number <= inst.score_max:
        raise ValueError(
            f"{name} {value!r} is outside the {inst.code} score range "
            f"{inst.score_min:g}-{inst.score_max:g}."
        )
    return number


def _threshold(inst: Instrument, baseline: float) -> float:
    """Smallest change (in score points) that counts as meaningful from ``baseline``."""
    threshold = inst.mcid
    if inst.mcid_percent is not None and baseline > 0:
        # NPRS: 2 points OR 30% of the baseline, whichever is reached first.
        threshold = min(threshold, baseline * inst.mcid_percent / 100)
    return round(threshold, _DELTA_DECIMALS)


def score_change(code: str, baseline: float, current: float) -> ScoreChange:
    """Compare two scores of instrument ``code``.

    ``improved`` follows the instrument's direction (for NPRS a lower score is better; no
    change is not an improvement). ``meaningful`` is True when the change, in either
    direction, is at least the instrument's MCID: NPRS 2 points or 30% of a non-zero
    baseline; LEFS 9; PSFS 2 (on the mean); HOOS JR 8; KOOS JR 6.8.

    Raises :class:`UnknownInstrumentError` for an unknown code and ``ValueError`` for a
    score that is not a finite number within the instrument's score range.
    """
    inst = get_instrument(code)
    base = _check_score(inst, "baseline", baseline)
    now = _check_score(inst, "current", current)
    delta = round(now - base, _DELTA_DECIMALS) + 0.0  # "+ 0.0" normalises -0.0
    improved = delta > 0 if inst.higher_is_better else delta < 0
    threshold = _threshold(inst, base)
    meaningful = delta != 0 and abs(delta) >= threshold - _EPSILON
    return ScoreChange(delta=delta, improved=improved, meaningful=meaningful, threshold=threshold)


def is_worse_by_mcid(code: str, baseline: float, current: float) -> bool:
    """True when ``current`` is worse than ``baseline`` by at least the MCID."""
    change = score_change(code, baseline, current)
    return change.meaningful and change.worsened


# --------------------------------------------------------------------------------------
# Serialisation
# --------------------------------------------------------------------------------------


def _options_as_list(options: tuple[AnswerOption, ...]) -> list[dict[str, Any]]:
    return [{"value": opt.value, "label": opt.label} for opt in options]


def instrument_as_dict(code: str) -> dict[str, Any]:
    """JSON-serialisable definition of instrument ``code`` for the API.

    ``response_format`` is ``"items"`` (answer each item by key) or ``"activities"``
    (PSFS: the ``activity`` entry describes the list of named, rated activities).
    """
    inst = get_instrument(code)
    data: dict[str, Any] = {
        "code": inst.code,
        "name": inst.name,
        "version": inst.version,
        "description": inst.description,
        "instructions": inst.instructions,
        "response_format": "activities" if inst.free_named_items else "items",
        "items": [
            {"key": item.key, "text": item.text, "options": _options_as_list(item.options)}
            for item in inst.items
        ],
        "min_items": inst.min_items,
        "max_items": inst.max_items,
        "item_min": inst.item_min,
        "item_max": inst.item_max,
        "score_min": inst.score_min,
        "score_max": inst.score_max,
        "scoring": str(inst.scoring),
        "higher_is_better": inst.higher_is_better,
        "mcid": inst.mcid,
        "mcid_percent": inst.mcid_percent,
        "mcid_single_item": inst.mcid_single_item,
        "pass_threshold": inst.pass_threshold,
    }
    if inst.free_named_items:
        data["activity"] = {
            "name_min_length": 1,
            "name_max_length": PSFS_ACTIVITY_NAME_MAX_LENGTH,
            "rating_options": _options_as_list(inst.rating_options),
        }
    return data
