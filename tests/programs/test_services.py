import datetime as dt
import uuid

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from programs import services
from programs.models import (
    Exercise,
    ExerciseLog,
    PrescribedExercise,
    Prescription,
    PrescriptionPeriod,
    Protocol,
    SessionLog,
)
from tests import factories

pytestmark = pytest.mark.django_db

THR = "total-hip-replacement-posterior"


@pytest.fixture
def thr_protocol():
    return Protocol.objects.get(slug=THR)


def entries_for(prescription: Prescription) -> list[services.ExerciseEntry]:
    return [
        services.ExerciseEntry(prescribed_exercise_id=pk, sets_done=2, reps_done=10)
        for pk in prescription.exercises.filter(active=True).values_list("pk", flat=True)
    ]


def record(prescription: Prescription, client_id: uuid.UUID | None = None, **fields):
    values = {
        "patient": prescription.patient,
        "client_id": client_id or uuid.uuid4(),
        "performed_at": timezone.now(),
        "pain_before": 3,
        "pain_after": 2,
        "difficulty": 4,
        "entries": entries_for(prescription),
        **fields,
    }
    return services.session_record(**values)


# --- program_assign -------------------------------------------------------------------------


def test_assigning_a_protocol_copies_the_first_phase_exercises_and_dosage(
    patient, therapist, thr_protocol
):
    prescription = services.program_assign(
        patient=patient, prescriber=therapist, protocol=thr_protocol
    )
    phase = thr_protocol.phases.get(order=1)
    expected = list(phase.exercises.order_by("order").values_list("exercise__slug", "sets", "reps"))
    copied = list(
        prescription.exercises.order_by("order").values_list("exercise__slug", "sets", "reps")
    )
    assert copied == expected
    assert prescription.current_phase == phase
    assert prescription.sessions_per_week == phase.sessions_per_week
    assert prescription.periods.get().phase == phase


def test_assigning_a_later_phase_copies_that_phase(patient, therapist, thr_protocol):
    phase = thr_protocol.phases.get(order=2)
    prescription = services.program_assign(
        patient=patient, prescriber=therapist, protocol=thr_protocol, phase=phase
    )
    assert set(prescription.exercises.values_list("exercise_id", flat=True)) == set(
        phase.exercises.values_list("exercise_id", flat=True)
    )


def test_a_second_open_program_on_the_same_protocol_is_refused(patient, therapist, thr_protocol):
    services.program_assign(patient=patient, prescriber=therapist, protocol=thr_protocol)
    with pytest.raises(ValidationError) as error:
        services.program_assign(patient=patient, prescriber=therapist, protocol=thr_protocol)
    assert "protocol" in error.value.message_dict


def test_an_exercise_breaking_posterior_precautions_is_refused_without_override(patient, therapist):
    knee_to_chest = factories.ExerciseFactory(precaution_tags=["hip-flexion-over-90"])
    with pytest.raises(ValidationError) as error:
        services.program_assign(
            patient=patient,
            prescriber=therapist,
            exercises=[services.ExerciseChoice(exercise=knee_to_chest, sets=1, reps=5)],
        )
    assert "hip-flexion-over-90" in str(error.value.message_dict["exercises"])
    assert not Prescription.objects.filter(patient=patient).exists()


def test_the_override_flag_assigns_and_records_the_conflict(patient, therapist):
    knee_to_chest = factories.ExerciseFactory(precaution_tags=["hip-flexion-over-90"])
    prescription = services.program_assign(
        patient=patient,
        prescriber=therapist,
        exercises=[services.ExerciseChoice(exercise=knee_to_chest, sets=1, reps=5)],
        allow_precaution_override=True,
        override_reason="Surgeon cleared flexion to 110°",
    )
    entry = prescription.exercises.get()
    assert entry.precaution_override is True
    assert entry.override_reason == "Surgeon cleared flexion to 110°"


def test_shipped_posterior_thr_phases_respect_their_own_precautions(
    patient, therapist, thr_protocol
):
    for phase in thr_protocol.phases.all():
        conflicts = services.precaution_conflicts(
            [item.exercise for item in phase.exercises.select_related("exercise")],
            services.precautions_in_force(patient, phase),
        )
        assert conflicts == {}, phase.name


def test_a_prescriber_from_another_clinic_is_refused(patient, exercises):
    outsider = factories.PractitionerFactory()
    with pytest.raises(ValidationError):
        factories.assign_custom_program(patient=patient, prescriber=outsider, exercises=exercises)


