"""Serializers of the patient's own endpoints (`auth/`, `me/...`): input validation and shape."""

from typing import Any

from django.contrib.auth.validators import UnicodeUsernameValidator
from drf_spectacular.utils import OpenApiExample, extend_schema_field
from rest_framework import serializers

from patients import red_flags
from patients.models import ALL_WEEKDAYS, MeasureResponse, Patient, validate_timezone
from programs.models import Prescription
from programs.services import ExerciseEntry

from .common_serializers import (
    AwareDateTimeField,
    CheckInOutputSerializer,
    CopiedFieldsMixin,
    PlainValuesMixin,
    PrecautionSerializer,
    PrescribedExerciseOutputSerializer,
    RedFlagSerializer,
    SessionLogOutputSerializer,
    precautions_as_list,
)

NOTES_MAX_LENGTH = 2000
SKIPPED_REASON_MAX_LENGTH = 300
EXERCISES_PER_SESSION_MAX = 50
SYNC_MAX_ITEMS = 100

# ISO 8601 weekday numbers: 1 = Monday … 7 = Sunday (the model keeps a bit mask, bit 0 = Monday).
ISO_WEEKDAYS = range(1, 8)


def weekdays_from_mask(mask: int) -> list[int]:
    return [day for day in ISO_WEEKDAYS if mask & (1 << (day - 1))]


def mask_from_weekdays(days: list[int]) -> int:
    mask = 0
    for day in days:
        mask |= 1 << (day - 1)
    return mask & ALL_WEEKDAYS


# --- auth ------------------------------------------------------------------------------------


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField(help_text="Short-lived JWT: send as `Authorization: Bearer`.")
    refresh = serializers.CharField(help_text="Exchange at auth/token/refresh/; single use.")


class LoginSerializer(serializers.Serializer):
    """Documentation of the token request (simplejwt validates it)."""

    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=128, write_only=True)


class RefreshSerializer(serializers.Serializer):
    refresh = serializers.CharField(max_length=2000)


class ClaimSerializer(serializers.Serializer):
    invite_code = serializers.CharField(
        max_length=16, help_text="The code from the clinic (case and spaces are ignored)."
    )
    username = serializers.CharField(
        min_length=3, max_length=150, validators=[UnicodeUsernameValidator()]
    )
    password = serializers.CharField(max_length=128, write_only=True, trim_whitespace=False)


class ClaimedPatientSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()


class ClaimResponseSerializer(TokenPairSerializer):
    patient = ClaimedPatientSerializer()


# --- me --------------------------------------------------------------------------------------


class ClinicBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class TherapistBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField(source="display_name")
    title = serializers.CharField()


