"""Load the shipped exercise library and protocols (programs/library_data.py) into a database.

Used by the data migration with historical models, so it takes the model classes as
arguments. Upserts by slug: running it again updates text and dosage without duplicating.
"""

from collections.abc import Iterable, Mapping
from typing import Any

EXERCISE_FIELDS = {
    "name": "name",
    "category": "category",
    "instructions": "instructions",
    "cues": "cues",
    "sets": "default_sets",
    "reps": "default_reps",
    "hold_seconds": "default_hold_seconds",
    "per_side": "per_side",
    "equipment": "equipment",
    "precaution_tags": "precaution_tags",
}
CRITERIA_FIELDS = (
    "min_weeks",
    "max_pain",
    "pain_lookback_sessions",
    "min_adherence",
    "outcome_instrument",
    "outcome_min_score",
)


def library_sync(
    *,
    models: Mapping[str, Any],
    exercises: Iterable[Mapping[str, Any]],
    protocols: Iterable[Mapping[str, Any]],
) -> None:
    """Upsert exercises, protocols, phases and phase exercises from plain data."""
    exercise_model = models["Exercise"]
    by_slug = {}
    for item in exercises:
        defaults = {field: item[key] for key, field in EXERCISE_FIELDS.items()}
        exercise, _ = exercise_model.objects.update_or_create(slug=item["slug"], defaults=defaults)
        by_slug[exercise.slug] = exercise

    for protocol_data in protocols:
        protocol, _ = models["Protocol"].objects.update_or_create(
            slug=protocol_data["slug"],
            defaults={
                "name": protocol_data["name"],
                "condition": protocol_data["condition"],
                "description": protocol_data["description"],
            },
        )
        for phase_data in protocol_data["phases"]:
            criteria = phase_data.get("criteria", {})
            phase, _ = models["ProtocolPhase"].objects.update_or_create(
                protocol=protocol,
                order=phase_data["order"],
                defaults={
                    "name": phase_data["name"],
                    "start_week": phase_data["start_week"],
                    "end_week": phase_data["end_week"],
                    "goals": phase_data["goals"],
                    "precautions": phase_data["precautions"],
                    "precaution_tags": phase_data["precaution_tags"],
                    "sessions_per_week": phase_data["sessions_per_week"],
                    **{name: criteria.get(name) for name in CRITERIA_FIELDS if name in criteria},
                    "outcome_instrument": criteria.get("outcome_instrument") or "",
                },
            )
            for order, item in enumerate(phase_data["exercises"]):
                models["ProtocolExercise"].objects.update_or_create(
                    phase=phase,
                    exercise=by_slug.get(item["slug"])
                    or exercise_model.objects.get(slug=item["slug"]),
                    defaults={
                        "order": order,
                        "sets": item["sets"],
                        "reps": item["reps"],
                        "hold_seconds": item.get("hold_seconds", 0),
                    },
                )