def test_a_custom_program_needs_exercises(patient, therapist):
    with pytest.raises(ValidationError):
        services.program_assign(patient=patient, prescriber=therapist, exercises=[])


# --- dosage, exercises, phases ------------------------------------------------------------


def test_update_dosage_changes_only_the_given_fields(prescription):
    entry = prescription.exercises.first()
    services.prescription_update_dosage(prescribed_exercise=entry, reps=15)
    entry.refresh_from_db()
    assert (entry.sets, entry.reps) == (2, 15)


def test_update_dosage_refuses_zero_sets(prescription):
    entry = prescription.exercises.first()
    with pytest.raises(ValidationError) as error:
        services.prescription_update_dosage(prescribed_exercise=entry, sets=0)
    assert "sets" in error.value.message_dict
    entry.refresh_from_db()
    assert entry.sets == 2


def test_add_and_remove_an_exercise(prescription):
    bridge = factories.ExerciseFactory()
    added = services.prescription_add_exercise(
        prescription=prescription, choice=services.ExerciseChoice(exercise=bridge, sets=3, reps=8)
    )
    assert added.order > max(
        prescription.exercises.exclude(pk=added.pk).values_list("order", flat=True)
    )
    with pytest.raises(ValidationError):
        services.prescription_add_exercise(
            prescription=prescription,
            choice=services.ExerciseChoice(exercise=bridge, sets=3, reps=8),
        )
    services.prescription_remove_exercise(prescribed_exercise=added)
    assert not PrescribedExercise.objects.get(pk=added.pk).active


def test_phase_advance_swaps_in_the_next_phase_exercises(patient, therapist, thr_protocol):
    start = patient.local_date() - dt.timedelta(days=30)
    prescription = services.program_assign(
        patient=patient, prescriber=therapist, protocol=thr_protocol, start_date=start
    )
    first_ids = set(prescription.exercises.values_list("pk", flat=True))
    services.phase_advance(prescription=prescription)
    prescription.refresh_from_db()
    phase_two = thr_protocol.phases.get(order=2)
    assert prescription.current_phase == phase_two
    assert prescription.phase_started_on == patient.local_date()
    active = prescription.exercises.filter(active=True)
    assert set(active.values_list("exercise_id", flat=True)) == set(
        phase_two.exercises.values_list("exercise_id", flat=True)
    )
    assert not PrescribedExercise.objects.filter(pk__in=first_ids, active=True).exists()
    periods = list(prescription.periods.order_by("started_on").values_list("phase", "ended_on"))
    assert periods == [
        (thr_protocol.phases.get(order=1).pk, patient.local_date()),
        (
            phase_two.pk,
            None,
        ),
    ]


def test_phase_advance_past_the_last_phase_is_refused(patient, therapist, thr_protocol):
    last = thr_protocol.phases.order_by("-order").first()
    prescription = services.program_assign(
        patient=patient, prescriber=therapist, protocol=thr_protocol, phase=last
    )
    with pytest.raises(ValidationError):
        services.phase_advance(prescription=prescription)


def test_pause_resume_complete_record_their_periods(prescription):
    today = prescription.patient.local_date()
    services.program_pause(prescription=prescription, on_date=today)
    prescription.refresh_from_db()
    assert prescription.status == Prescription.Status.PAUSED
    with pytest.raises(ValidationError):
        services.program_pause(prescription=prescription)
    services.program_resume(prescription=prescription, on_date=today + dt.timedelta(days=3))
    prescription.refresh_from_db()
    assert prescription.status == Prescription.Status.ACTIVE
    pause = prescription.periods.get(kind=PrescriptionPeriod.Kind.PAUSE)
    assert (pause.started_on, pause.ended_on) == (today, today + dt.timedelta(days=3))
    services.program_complete(prescription=prescription, on_date=today + dt.timedelta(days=4))
    prescription.refresh_from_db()
    assert prescription.status == Prescription.Status.COMPLETED
    assert not prescription.periods.filter(ended_on__isnull=True).exists()
    with pytest.raises(ValidationError):
        services.program_resume(prescription=prescription)


def test_discharge_completes_programs_and_stops_reminders(prescription):
    patient = services.patient_discharge(patient=prescription.patient)
    prescription.refresh_from_db()
    assert prescription.status == Prescription.Status.COMPLETED
    assert patient.status == "discharged"
    assert patient.reminders_enabled is False


# --- session_record -------------------------------------------------------------------------


