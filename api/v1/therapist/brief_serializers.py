"""Small nested shapes shared by the staff endpoints."""

from rest_framework import serializers

from clinic.models import Practitioner
from programs.models import Exercise, Prescription, Protocol, ProtocolPhase


class PractitionerBriefSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="display_name", read_only=True)

    class Meta:
        model = Practitioner
        fields = ["id", "name", "title", "role"]
        read_only_fields = fields


class ExerciseBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Exercise
        fields = ["id", "slug", "name", "category", "per_side"]
        read_only_fields = fields


class ProtocolBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Protocol
        fields = ["id", "slug", "name"]
        read_only_fields = fields


class PhaseBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = ProtocolPhase
        fields = ["id", "order", "name"]
        read_only_fields = fields


class PrescriptionSummarySerializer(serializers.ModelSerializer):
    protocol = ProtocolBriefSerializer(read_only=True, allow_null=True)
    current_phase = PhaseBriefSerializer(read_only=True, allow_null=True)

    class Meta:
        model = Prescription
        fields = [
            "id",
            "name",
            "protocol",
            "current_phase",
            "status",
            "start_date",
            "phase_started_on",
            "sessions_per_week",
            "paused_on",
            "completed_on",
        ]
        read_only_fields = fields
