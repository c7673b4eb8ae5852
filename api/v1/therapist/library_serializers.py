from rest_framework import serializers

from programs.models import Exercise, Protocol, ProtocolExercise, ProtocolPhase

from .brief_serializers import ExerciseBriefSerializer


class ExerciseSerializer(serializers.ModelSerializer):
    cues = serializers.ListField(child=serializers.CharField(), read_only=True)
    precaution_tags = serializers.ListField(
        child=serializers.CharField(),
        read_only=True,
        help_text="Precautions this exercise conflicts with.",
    )

    class Meta:
        model = Exercise
        fields = [
            "id",
            "slug",
            "name",
            "category",
            "instructions",
            "cues",
            "default_sets",
            "default_reps",
            "default_hold_seconds",
            "per_side",
            "equipment",
            "precaution_tags",
        ]
        read_only_fields = fields


class ProtocolExerciseSerializer(serializers.ModelSerializer):
    exercise = ExerciseBriefSerializer(read_only=True)

    class Meta:
        model = ProtocolExercise
        fields = ["exercise", "order", "sets", "reps", "hold_seconds"]
        read_only_fields = fields


class ProgressionCriteriaSerializer(serializers.ModelSerializer):
    """What moving on from a phase asks for (null: no such criterion)."""

    min_adherence = serializers.FloatField(read_only=True, allow_null=True)
    outcome_min_score = serializers.FloatField(read_only=True, allow_null=True)

    class Meta:
        model = ProtocolPhase
        fields = [
            "min_weeks",
            "max_pain",
            "pain_lookback_sessions",
            "min_adherence",
            "outcome_instrument",
            "outcome_min_score",
        ]
        read_only_fields = fields


class ProtocolPhaseSerializer(serializers.ModelSerializer):
    precaution_tags = serializers.ListField(child=serializers.CharField(), read_only=True)
    criteria = ProgressionCriteriaSerializer(source="*", read_only=True)
    exercises = ProtocolExerciseSerializer(many=True, read_only=True)

    class Meta:
        model = ProtocolPhase
        fields = [
            "id",
            "order",
            "name",
            "start_week",
            "end_week",
            "goals",
            "precautions",
            "precaution_tags",
            "sessions_per_week",
            "criteria",
            "exercises",
        ]
        read_only_fields = fields


class ProtocolSerializer(serializers.ModelSerializer):
    class Meta:
        model = Protocol
        fields = ["id", "slug", "name", "condition", "description"]
        read_only_fields = fields


class ProtocolDetailSerializer(ProtocolSerializer):
    phases = ProtocolPhaseSerializer(many=True, read_only=True)

    class Meta(ProtocolSerializer.Meta):
        fields = [*ProtocolSerializer.Meta.fields, "phases"]
        read_only_fields = fields
