"""Output serializers shared by the patient and the therapist endpoints (names are stable).

Session logs, check-ins, outcome measures and the progress summary have one shape whoever
reads them: the patient's app (`me/...`) and the therapist's tools (`patients/{id}/...`).
"""

import copy
import datetime as dt
from typing import Any, NamedTuple

from django.core import validators
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers
from rest_framework.validators import ProhibitSurrogateCharactersValidator

from api.errors import ErrorSerializer
from patients.models import CheckIn, MeasureResponse
from patients.precautions import PRECAUTION_LABELS
from programs.models import Exercise, ExerciseLog, PrescribedExercise, SessionLog

ERROR_DESCRIPTIONS = {
    400: "Invalid input: `errors` maps each field (dotted path for nested items) to messages.",
    401: "Missing, invalid or expired access token.",
    403: "The caller may not use this endpoint.",
    404: "No such object (or not visible to the caller), or an invalid page cursor.",
    409: "Conflict with the current state.",
    413: "The request body is too large.",
    429: "Too many requests: wait for the number of seconds in `Retry-After`.",
}


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    """`responses=` entries for `@extend_schema`, all in the one error shape."""
    return {
        code: OpenApiResponse(ErrorSerializer, description=ERROR_DESCRIPTIONS[code])
        for code in codes
    }


class CopiedFieldsMixin:
    """Declared plain fields are copied for each serializer instead of rebuilt.

    DRF deep-copies a serializer's declared fields for every instance, and deep-copying a
    field constructs it again: an `IntegerField` with bounds builds its two validators anew,
    and so on. For the session upload (14 fields, 5 entries) that was a third of validation.
    A shallow copy suffices for a plain field: it is bound to its new parent when the
    serializer binds it, and its validators and messages are only read. Nested serializers
    are still deep-copied (they hold fields of their own), as DRF does.
    """

    def get_fields(self) -> dict[str, serializers.Field]:
        return {
            name: copy.deepcopy(field)
            if isinstance(field, serializers.BaseSerializer)
            else _copied(field)
            for name, field in self._declared_fields.items()
        }


def _copied(field: serializers.Field) -> serializers.Field:
    copied = copy.copy(field)
    if "_validators" in vars(copied):  # a list DRF may append to: each copy its own
        copied._validators = list(copied._validators)
    return copied


class PlainRule(NamedTuple):
    """What a field's value must be for `PlainValuesMixin` to take it as it is: read from the
    field once (its kind, bounds, default and blank setting), holding no reference to it."""

    name: str
    kind: str  # int, bool, str
    required: bool
    default: Any  # serializers.empty: none
    low: int | None  # min_value, or min_length for text
    high: int | None  # max_value, or max_length for text
    allow_blank: bool

    def takes(self, value: Any) -> bool:
        """Is `value` already what the field would validate it into (and valid)?"""
        if self.kind == "int":
            if type(value) is not int:
                return False
            size = value
        elif self.kind == "bool":
            return type(value) is bool
        else:
            if not (
                type(value) is str
                and value.isascii()  # no surrogates to refuse
                and "\x00" not in value
                and value == value.strip()
                and (value or self.allow_blank)
            ):
                return False
            size = len(value)
        return (self.low is None or size >= self.low) and (self.high is None or size <= self.high)


# The validators DRF itself gives a plain field for its bounds (each checked to be the field's
# own: a validator passed explicitly, with other limits, makes the field DRF's).
_BOUND_VALIDATORS = {
    validators.MinValueValidator: "min_value",
    validators.MaxValueValidator: "max_value",
    validators.MinLengthValidator: "min_length",
    validators.MaxLengthValidator: "max_length",
}
_CHECKED_VALIDATORS = (
    validators.ProhibitNullCharactersValidator,
    ProhibitSurrogateCharactersValidator,
)


def _plain_rule(name: str, field: serializers.Field) -> PlainRule | None:
    """The field's rule, or None when `PlainValuesMixin` cannot check it itself."""
    default = field.default
    if field.read_only or field.source != name:
        return None
    if default is not serializers.empty and callable(default):  # (`empty` is a class)
        return None
    for validator in field.validators:
        attribute = _BOUND_VALIDATORS.get(type(validator))
        if attribute is not None:
            if validator.limit_value != getattr(field, attribute, None):
                return None
        elif not isinstance(validator, _CHECKED_VALIDATORS):
            return None
    kind = {
        serializers.IntegerField: "int",
        serializers.BooleanField: "bool",
        serializers.CharField: "str",
    }.get(type(field))
    if kind is None or (kind == "str" and not field.trim_whitespace):
        return None
    low, high = (
        (field.min_length, field.max_length)
        if kind == "str"
        else (getattr(field, "min_value", None), getattr(field, "max_value", None))
    )
    allow_blank = getattr(field, "allow_blank", False)
    return PlainRule(name, kind, field.required, default, low, high, allow_blank)