def test_session_record_stores_the_session_and_its_entries(prescription):
    session, created = record(prescription)
    assert created
    assert session.entries.count() == prescription.exercises.count()
    assert session.local_date == prescription.patient.local_date(session.performed_at)


def test_retried_upload_returns_the_stored_session_and_writes_nothing(prescription):
    client_id = uuid.uuid4()
    first, created = record(prescription, client_id=client_id, pain_after=2)
    with CaptureQueriesContext(connection) as queries:
        again, created_again = record(prescription, client_id=client_id, pain_after=9)
    assert (created, created_again) == (True, False)
    assert again.pk == first.pk
    assert again.pain_after == 2
    assert SessionLog.objects.count() == 1
    assert ExerciseLog.objects.count() == prescription.exercises.count()
    assert not [q for q in queries.captured_queries if q["sql"].startswith("INSERT")]


def test_local_date_follows_the_patients_time_zone(clinic, therapist, exercises):
    patient = factories.create_patient(
        clinic=clinic, therapist=therapist, timezone_name="America/Los_Angeles"
    )
    prescription = factories.assign_custom_program(
        patient=patient,
        prescriber=therapist,
        exercises=exercises,
        start_date=dt.date(2026, 1, 1),
    )
    # 23:30 in Los Angeles on 3 March is 07:30 UTC on 4 March.
    performed_at = dt.datetime(2026, 3, 4, 7, 30, tzinfo=dt.UTC)
    session, _ = record(prescription, performed_at=performed_at)
    assert session.local_date == dt.date(2026, 3, 3)


def test_entries_of_another_program_are_refused_and_nothing_is_written(prescription, clinic):
    other = factories.assign_custom_program(
        patient=factories.create_patient(clinic=clinic, therapist=prescription.prescriber),
        prescriber=prescription.prescriber,
        exercises=factories.ExerciseFactory.create_batch(1),
    )
    foreign_entry = services.ExerciseEntry(prescribed_exercise_id=other.exercises.get().pk)
    with pytest.raises(ValidationError) as error:
        record(prescription, entries=[*entries_for(prescription), foreign_entry])
    assert "exercises" in error.value.message_dict
    assert SessionLog.objects.count() == 0
    assert ExerciseLog.objects.count() == 0


@pytest.mark.parametrize(
    ("fields", "error_field"),
    [
        ({"pain_after": 11}, "pain_after"),
        ({"difficulty": -1}, "difficulty"),
        ({"performed_at": timezone.now() + dt.timedelta(hours=1)}, "performed_at"),
        ({"performed_at": dt.datetime(2026, 1, 1, 12, 0)}, "performed_at"),
    ],
)
def test_invalid_sessions_are_refused_with_the_field_named(prescription, fields, error_field):
    with pytest.raises(ValidationError) as error:
        record(prescription, **fields)
    assert error_field in error.value.message_dict
    assert SessionLog.objects.count() == 0


def test_a_session_before_the_program_started_is_refused(prescription):
    before = timezone.now() - dt.timedelta(days=10)
    with pytest.raises(ValidationError):
        record(prescription, performed_at=before)


def test_a_late_upload_is_attributed_to_the_phase_in_force_that_day(
    patient, therapist, thr_protocol
):
    start = patient.local_date() - dt.timedelta(days=40)
    prescription = services.program_assign(
        patient=patient, prescriber=therapist, protocol=thr_protocol, start_date=start
    )
    old_entries = entries_for(prescription)
    services.phase_advance(prescription=prescription, on_date=start + dt.timedelta(days=28))
    after_advance = timezone.now() - dt.timedelta(days=5)
    session, _ = record(prescription, performed_at=after_advance, entries=[])
    assert session.phase.order == 2
    early = timezone.now() - dt.timedelta(days=35)
    session, _ = record(prescription, performed_at=early, entries=old_entries)
    assert session.phase.order == 1


def test_session_record_enqueues_the_alert_check_after_commit(
    prescription, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        session, _ = record(prescription, pain_after=9)
    assert len(factories.task_callbacks(callbacks)) == 1
    assert prescription.patient.alerts.filter(kind="pain_spike", acknowledged_at=None).exists()
    assert session.pk


def test_the_exercise_library_covers_the_protocol_staples():
    assert Exercise.objects.count() >= 30
    slugs = set(Exercise.objects.values_list("slug", flat=True))
    for staple in ("ankle-pumps", "clamshells", "hip-hikers", "kneeling-hip-flexor-stretch"):
        assert staple in slugs