class ReminderPreferencesSerializer(serializers.Serializer):
    """Reminder preferences as the patient's app edits them (PATCH me/)."""

    reminders_enabled = serializers.BooleanField(required=False)
    reminder_time = serializers.TimeField(
        required=False, help_text="Local time of the daily reminder, HH:MM."
    )
    reminder_weekdays = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=7),
        max_length=7,
        required=False,
        help_text="ISO 8601 weekday numbers: 1 = Monday … 7 = Sunday. [] = no reminder days.",
    )
    reminder_channel = serializers.ChoiceField(choices=Patient.Channel.choices, required=False)
    quiet_hours_start = serializers.TimeField(required=False, allow_null=True)
    quiet_hours_end = serializers.TimeField(required=False, allow_null=True)
    timezone = serializers.CharField(
        max_length=64,
        required=False,
        validators=[validate_timezone],
        help_text="IANA time zone, e.g. Europe/London.",
    )

    def validate_reminder_weekdays(self, days: list[int]) -> list[int]:
        if len(set(days)) != len(days):
            raise serializers.ValidationError("List each weekday once.")
        return sorted(days)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(self.initial_data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError(
                {name: ["This field cannot be changed here."] for name in unknown}
            )
        if not attrs:
            raise serializers.ValidationError("Give at least one preference to change.")
        return attrs

    def to_service_kwargs(self) -> dict[str, Any]:
        changes = dict(self.validated_data)
        if "reminder_weekdays" in changes:
            changes["reminder_weekdays"] = mask_from_weekdays(changes["reminder_weekdays"])
        return changes


class MeSerializer(serializers.ModelSerializer):
    condition_label = serializers.CharField(source="get_condition_display")
    clinic = ClinicBriefSerializer()
    therapist = TherapistBriefSerializer()
    precautions = serializers.SerializerMethodField()
    reminder_weekdays = serializers.SerializerMethodField(
        help_text="ISO 8601 weekday numbers: 1 = Monday … 7 = Sunday."
    )

    class Meta:
        model = Patient
        fields = [
            "id",
            "first_name",
            "last_name",
            "email",
            "phone",
            "condition",
            "condition_label",
            "side",
            "surgery_date",
            "surgical_approach",
            "precautions",
            "clinic",
            "therapist",
            "timezone",
            "reminders_enabled",
            "reminder_time",
            "reminder_weekdays",
            "reminder_channel",
            "quiet_hours_start",
            "quiet_hours_end",
        ]
        read_only_fields = fields

    @extend_schema_field(PrecautionSerializer(many=True))
    def get_precautions(self, patient: Patient) -> list[dict[str, str]]:
        return PrecautionSerializer(precautions_as_list(patient.precaution_tags), many=True).data

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
    def get_reminder_weekdays(self, patient: Patient) -> list[int]:
        return weekdays_from_mask(patient.reminder_weekdays)


# --- plan ------------------------------------------------------------------------------------


class PlanProtocolSerializer(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()


class PlanPhaseSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    order = serializers.IntegerField()
    name = serializers.CharField()
    goals = serializers.CharField()
    precautions = serializers.CharField()


class PlanProgramSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="prescription.pk")
    name = serializers.CharField(source="prescription.name")
    status = serializers.ChoiceField(
        source="prescription.status", choices=Prescription.Status.choices
    )
    start_date = serializers.DateField(source="prescription.start_date")
    sessions_per_week = serializers.IntegerField(source="prescription.sessions_per_week")
    protocol = PlanProtocolSerializer(source="prescription.protocol", allow_null=True)
    phase = PlanPhaseSerializer(source="prescription.current_phase", allow_null=True)
    therapist = serializers.CharField(source="prescription.prescriber.display_name")
    planned_today = serializers.BooleanField(help_text="False while the program is paused.")
    logged_today = serializers.BooleanField()
    sessions_today = serializers.IntegerField()
    exercises = PrescribedExerciseOutputSerializer(many=True)


class PlanSerializer(serializers.Serializer):
    today = serializers.DateField(help_text="Today in the patient's time zone.")
    timezone = serializers.CharField(source="patient.timezone")
    logged_today = serializers.BooleanField(help_text="A session is already logged today.")
    sessions_today = serializers.IntegerField()
    precautions = serializers.SerializerMethodField()
    programs = PlanProgramSerializer(many=True, help_text="Open programs (active or paused).")

    @extend_schema_field(PrecautionSerializer(many=True))
    def get_precautions(self, plan: Any) -> list[dict[str, str]]:
        tags = set(plan.patient.precaution_tags)
        for program in plan.programs:
            if program.prescription.current_phase is not None:
                tags |= set(program.prescription.current_phase.precaution_tags)
        return PrecautionSerializer(precautions_as_list(sorted(tags)), many=True).data


# --- sessions --------------------------------------------------------------------------------


class ExerciseEntryInputSerializer(PlainValuesMixin, CopiedFieldsMixin, serializers.Serializer):
    prescribed_exercise = serializers.IntegerField(
        min_value=1, help_text="Id of the exercise in the plan (plan → programs → exercises)."
    )
    sets_done = serializers.IntegerField(min_value=0, max_value=100, default=0)
    reps_done = serializers.IntegerField(min_value=0, max_value=1000, default=0)
    hold_seconds_done = serializers.IntegerField(min_value=0, max_value=3600, default=0)
    completed = serializers.BooleanField(default=True)
    skipped_reason = serializers.CharField(
        max_length=SKIPPED_REASON_MAX_LENGTH, allow_blank=True, default=""
    )


def _score_field(help_text: str) -> serializers.IntegerField:
    return serializers.IntegerField(
        min_value=0, max_value=10, required=False, allow_null=True, help_text=help_text
    )


class SessionInputSerializer(CopiedFieldsMixin, serializers.Serializer):
    client_id = serializers.UUIDField(
        help_text="Chosen by the app for this session; a retried upload with the same id "
        "returns the stored session (200) instead of storing it twice."
    )
    performed_at = AwareDateTimeField(
        help_text="When the session was done, with its UTC offset. At most 5 minutes ahead."
    )
    prescription = serializers.IntegerField(
        min_value=1,
        required=False,
        allow_null=True,
        help_text="Program id; needed only when the patient has more than one open program.",
    )
    pain_before = _score_field("Pain before exercising, 0–10.")
    pain_after = _score_field("Pain after exercising, 0–10.")
    difficulty = _score_field("How hard the session felt, 0–10.")
    duration_minutes = serializers.IntegerField(
        min_value=0, max_value=600, required=False, allow_null=True
    )
    notes = serializers.CharField(
        max_length=NOTES_MAX_LENGTH, allow_blank=True, required=False, default=""
    )
    exercises = ExerciseEntryInputSerializer(
        many=True, required=False, max_length=EXERCISES_PER_SESSION_MAX
    )

    def to_service_kwargs(self) -> dict[str, Any]:
        data = self.validated_data
        return {
            "client_id": data["client_id"],
            "performed_at": data["performed_at"],
            "prescription_id": data.get("prescription"),
            "pain_before": data.get("pain_before"),
            "pain_after": data.get("pain_after"),
            "difficulty": data.get("difficulty"),
            "duration_minutes": data.get("duration_minutes"),
            "notes": data.get("notes", ""),
            "entries": [
                ExerciseEntry(
                    prescribed_exercise_id=entry["prescribed_exercise"],
                    sets_done=entry["sets_done"],
                    reps_done=entry["reps_done"],
                    hold_seconds_done=entry["hold_seconds_done"],
                    completed=entry["completed"],
                    skipped_reason=entry["skipped_reason"],
                )
                for entry in data.get("exercises", [])
            ],
        }


SESSION_EXAMPLE = {
    "client_id": "6f1c2a9e-3f4b-4c55-9a7d-2b1e0c9d8a71",
    "performed_at": "2025-03-01T18:30:00+01:00",
    "pain_before": 3,
    "pain_after": 2,
    "difficulty": 4,
    "duration_minutes": 25,
    "notes": "Felt easier than yesterday.",
    "exercises": [
        {"prescribed_exercise": 12, "sets_done": 2, "reps_done": 10, "completed": True},
        {
            "prescribed_exercise": 13,
            "sets_done": 0,
            "reps_done": 0,
            "completed": False,
            "skipped_reason": "Knee ached on the first rep.",
        },
    ],
}

SESSION_EXAMPLES = [
    OpenApiExample("A session with one skipped exercise", value=SESSION_EXAMPLE, request_only=True),
    OpenApiExample(
        "A minimal session (pain only)",
        value={
            "client_id": "0b6a43a2-8d0e-4b8e-9a41-5d1f9f0f2c10",
            "performed_at": "2025-03-02T08:05:00Z",
            "pain_after": 1,
        },
        request_only=True,
    ),
]


class SyncInputSerializer(serializers.Serializer):
    sessions = serializers.ListField(
        child=serializers.JSONField(),
        min_length=1,
        max_length=SYNC_MAX_ITEMS,
        help_text=f"Up to {SYNC_MAX_ITEMS} sessions, each shaped like a POST me/sessions/ body; "
        "each is validated and stored on its own.",
    )


class SyncItemResultSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="Position of the item in the request.")
    client_id = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(choices=["created", "duplicate", "invalid"])
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Field errors of an invalid item (same keys as a 400 on POST me/sessions/).",
    )
    session = SessionLogOutputSerializer(
        allow_null=True, help_text="The stored session (created or duplicate)."
    )


class SyncResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    duplicate = serializers.IntegerField()
    invalid = serializers.IntegerField()
    results = SyncItemResultSerializer(many=True)


SYNC_EXAMPLES = [
    OpenApiExample(
        "Two sessions recorded offline",
        value={
            "sessions": [
                SESSION_EXAMPLE,
                {
                    "client_id": "9d3e7b41-0c2f-4f3a-8b6e-1a2b3c4d5e6f",
                    "performed_at": "2025-03-02T18:10:00+01:00",
                    "pain_after": 2,
                },
            ]
        },
        request_only=True,
    ),
    OpenApiExample(
        "One created, one already stored, one invalid",
        value={
            "created": 1,
            "duplicate": 1,
            "invalid": 1,
            "results": [
                {
                    "index": 0,
                    "client_id": "6f1c2a9e-3f4b-4c55-9a7d-2b1e0c9d8a71",
                    "status": "created",
                    "errors": {},
                    "session": {"id": 41, "client_id": "6f1c2a9e-3f4b-4c55-9a7d-2b1e0c9d8a71"},
                },
                {
                    "index": 1,
                    "client_id": "9d3e7b41-0c2f-4f3a-8b6e-1a2b3c4d5e6f",
                    "status": "duplicate",
                    "errors": {},
                    "session": {"id": 40, "client_id": "9d3e7b41-0c2f-4f3a-8b6e-1a2b3c4d5e6f"},
                },
                {
                    "index": 2,
                    "client_id": "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f",
                    "status": "invalid",
                    "errors": {"pain_after": ["Ensure this value is less than or equal to 10."]},
                    "session": None,
                },
            ],
        },
        response_only=True,
    ),
]