class PlainValuesMixin:
    """A serializer of plain fields validates an already-plain input without DRF's machinery.

    The session upload validates each of its exercise entries with this serializer: six fields
    each, in DRF a `get_value`, `run_validation` and validators per field, about a sixth of the
    upload's CPU for five entries. When every field is a plain integer, boolean or text field
    and the input holds values that are already what DRF would make of them (an `int` within
    bounds, a `bool`, trimmed ASCII text within length) or leaves them out for their default,
    the result is built directly; anything else (a number as text, a null, an unknown type, a
    value out of bounds, a missing required field) goes through DRF as before, so errors are
    DRF's own. Unknown keys are ignored, as DRF does. A serializer with a `validate` method,
    serializer-level validators, or any other kind of field always goes through DRF. The
    rules are read once per class: for serializers whose fields do not depend on their
    context. A property test holds the result equal to DRF's for generated valid and invalid
    inputs.
    """

    def run_validation(self, data: Any = serializers.empty) -> Any:
        cls = type(self)
        rules = _PLAIN_RULES[cls] if cls in _PLAIN_RULES else _plain_rules(self)
        plain = (
            rules is not None
            and type(data) is dict
            and "_validators" not in vars(self)  # no validators given to this instance
            and not getattr(self.root, "partial", False)  # a partial update has no defaults
        )
        if plain:
            result = {}
            for rule in rules:  # type: ignore[union-attr]
                if rule.name in data:
                    value = data[rule.name]
                    if not rule.takes(value):
                        break
                    result[rule.name] = value
                elif rule.default is not serializers.empty:
                    result[rule.name] = rule.default
                elif rule.required:
                    break
            else:
                return result
        return super().run_validation(data)  # type: ignore[misc]


_PLAIN_RULES: dict[type, tuple[PlainRule, ...] | None] = {}


def _plain_rules(serializer: Any) -> tuple[PlainRule, ...] | None:
    """The rules of a serializer's class, read from this instance's fields and kept for the
    class; None when one of its fields, a `validate` method or a validator needs DRF."""
    cls, fields = type(serializer), serializer.fields
    rules: list[PlainRule] | None = None
    if not (
        cls.validate is not serializers.Serializer.validate
        or any(hasattr(cls, f"validate_{name}") for name in fields)
        or serializer.get_validators()
    ):
        rules = []
        for name, field in fields.items():
            rule = _plain_rule(name, field)
            if rule is None:
                rules = None
                break
            rules.append(rule)
    _PLAIN_RULES[cls] = tuple(rules) if rules is not None else None
    return _PLAIN_RULES[cls]


class AwareDateTimeField(serializers.DateTimeField):
    """An ISO 8601 date-time that must carry its UTC offset (`Z` or `+02:00`).

    A time without an offset is ambiguous for a patient who travels, so it is refused
    rather than guessed.
    """

    default_error_messages = {
        "naive": "Give the time with its UTC offset, e.g. 2025-03-01T18:30:00+01:00.",
        "out_of_range": "Give a date-time between the years 1900 and 2999.",
    }

    def to_internal_value(self, value: Any) -> dt.datetime:
        moment = super().to_internal_value(value)  # rejects what is not a date-time at all
        # Near the calendar's ends, converting to the patient's time zone overflows (a 500).
        if not 1900 <= moment.year <= 2999:
            self.fail("out_of_range")
        if isinstance(value, str):
            parsed = parse_datetime(value.strip())
            if parsed is not None and timezone.is_naive(parsed):
                self.fail("naive")
        elif isinstance(value, dt.datetime) and timezone.is_naive(value):
            self.fail("naive")
        return moment


class PrecautionSerializer(serializers.Serializer):
    tag = serializers.CharField()
    label = serializers.CharField()


def precautions_as_list(tags: list[str]) -> list[dict[str, str]]:
    return [{"tag": tag, "label": PRECAUTION_LABELS.get(tag, tag)} for tag in tags]


class ExerciseOutputSerializer(serializers.ModelSerializer):
    """An exercise as the patient sees it: what to do and how."""

    class Meta:
        model = Exercise
        fields = [
            "id",
            "slug",
            "name",
            "category",
            "instructions",
            "cues",
            "per_side",
            "equipment",
        ]
        read_only_fields = fields


