"""The data migration ships the exercise library and the protocols to every database."""

import pytest

from patients.precautions import PRECAUTION_LABELS
from programs import library, library_data
from programs.models import Exercise, Protocol, ProtocolExercise, ProtocolPhase

pytestmark = pytest.mark.django_db

SHIPPED = {
    "total-hip-replacement-posterior": "total_hip_replacement",
    "hip-arthroscopy-labral-repair": "hip_labrum_tear",
    "hip-labrum-non-operative": "hip_labrum_tear",
    "patellofemoral-hip-strengthening": "patellofemoral_pain",
    "hip-osteoarthritis-glad": "hip_osteoarthritis",
}
SEED_EXERCISES = [
    "kneeling-hip-flexor-stretch",
    "hip-hikers",
    "standing-side-leg-raise",
    "supine-knee-hug-twist",
    "supine-strap-leg-fall-out",
    "kneeling-wall-hip-opener",
    "one-joint-hip-flexor-stretch",
]


def test_the_four_conditions_have_protocols_with_phases_and_exercises():
    for slug, condition in SHIPPED.items():
        protocol = Protocol.objects.get(slug=slug)
        assert protocol.condition == condition
        phases = list(protocol.phases.order_by("order"))
        assert len(phases) >= 2
        assert [p.order for p in phases] == list(range(1, len(phases) + 1))
        for phase in phases:
            assert phase.exercises.count() >= 3, phase
            assert phase.min_weeks >= 0
            assert 1 <= phase.sessions_per_week <= 14


def test_the_library_holds_the_seed_exercises_with_dosage_and_instructions():
    assert Exercise.objects.count() >= 30
    for slug in SEED_EXERCISES:
        exercise = Exercise.objects.get(slug=slug)
        assert len(exercise.instructions) > 40
        assert exercise.cues
        assert exercise.default_sets >= 1
        assert exercise.default_reps >= 1


def test_precaution_tags_come_from_one_vocabulary():
    used = set()
    for tags in Exercise.objects.values_list("precaution_tags", flat=True):
        used |= set(tags)
    for tags in ProtocolPhase.objects.values_list("precaution_tags", flat=True):
        used |= set(tags)
    assert used <= set(PRECAUTION_LABELS)
    assert (
        "hip-flexion-over-90" in Exercise.objects.get(slug="supine-knee-hug-twist").precaution_tags
    )


def test_posterior_hip_precautions_hold_in_the_first_two_phases():
    phases = ProtocolPhase.objects.filter(
        protocol__slug="total-hip-replacement-posterior", order__in=[1, 2]
    )
    for phase in phases:
        assert {
            "hip-flexion-over-90",
            "hip-adduction-past-midline",
            "hip-internal-rotation",
        } <= set(phase.precaution_tags)


def test_syncing_the_library_again_duplicates_nothing():
    counts = (
        Exercise.objects.count(),
        ProtocolPhase.objects.count(),
        ProtocolExercise.objects.count(),
    )
    models = {
        "Exercise": Exercise,
        "Protocol": Protocol,
        "ProtocolPhase": ProtocolPhase,
        "ProtocolExercise": ProtocolExercise,
    }
    library.library_sync(
        models=models, exercises=library_data.EXERCISES, protocols=library_data.PROTOCOLS
    )
    assert counts == (
        Exercise.objects.count(),
        ProtocolPhase.objects.count(),
        ProtocolExercise.objects.count(),
    )
