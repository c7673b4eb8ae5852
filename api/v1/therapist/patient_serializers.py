import datetime as dt
from typing import Any

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.v1.patient_serializers import mask_from_weekdays, weekdays_from_mask
from clinic.models import Practitioner
from patients.models import Condition, Patient, validate_timezone
from patients.precautions import PRECAUTION_LABELS

from .brief_serializers import PractitionerBriefSerializer, PrescriptionSummarySerializer

PRECAUTION_CHOICES = sorted(PRECAUTION_LABELS.items())
EARLIEST_DATE = dt.date(1900, 1, 1)


@extend_schema_field(OpenApiTypes.INT)
class ClinicTherapistField(serializers.PrimaryKeyRelatedField):
    """A practitioner of the caller's clinic, by id (another clinic's id is not found)."""

    def get_queryset(self):
        clinic_id = self.context["clinic"].pk
        return Practitioner.objects.filter(clinic_id=clinic_id).select_related("user")


class InviteSerializer(serializers.ModelSerializer):
    """The code the patient's app claims the account with (null once claimed)."""

    code = serializers.CharField(source="invite_code", read_only=True, allow_null=True)
    expires_at = serializers.DateTimeField(
        source="invite_expires_at", read_only=True, allow_null=True
    )
    claimed_at = serializers.DateTimeField(
        source="invite_claimed_at", read_only=True, allow_null=True
    )
    is_open = serializers.BooleanField(source="invite_is_open", read_only=True)

    class Meta:
        model = Patient
        fields = ["code", "expires_at", "claimed_at", "is_open"]
        read_only_fields = fields


class PatientSerializer(serializers.ModelSerializer):
    """A patient record as clinic staff see it."""

    therapist = PractitionerBriefSerializer(read_only=True)
    precaution_tags = serializers.ListField(
        child=serializers.ChoiceField(choices=PRECAUTION_CHOICES), read_only=True
    )
    email = serializers.CharField(read_only=True, help_text="E-mail address, or empty.")
    has_account = serializers.SerializerMethodField()
    invite = InviteSerializer(source="*", read_only=True)
    adherence_alert_below = serializers.FloatField(read_only=True, allow_null=True)
    reminder_weekdays = serializers.SerializerMethodField(
        help_text="ISO 8601 weekday numbers: 1 = Monday … 7 = Sunday."
    )

    class Meta:
        model = Patient
        fields = [
            "id",
            "first_name",
            "last_name",
            "full_name",
            "date_of_birth",
            "email",
            "phone",
            "condition",
            "side",
            "surgery_date",
            "surgical_approach",
            "precaution_tags",
            "timezone",
            "status",
            "discharged_at",
            "therapist",
            "adherence_alert_below",
            "inactive_after_days",
            "pain_spike_absolute",
            "reminders_enabled",
            "reminder_time",
            "reminder_weekdays",
            "reminder_channel",
            "quiet_hours_start",
            "quiet_hours_end",
            "has_account",
            "invite",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_has_account(self, patient: Patient) -> bool:
        return patient.user_id is not None

    def get_reminder_weekdays(self, patient: Patient) -> list[int]:
        return weekdays_from_mask(patient.reminder_weekdays)


def _not_in_future(value: dt.date) -> None:
    if value > timezone.localdate() + dt.timedelta(days=1):
        raise serializers.ValidationError("Cannot be in the future.")


def _not_before_1900(value: dt.date) -> None:
    if value < EARLIEST_DATE:
        raise serializers.ValidationError("Must be in 1900 or later.")


def _surgery_date_plausible(value: dt.date) -> None:
    _not_before_1900(value)
    if value > timezone.localdate() + dt.timedelta(days=366):
        raise serializers.ValidationError("Must be within a year from today.")


class PatientWriteSerializer(serializers.Serializer):
    """Fields a therapist may set on a patient record (all optional on PATCH)."""

    first_name = serializers.CharField(max_length=100)
    last_name = serializers.CharField(max_length=100)
    date_of_birth = serializers.DateField(
        required=False, allow_null=True, validators=[_not_before_1900, _not_in_future]
    )
    email = serializers.EmailField(required=False, allow_blank=True, max_length=254)
    phone = serializers.CharField(required=False, allow_blank=True, max_length=32)
    condition = serializers.ChoiceField(choices=Condition.choices)
    side = serializers.ChoiceField(choices=Patient.Side.choices)
    surgery_date = serializers.DateField(
        required=False, allow_null=True, validators=[_surgery_date_plausible]
    )
    surgical_approach = serializers.ChoiceField(
        choices=Patient.SurgicalApproach.choices, required=False, allow_blank=True
    )
    precaution_tags = serializers.ListField(
        child=serializers.ChoiceField(choices=PRECAUTION_CHOICES),
        required=False,
        max_length=len(PRECAUTION_CHOICES),
        help_text="Precautions in force. On create, omit to start from the defaults for the "
        "condition and surgical approach.",
    )
    therapist = ClinicTherapistField(
        required=False, help_text="Primary therapist (a practitioner of your clinic)."
    )
    timezone = serializers.CharField(
        max_length=64, required=False, validators=[validate_timezone], help_text="IANA time zone."
    )


class PatientCreateSerializer(PatientWriteSerializer):
    reminder_time = serializers.TimeField(
        required=False, help_text="Local time of the daily reminder (default: the clinic's)."
    )


class PatientUpdateSerializer(PatientWriteSerializer):
    adherence_alert_below = serializers.DecimalField(
        max_digits=3,
        decimal_places=2,
        min_value=0,
        max_value=1,
        required=False,
        allow_null=True,
        coerce_to_string=False,
        help_text="Override of the clinic's low-adherence threshold (null: clinic setting).",
    )
    inactive_after_days = serializers.IntegerField(
        min_value=1, max_value=365, required=False, allow_null=True
    )
    pain_spike_absolute = serializers.IntegerField(
        min_value=0, max_value=10, required=False, allow_null=True
    )
    reminders_enabled = serializers.BooleanField(required=False)
    reminder_time = serializers.TimeField(required=False)
    reminder_weekdays = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=7),
        max_length=7,
        required=False,
        help_text="ISO 8601 weekday numbers: 1 = Monday … 7 = Sunday. [] = no reminder days.",
    )
    reminder_channel = serializers.ChoiceField(choices=Patient.Channel.choices, required=False)
    quiet_hours_start = serializers.TimeField(required=False, allow_null=True)
    quiet_hours_end = serializers.TimeField(required=False, allow_null=True)

    def validate_reminder_weekdays(self, days: list[int]) -> int:
        if len(set(days)) != len(days):
            raise serializers.ValidationError("List each weekday once.")
        return mask_from_weekdays(days)

    def validate(self, attrs: dict) -> dict:
        if unknown := sorted(set(self.initial_data) - set(self.fields)):
            raise serializers.ValidationError(
                {name: ["This field cannot be changed."] for name in unknown}
            )
        return attrs