class PrescribedExerciseOutputSerializer(serializers.ModelSerializer):
    """One exercise of a program with the dosage prescribed to this patient."""

    exercise = ExerciseOutputSerializer(read_only=True)

    class Meta:
        model = PrescribedExercise
        fields = ["id", "exercise", "order", "sets", "reps", "hold_seconds", "notes"]
        read_only_fields = fields


class ExerciseLogOutputSerializer(serializers.ModelSerializer):
    prescribed_exercise = serializers.IntegerField(source="prescribed_exercise_id")
    exercise_slug = serializers.CharField(source="prescribed_exercise.exercise.slug")
    exercise_name = serializers.CharField(source="prescribed_exercise.exercise.name")

    class Meta:
        model = ExerciseLog
        fields = [
            "prescribed_exercise",
            "exercise_slug",
            "exercise_name",
            "sets_done",
            "reps_done",
            "hold_seconds_done",
            "completed",
            "skipped_reason",
        ]
        read_only_fields = fields


class SessionLogOutputSerializer(serializers.ModelSerializer):
    """A stored session. Querysets should prefetch `entries` with
    `prescribed_exercise__exercise` (see `programs.selectors.patient_sessions`).
    """

    prescription = serializers.IntegerField(source="prescription_id")
    phase = serializers.IntegerField(source="phase_id", allow_null=True)
    local_date = serializers.DateField(help_text="The day in the patient's time zone.")
    exercises = ExerciseLogOutputSerializer(source="entries", many=True, read_only=True)

    class Meta:
        model = SessionLog
        fields = [
            "id",
            "client_id",
            "prescription",
            "phase",
            "performed_at",
            "local_date",
            "pain_before",
            "pain_after",
            "difficulty",
            "duration_minutes",
            "notes",
            "source",
            "created_at",
            "exercises",
        ]
        read_only_fields = fields

    def to_representation(self, instance: SessionLog) -> dict[str, Any]:
        """The declared fields, rendered directly.

        A session upload's answer and every page of the session list render through here;
        DRF's field-by-field rendering (a `get_attribute` and a `to_representation` per value,
        ~60 values with the entries) was ~10% of an upload. A test checks that this equals
        DRF's own rendering (`ModelSerializer.to_representation`) for every shape of session.
        """
        return {
            "id": instance.pk,
            "client_id": str(instance.client_id),
            "prescription": instance.prescription_id,
            "phase": instance.phase_id,
            "performed_at": _DATETIME.to_representation(instance.performed_at),
            "local_date": _DATE.to_representation(instance.local_date),
            "pain_before": instance.pain_before,
            "pain_after": instance.pain_after,
            "difficulty": instance.difficulty,
            "duration_minutes": instance.duration_minutes,
            "notes": instance.notes,
            "source": instance.source,
            "created_at": _DATETIME.to_representation(instance.created_at),
            "exercises": [
                {
                    "prescribed_exercise": entry.prescribed_exercise_id,
                    "exercise_slug": entry.prescribed_exercise.exercise.slug,
                    "exercise_name": entry.prescribed_exercise.exercise.name,
                    "sets_done": entry.sets_done,
                    "reps_done": entry.reps_done,
                    "hold_seconds_done": entry.hold_seconds_done,
                    "completed": entry.completed,
                    "skipped_reason": entry.skipped_reason,
                }
                for entry in instance.entries.all()
            ],
        }


# DRF's own renderings of a datetime (in the current time zone, `Z` for UTC) and a date.
_DATETIME = serializers.DateTimeField()
_DATE = serializers.DateField()


class RedFlagSerializer(serializers.Serializer):
    key = serializers.CharField()
    text = serializers.CharField()
    urgency = serializers.ChoiceField(choices=["emergency", "urgent", "review"])
    advice = serializers.CharField()


class CheckInOutputSerializer(serializers.ModelSerializer):
    answers = serializers.DictField(child=serializers.BooleanField())
    red_flags = serializers.ListField(
        child=serializers.CharField(), help_text="Keys of the questions answered yes."
    )
    urgency = serializers.CharField(help_text="emergency, urgent, review, or empty.")

    class Meta:
        model = CheckIn
        fields = [
            "id",
            "client_id",
            "pain_now",
            "answers",
            "red_flags",
            "urgency",
            "notes",
            "created_at",
        ]
        read_only_fields = fields


