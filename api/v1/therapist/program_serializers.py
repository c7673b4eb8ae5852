import datetime as dt
import re

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from programs.models import Exercise, PrescribedExercise, Prescription, Protocol, ProtocolPhase

from .brief_serializers import (
    ExerciseBriefSerializer,
    PractitionerBriefSerializer,
    PrescriptionSummarySerializer,
)

SLUG = re.compile(r"[-a-zA-Z0-9_]{1,80}")
# Dates a program change may take effect on, around the patient's today.
MAX_DAYS_BACK = 365
MAX_DAYS_AHEAD = 365


@extend_schema_field(
    {"oneOf": [{"type": "integer"}, {"type": "string"}], "description": "Slug or id."}
)
class SlugOrIdRelatedField(serializers.RelatedField):
    """An object by its id (an integer) or its slug (a string)."""

    default_error_messages = {
        "does_not_exist": "No such {model} (give its slug or id): {value}.",
        "invalid": "Give a slug (text) or an id (integer).",
    }

    def to_internal_value(self, data):
        queryset = self.get_queryset()
        model = queryset.model._meta.verbose_name
        if isinstance(data, bool) or not isinstance(data, int | str):
            self.fail("invalid")
        if isinstance(data, int) or (isinstance(data, str) and data.isdigit()):
            if len(str(data)) > 18:
                self.fail("does_not_exist", model=model, value=data)
            found = queryset.filter(pk=int(data)).first()
        elif SLUG.fullmatch(data):
            found = queryset.filter(slug=data).first()
        else:  # not a slug at all (and never sent to the database: NUL bytes, 10 kB strings)
            found = None
        if found is None:
            self.fail("does_not_exist", model=model, value=str(data)[:80].replace("\x00", ""))
        return found

    def to_representation(self, value):
        return value.slug


def effective_date_field(help_text: str) -> serializers.DateField:
    return serializers.DateField(required=False, help_text=help_text)


class DateWindowMixin:
    """Dates relative to the patient's local today: within a year either side."""

    def _check_date(self, value: dt.date | None) -> dt.date | None:
        if value is None:
            return value
        today = self.context["patient"].local_date()
        if not today - dt.timedelta(MAX_DAYS_BACK) <= value <= today + dt.timedelta(MAX_DAYS_AHEAD):
            raise serializers.ValidationError("Must be within a year of today.")
        return value


class PrescribedExerciseSerializer(serializers.ModelSerializer):
    exercise = ExerciseBriefSerializer(read_only=True)

    class Meta:
        model = PrescribedExercise
        fields = [
            "id",
            "exercise",
            "order",
            "sets",
            "reps",
            "hold_seconds",
            "notes",
            "precaution_override",
            "override_reason",
            "added_at",
        ]
        read_only_fields = fields


class PrescriptionSerializer(PrescriptionSummarySerializer):
    prescriber = PractitionerBriefSerializer(read_only=True)
    exercises = PrescribedExerciseSerializer(
        source="active_exercises", many=True, read_only=True, help_text="Exercises in force."
    )

    class Meta:
        model = Prescription
        fields = [
            *PrescriptionSummarySerializer.Meta.fields,
            "prescriber",
            "exercises",
            "created_at",
        ]
        read_only_fields = fields


class DosageSerializer(serializers.Serializer):
    sets = serializers.IntegerField(min_value=1, max_value=20)
    reps = serializers.IntegerField(min_value=1, max_value=200)
    hold_seconds = serializers.IntegerField(
        min_value=0, max_value=3600, help_text="Hold per rep, or the duration of a timed exercise."
    )
    notes = serializers.CharField(max_length=500, allow_blank=True)


class ExerciseChoiceSerializer(DosageSerializer):
    """One exercise of a program; omitted dosage comes from the library's defaults."""

    exercise = SlugOrIdRelatedField(queryset=Exercise.objects.filter(is_active=True))

    def get_fields(self):
        fields = super().get_fields()
        for name in ("sets", "reps", "hold_seconds", "notes"):
            fields[name].required = False
        return fields


class OverrideSerializer(serializers.Serializer):
    allow_precaution_override = serializers.BooleanField(
        default=False,
        help_text="Assign exercises that conflict with the patient's precautions anyway.",
    )
    override_reason = serializers.CharField(
        max_length=500,
        required=False,
        default="",
        allow_blank=True,
        help_text="Why the precaution is overridden; required with the override.",
    )

    def validate(self, attrs):
        attrs = super().validate(attrs)
        if attrs.get("allow_precaution_override") and not attrs.get("override_reason", "").strip():
            raise serializers.ValidationError(
                {"override_reason": ["Give the reason for overriding the precautions."]}
            )
        return attrs


class PrescriptionAssignSerializer(DateWindowMixin, OverrideSerializer):
    """A protocol (optionally from a chosen phase) or a custom list of exercises."""

    protocol = SlugOrIdRelatedField(
        queryset=Protocol.objects.filter(is_active=True), required=False, allow_null=True
    )
    phase = serializers.PrimaryKeyRelatedField(
        queryset=ProtocolPhase.objects.all(),
        required=False,
        allow_null=True,
        help_text="Start in this phase of the protocol (id; default: its first phase).",
    )
    exercises = ExerciseChoiceSerializer(
        many=True,
        required=False,
        max_length=60,
        help_text="A custom program (without `protocol`), or replaces the phase's exercises.",
    )
    name = serializers.CharField(max_length=160, required=False, allow_blank=True)
    start_date = effective_date_field("First day (patient's local date; default today).")
    sessions_per_week = serializers.IntegerField(min_value=1, max_value=14, required=False)

    def validate_start_date(self, value):
        return self._check_date(value)

    def validate(self, attrs):
        attrs = super().validate(attrs)
        if not attrs.get("protocol") and not attrs.get("phase") and not attrs.get("exercises"):
            raise serializers.ValidationError(
                {"protocol": ["Choose a protocol, or list exercises for a custom program."]}
            )
        return attrs


class PhaseAdvanceSerializer(DateWindowMixin, OverrideSerializer):
    to_phase = serializers.PrimaryKeyRelatedField(
        queryset=ProtocolPhase.objects.all(),
        required=False,
        allow_null=True,
        help_text="Phase id to move to (default: the next phase).",
    )
    on_date = effective_date_field("First day of the new phase (default today).")

    def validate_on_date(self, value):
        return self._check_date(value)


class ProgramDateSerializer(DateWindowMixin, serializers.Serializer):
    on_date = effective_date_field("The day the change takes effect (default today).")

    def validate_on_date(self, value):
        return self._check_date(value)


class ExerciseAddSerializer(OverrideSerializer, ExerciseChoiceSerializer):
    """One exercise added to a program, with the precaution override if it needs one."""


class DosageUpdateSerializer(DosageSerializer):
    def get_fields(self):
        fields = super().get_fields()
        for field in fields.values():
            field.required = False
        return fields

    def validate(self, attrs):
        if not attrs:
            raise serializers.ValidationError("Change at least one of the dosage fields.")
        return attrs