class InviteCodeSerializer(serializers.Serializer):
    invite_code = serializers.CharField()
    invite_expires_at = serializers.DateTimeField()


class PatientRowSerializer(serializers.Serializer):
    """One line of the clinic's patient list (a row of `programs.selectors.patient_list_rows`)."""

    id = serializers.IntegerField(source="patient.id")
    first_name = serializers.CharField(source="patient.first_name")
    last_name = serializers.CharField(source="patient.last_name")
    full_name = serializers.CharField(source="patient.full_name")
    condition = serializers.ChoiceField(source="patient.condition", choices=Condition.choices)
    side = serializers.ChoiceField(source="patient.side", choices=Patient.Side.choices)
    status = serializers.ChoiceField(source="patient.status", choices=Patient.Status.choices)
    therapist = PractitionerBriefSerializer(source="patient.therapist")
    program = PrescriptionSummarySerializer(source="prescription", allow_null=True)
    weeks_since_start = serializers.IntegerField(allow_null=True)
    adherence_recent = serializers.FloatField(
        allow_null=True,
        help_text="Sessions done ÷ planned over the clinic's adherence window (0–1).",
    )
    last_session_on = serializers.DateField(allow_null=True)
    latest_pain = serializers.IntegerField(allow_null=True)
    pain_direction = serializers.ChoiceField(
        choices=["improving", "worsening", "stable"], allow_null=True
    )
    open_alerts = serializers.IntegerField()
    top_severity = serializers.ChoiceField(choices=["urgent", "warning", "info"], allow_null=True)

    def to_representation(self, instance: dict[str, Any]) -> dict[str, Any]:
        return self.render_row(instance)

    @staticmethod
    def render_row(instance: dict[str, Any]) -> dict[str, Any]:
        """The declared fields above, rendered directly from the row's plain values.

        The list renders 50 rows of ~35 values each; DRF's field-by-field rendering (a
        `get_attribute` and a `to_representation` per value) was a sixth of the list's time.
        The fields stay declared for the OpenAPI schema, and a test checks that this equals
        DRF's own rendering of them (`Serializer.to_representation`) for every kind of row.
        The list keeps rows as rendered here (`programs.row_cache`).
        """
        patient, program = instance["patient"], instance["prescription"]
        therapist = patient["therapist"]
        return {
            "id": patient["id"],
            "first_name": patient["first_name"],
            "last_name": patient["last_name"],
            "full_name": patient["full_name"],
            "condition": patient["condition"],
            "side": patient["side"],
            "status": patient["status"],
            "therapist": None
            if therapist is None
            else {
                "id": therapist["id"],
                "name": therapist["display_name"],
                "title": therapist["title"],
                "role": therapist["role"],
            },
            "program": None if program is None else _program_summary(program),
            "weeks_since_start": instance["weeks_since_start"],
            "adherence_recent": _float(instance["adherence_recent"]),
            "last_session_on": _iso(instance["last_session_on"]),
            "latest_pain": instance["latest_pain"],
            "pain_direction": instance["pain_direction"],
            "open_alerts": instance["open_alerts"],
            "top_severity": instance["top_severity"],
        }


def _iso(day: dt.date | None) -> str | None:
    return None if day is None else day.isoformat()


def _float(value: float | None) -> float | None:
    return None if value is None else float(value)


def _program_summary(program: dict[str, Any]) -> dict[str, Any]:
    """`PrescriptionSummarySerializer`'s fields, rendered directly (see PatientRowSerializer)."""
    return {
        "id": program["id"],
        "name": program["name"],
        "protocol": program["protocol"],
        "current_phase": program["current_phase"],
        "status": program["status"],
        "start_date": _iso(program["start_date"]),
        "phase_started_on": _iso(program["phase_started_on"]),
        "sessions_per_week": program["sessions_per_week"],
        "paused_on": _iso(program["paused_on"]),
        "completed_on": _iso(program["completed_on"]),
    }
