"""The progress page as data (from `programs.selectors.patient_progress`) and alerts."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from programs.models import Alert

from .brief_serializers import PrescriptionSummarySerializer

DIRECTIONS = ["improving", "worsening", "stable"]
NUMBER_OR_TEXT = {"oneOf": [{"type": "number"}, {"type": "string"}]}


class AlertPatientSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    full_name = serializers.CharField()


class AlertSerializer(serializers.ModelSerializer):
    patient = AlertPatientSerializer(read_only=True)
    details = serializers.DictField(read_only=True)
    is_open = serializers.BooleanField(read_only=True)
    acknowledged_by = serializers.SerializerMethodField()

    class Meta:
        model = Alert
        fields = [
            "id",
            "patient",
            "kind",
            "severity",
            "message",
            "details",
            "opened_at",
            "is_open",
            "acknowledged_at",
            "acknowledged_by",
            "acknowledgement_note",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_acknowledged_by(self, alert: Alert) -> str | None:
        user = alert.acknowledged_by
        if user is None:
            return None
        return user.get_full_name() or user.get_username()


class AlertAcknowledgeSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=2000, required=False, default="", allow_blank=True)


class AdherenceWindowSerializer(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField(help_text="Exclusive.")
    sessions_planned = serializers.FloatField()
    sessions_done = serializers.IntegerField()
    ratio = serializers.FloatField(allow_null=True, help_text="Done ÷ planned, capped at 1.")


class WeekAdherenceSerializer(AdherenceWindowSerializer):
    iso_week = serializers.CharField()
    complete = serializers.BooleanField()
    on_track = serializers.BooleanField(allow_null=True)


class PhaseAdherenceSerializer(serializers.Serializer):
    phase_id = serializers.IntegerField(allow_null=True)
    phase_name = serializers.CharField()
    window = AdherenceWindowSerializer()


class DayPlanSerializer(serializers.Serializer):
    day = serializers.DateField()
    planned = serializers.FloatField()
    done = serializers.IntegerField()


class AdherenceSerializer(serializers.Serializer):
    on_track_threshold = serializers.FloatField()
    on_track = serializers.BooleanField(allow_null=True)
    recent = AdherenceWindowSerializer()
    overall = AdherenceWindowSerializer()
    current_phase = AdherenceWindowSerializer(allow_null=True)
    phases = PhaseAdherenceSerializer(many=True)
    weeks = WeekAdherenceSerializer(many=True)
    days = DayPlanSerializer(many=True)
    current_streak_weeks = serializers.IntegerField()
    longest_streak_weeks = serializers.IntegerField()
    exercise_completion = serializers.FloatField(allow_null=True)


class PainDaySerializer(serializers.Serializer):
    day = serializers.DateField()
    before = serializers.FloatField(allow_null=True)
    after = serializers.FloatField(allow_null=True)
    value = serializers.FloatField()
    sessions = serializers.IntegerField()
    rolling_mean = serializers.FloatField()


class PainTrendSerializer(serializers.Serializer):
    baseline = serializers.FloatField(allow_null=True)
    latest = serializers.FloatField(allow_null=True)
    current = serializers.FloatField(allow_null=True, help_text="7-day rolling mean.")
    change_from_baseline = serializers.FloatField(allow_null=True)
    mcid_threshold = serializers.FloatField(allow_null=True)
    mcid_improved = serializers.BooleanField()
    mcid_worsened = serializers.BooleanField()
    direction = serializers.ChoiceField(choices=DIRECTIONS, allow_null=True)
    days = PainDaySerializer(many=True)


@extend_schema_field({**NUMBER_OR_TEXT, "nullable": True})
class NumberOrTextField(serializers.Field):
    def to_representation(self, value):
        return value


class CriterionSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    met = serializers.BooleanField()
    measured = NumberOrTextField(allow_null=True)
    required = NumberOrTextField()


class ReadinessSerializer(serializers.Serializer):
    phase_id = serializers.IntegerField()
    phase_name = serializers.CharField()
    next_phase_name = serializers.CharField(allow_null=True)
    weeks_in_phase = serializers.FloatField()
    ready = serializers.BooleanField()
    criteria = CriterionSerializer(many=True)


class ScoreChangeSerializer(serializers.Serializer):
    delta = serializers.FloatField()
    improved = serializers.BooleanField()
    worsened = serializers.BooleanField()
    meaningful = serializers.BooleanField(help_text="The change reaches the MCID.")
    threshold = serializers.FloatField(help_text="The MCID that applies to this baseline.")


class MeasurePointSerializer(serializers.Serializer):
    measure_id = serializers.IntegerField()
    taken_at = serializers.DateTimeField()
    score = serializers.FloatField()


class MeasureSeriesSerializer(serializers.Serializer):
    instrument = serializers.CharField()
    name = serializers.CharField()
    higher_is_better = serializers.BooleanField()
    mcid = serializers.FloatField()
    score_min = serializers.FloatField()
    score_max = serializers.FloatField()
    pass_threshold = serializers.FloatField(allow_null=True)
    baseline = serializers.FloatField(allow_null=True)
    latest = serializers.FloatField(allow_null=True)
    change = ScoreChangeSerializer(allow_null=True)
    points = MeasurePointSerializer(many=True)


class PhaseChangeSerializer(serializers.Serializer):
    day = serializers.DateField()
    phase_name = serializers.CharField()


class PatientProgressSerializer(serializers.Serializer):
    patient_id = serializers.IntegerField(source="patient.pk")
    today = serializers.DateField(help_text="The patient's local date.")
    prescription = PrescriptionSummarySerializer(allow_null=True)
    adherence = AdherenceSerializer(allow_null=True)
    pain = PainTrendSerializer()
    readiness = ReadinessSerializer(allow_null=True)
    measures = MeasureSeriesSerializer(many=True)
    open_alerts = AlertSerializer(many=True)
    phase_changes = PhaseChangeSerializer(many=True)