# --- check-ins -------------------------------------------------------------------------------


class CheckInInputSerializer(serializers.Serializer):
    client_id = serializers.UUIDField(
        required=False, allow_null=True, help_text="Optional; makes a retried upload safe."
    )
    pain_now = serializers.IntegerField(min_value=0, max_value=10)
    answers = serializers.DictField(
        child=serializers.BooleanField(),
        help_text="Question key (see GET me/checkins/questions/) → true (yes) / false (no). "
        "Questions left out count as no.",
    )
    notes = serializers.CharField(
        max_length=NOTES_MAX_LENGTH, allow_blank=True, required=False, default=""
    )

    def validate_answers(self, answers: dict[str, bool]) -> dict[str, bool]:
        if len(answers) > len(red_flags.QUESTIONS):
            unknown = sorted(set(answers) - set(red_flags.QUESTIONS_BY_KEY))
            raise serializers.ValidationError(
                [f"Not one of the check-in questions: {key}" for key in unknown[:10]]
            )
        return answers


class CheckInResultSerializer(serializers.Serializer):
    checkin = CheckInOutputSerializer()
    urgency = serializers.ChoiceField(
        choices=["emergency", "urgent", "review"],
        allow_null=True,
        help_text="The most pressing red flag answered yes; null when there is none.",
    )
    advice = serializers.CharField(help_text="What to tell the patient, in plain words.")
    red_flags = RedFlagSerializer(many=True)
    clinic_alerted = serializers.BooleanField(
        help_text="True when the answers raised an alert on the clinic's dashboard."
    )


CHECKIN_EXAMPLES = [
    OpenApiExample(
        "No red flag",
        value={"pain_now": 3, "answers": {"calf_swelling": False, "fever_wound": False}},
        request_only=True,
    ),
    OpenApiExample(
        "A red flag",
        value={
            "client_id": "2f9a1d7c-6b5e-4a3f-9c8d-7e6f5a4b3c2d",
            "pain_now": 6,
            "answers": {"calf_swelling": True, "chest_pain_or_breathless": False},
            "notes": "Left calf swollen since this morning.",
        },
        request_only=True,
    ),
]


# --- measures --------------------------------------------------------------------------------


class MeasureInputSerializer(serializers.Serializer):
    client_id = serializers.UUIDField(
        required=False, allow_null=True, help_text="Optional; makes a retried upload safe."
    )
    instrument = serializers.ChoiceField(choices=MeasureResponse.Instrument.choices)
    answers = serializers.JSONField(
        help_text='Items by key ({"q1": 0, …}; NPRS {"pain": 3}) or, for the PSFS, '
        '{"activities": [{"name": "Climbing stairs", "rating": 4}, …]}. See GET instruments/.'
    )
    taken_at = AwareDateTimeField(
        required=False, help_text="When it was answered (default: now), with its UTC offset."
    )


MEASURE_EXAMPLES = [
    OpenApiExample(
        "HOOS JR",
        value={
            "instrument": "hoos_jr",
            "answers": {"q1": 1, "q2": 2, "q3": 1, "q4": 0, "q5": 1, "q6": 2},
            "taken_at": "2025-03-01T09:00:00+01:00",
        },
        request_only=True,
    ),
    OpenApiExample(
        "PSFS",
        value={
            "instrument": "psfs",
            "answers": {
                "activities": [
                    {"name": "Climbing stairs", "rating": 4},
                    {"name": "Putting on socks", "rating": 6},
                    {"name": "Walking the dog", "rating": 5},
                ]
            },
        },
        request_only=True,
    ),
]