class MeasureResponseOutputSerializer(serializers.ModelSerializer):
    answers = serializers.JSONField()
    raw_score = serializers.FloatField()
    score = serializers.FloatField()
    recorded_by_clinic = serializers.SerializerMethodField(
        help_text="True when clinic staff entered it; false for the patient's own submissions."
    )

    class Meta:
        model = MeasureResponse
        fields = [
            "id",
            "client_id",
            "instrument",
            "instrument_version",
            "answers",
            "raw_score",
            "score",
            "taken_at",
            "recorded_by_clinic",
            "created_at",
        ]
        read_only_fields = fields

    def get_recorded_by_clinic(self, measure: MeasureResponse) -> bool:
        """True when clinic staff entered it; the patient's own submissions have no recorder."""
        return measure.recorded_by_id is not None


# --- outcome-measure definitions -------------------------------------------------------------


class AnswerOptionSerializer(serializers.Serializer):
    value = serializers.IntegerField()
    label = serializers.CharField()


class InstrumentItemSerializer(serializers.Serializer):
    key = serializers.CharField()
    text = serializers.CharField()
    options = AnswerOptionSerializer(many=True)


class InstrumentActivitySerializer(serializers.Serializer):
    name_min_length = serializers.IntegerField()
    name_max_length = serializers.IntegerField()
    rating_options = AnswerOptionSerializer(many=True)


class InstrumentSerializer(serializers.Serializer):
    """An outcome-measure definition (`patients.instruments.instrument_as_dict`)."""

    code = serializers.CharField()
    name = serializers.CharField()
    version = serializers.CharField()
    description = serializers.CharField()
    instructions = serializers.CharField()
    response_format = serializers.ChoiceField(
        choices=["items", "activities"],
        help_text='`items`: answer each item by key ({"q1": 0, ...}); `activities` (PSFS): '
        '{"activities": [{"name": "...", "rating": 0-10}, ...]}.',
    )
    items = InstrumentItemSerializer(many=True)
    min_items = serializers.IntegerField()
    max_items = serializers.IntegerField()
    item_min = serializers.IntegerField()
    item_max = serializers.IntegerField()
    score_min = serializers.FloatField()
    score_max = serializers.FloatField()
    scoring = serializers.CharField()
    higher_is_better = serializers.BooleanField()
    mcid = serializers.FloatField()
    mcid_percent = serializers.FloatField(allow_null=True)
    mcid_single_item = serializers.FloatField(allow_null=True)
    pass_threshold = serializers.FloatField(allow_null=True)
    activity = InstrumentActivitySerializer(required=False)


# --- progress summary --------------------------------------------------------------------------

PROGRESS_WEEKS = 12
PROGRESS_PAIN_DAYS = 30


class ProgressProgramSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    status = serializers.CharField()
    start_date = serializers.DateField()
    phase_name = serializers.CharField(allow_null=True)
    weeks_since_start = serializers.IntegerField()


class ProgressWeekSerializer(serializers.Serializer):
    iso_week = serializers.CharField()
    start = serializers.DateField()
    sessions_planned = serializers.FloatField()
    sessions_done = serializers.IntegerField()
    ratio = serializers.FloatField(allow_null=True)
    complete = serializers.BooleanField(help_text="False for the week still running.")
    on_track = serializers.BooleanField(allow_null=True)


class ProgressAdherenceSerializer(serializers.Serializer):
    recent_ratio = serializers.FloatField(
        allow_null=True, help_text="Sessions done ÷ planned over the recent window (0–1)."
    )
    recent_days = serializers.IntegerField()
    recent_sessions_done = serializers.IntegerField()
    recent_sessions_planned = serializers.FloatField()
    overall_ratio = serializers.FloatField(allow_null=True)
    on_track = serializers.BooleanField(allow_null=True)
    on_track_threshold = serializers.FloatField()
    current_streak_weeks = serializers.IntegerField()
    longest_streak_weeks = serializers.IntegerField()
    weeks = ProgressWeekSerializer(many=True, help_text=f"The last {PROGRESS_WEEKS} ISO weeks.")


class PainPointSerializer(serializers.Serializer):
    day = serializers.DateField()
    value = serializers.FloatField(help_text="Mean session pain that day (after, else before).")
    rolling_mean = serializers.FloatField(help_text="7-day rolling mean.")


class ProgressPainSerializer(serializers.Serializer):
    latest = serializers.FloatField(allow_null=True)
    baseline = serializers.FloatField(allow_null=True, help_text="Mean of the first 7 days.")
    current = serializers.FloatField(allow_null=True, help_text="7-day rolling mean.")
    change_from_baseline = serializers.FloatField(allow_null=True)
    mcid_threshold = serializers.FloatField(allow_null=True)
    mcid_improved = serializers.BooleanField()
    mcid_worsened = serializers.BooleanField()
    direction = serializers.ChoiceField(
        choices=["improving", "worsening", "stable"], allow_null=True
    )
    days = PainPointSerializer(many=True, help_text=f"The last {PROGRESS_PAIN_DAYS} days.")


class ReadinessCriterionSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    met = serializers.BooleanField()


class ProgressReadinessSerializer(serializers.Serializer):
    phase_name = serializers.CharField()
    next_phase_name = serializers.CharField(allow_null=True)
    weeks_in_phase = serializers.FloatField()
    ready = serializers.BooleanField()
    criteria = ReadinessCriterionSerializer(many=True)


class ProgressMeasureSerializer(serializers.Serializer):
    instrument = serializers.CharField()
    name = serializers.CharField()
    higher_is_better = serializers.BooleanField()
    baseline = serializers.FloatField(allow_null=True)
    latest = serializers.FloatField(allow_null=True)
    mcid = serializers.FloatField()
    meaningful_change = serializers.BooleanField(allow_null=True)
    improved = serializers.BooleanField(allow_null=True)
    points = serializers.IntegerField()


class ProgressSerializer(serializers.Serializer):
    """Compact adherence and pain summary from `programs.selectors.patient_progress`.

    Build the input with `progress_summary(progress)`.
    """

    today = serializers.DateField(help_text="Today in the patient's time zone.")
    program = ProgressProgramSerializer(allow_null=True)
    adherence = ProgressAdherenceSerializer(allow_null=True)
    pain = ProgressPainSerializer()
    readiness = ProgressReadinessSerializer(allow_null=True)
    measures = ProgressMeasureSerializer(many=True)


def progress_summary(progress: Any) -> dict[str, Any]:
    """The plain data `ProgressSerializer` renders, from a `PatientProgress`."""
    prescription = progress.prescription
    today = progress.today
    program = None
    if prescription is not None:
        program = {
            "id": prescription.pk,
            "name": prescription.name,
            "status": prescription.status,
            "start_date": prescription.start_date,
            "phase_name": prescription.current_phase.name if prescription.current_phase else None,
            "weeks_since_start": max(0, (today - prescription.start_date).days // 7),
        }
    adherence = None
    if progress.adherence is not None:
        summary = progress.adherence
        adherence = {
            "recent_ratio": _round(summary.recent.ratio),
            "recent_days": (summary.recent.end - summary.recent.start).days,
            "recent_sessions_done": summary.recent.sessions_done,
            "recent_sessions_planned": summary.recent.sessions_planned,
            "overall_ratio": _round(summary.overall.ratio),
            "on_track": summary.on_track,
            "on_track_threshold": summary.on_track_threshold,
            "current_streak_weeks": summary.current_streak_weeks,
            "longest_streak_weeks": summary.longest_streak_weeks,
            "weeks": [
                {
                    "iso_week": week.iso_week,
                    "start": week.start,
                    "sessions_planned": week.sessions_planned,
                    "sessions_done": week.sessions_done,
                    "ratio": _round(week.ratio),
                    "complete": week.complete,
                    "on_track": week.on_track,
                }
                for week in summary.weeks[-PROGRESS_WEEKS:]
            ],
        }
    pain = progress.pain
    since = today - dt.timedelta(days=PROGRESS_PAIN_DAYS - 1)
    readiness = None
    if progress.readiness is not None:
        readiness = {
            "phase_name": progress.readiness.phase_name,
            "next_phase_name": progress.readiness.next_phase_name,
            "weeks_in_phase": progress.readiness.weeks_in_phase,
            "ready": progress.readiness.ready,
            "criteria": [
                {"key": c.key, "label": c.label, "met": c.met} for c in progress.readiness.criteria
            ],
        }
    measures = []
    for series in progress.measures:
        change = series.change
        measures.append(
            {
                "instrument": series.instrument,
                "name": series.name,
                "higher_is_better": series.higher_is_better,
                "baseline": series.baseline,
                "latest": series.latest,
                "mcid": series.mcid,
                "meaningful_change": change.meaningful if change else None,
                "improved": change.improved if change else None,
                "points": len(series.points),
            }
        )
    return {
        "today": today,
        "program": program,
        "adherence": adherence,
        "pain": {
            "latest": pain.latest,
            "baseline": pain.baseline,
            "current": pain.current,
            "change_from_baseline": pain.change_from_baseline,
            "mcid_threshold": pain.mcid_threshold,
            "mcid_improved": pain.mcid_improved,
            "mcid_worsened": pain.mcid_worsened,
            "direction": pain.direction,
            "days": [
                {"day": day.day, "value": day.value, "rolling_mean": day.rolling_mean}
                for day in pain.days
                if day.day >= since
            ],
        },
        "readiness": readiness,
        "measures": measures,
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
