"""Every invariant is enforced by the database itself, not only by the services."""

import datetime as dt
import uuid

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from patients.models import CheckIn, MeasureResponse, Patient
from programs.models import (
    Alert,
    ExerciseLog,
    PrescribedExercise,
    Prescription,
    PrescriptionPeriod,
    ProtocolExercise,
    ProtocolPhase,
    Reminder,
    SessionLog,
)
from tests import factories

pytestmark = pytest.mark.django_db


def refused(create) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        create()


def make_session(prescription: Prescription, **fields) -> SessionLog:
    values = {
        "prescription": prescription,
        "patient": prescription.patient,
        "client_id": uuid.uuid4(),
        "performed_at": timezone.now(),
        "local_date": timezone.localdate(),
        **fields,
    }
    return SessionLog.objects.create(**values)


@pytest.mark.parametrize("field", ["pain_before", "pain_after", "difficulty"])
@pytest.mark.parametrize("value", [11, -1])
def test_session_scores_outside_0_to_10_are_refused(prescription, field, value):
    refused(lambda: make_session(prescription, **{field: value}))


@pytest.mark.parametrize("field", ["pain_before", "pain_after", "difficulty"])
@pytest.mark.parametrize("value", [0, 10])
def test_session_scores_at_the_bounds_are_stored(prescription, field, value):
    session = make_session(prescription, **{field: value})
    assert getattr(SessionLog.objects.get(pk=session.pk), field) == value


def test_client_id_is_unique_per_patient(prescription):
    client_id = uuid.uuid4()
    make_session(prescription, client_id=client_id)
    refused(lambda: make_session(prescription, client_id=client_id))


def test_the_same_client_id_is_allowed_for_another_patient(prescription, clinic, therapist):
    client_id = uuid.uuid4()
    make_session(prescription, client_id=client_id)
    other = factories.create_patient(clinic=clinic, therapist=therapist, first_name="Sam")
    other_program = factories.assign_custom_program(
        patient=other, prescriber=therapist, exercises=factories.ExerciseFactory.create_batch(1)
    )
    make_session(other_program, client_id=client_id)
    assert SessionLog.objects.filter(client_id=client_id).count() == 2


@pytest.mark.parametrize(("sets", "reps"), [(0, 10), (2, 0)])
def test_prescribed_dosage_must_be_positive(prescription, sets, reps):
    exercise = factories.ExerciseFactory()
    refused(
        lambda: PrescribedExercise.objects.create(
            prescription=prescription, exercise=exercise, sets=sets, reps=reps
        )
    )


def test_protocol_dosage_must_be_positive():
    phase = ProtocolPhase.objects.first()
    exercise = factories.ExerciseFactory()
    refused(lambda: ProtocolExercise.objects.create(phase=phase, exercise=exercise, sets=0, reps=5))


def test_exercise_default_dosage_must_be_positive():
    refused(lambda: factories.ExerciseFactory(default_reps=0))


def test_one_open_prescription_per_patient_and_protocol(patient, therapist):
    phase = ProtocolPhase.objects.select_related("protocol").first()
    values = {
        "patient": patient,
        "prescriber": therapist,
        "protocol": phase.protocol,
        "current_phase": phase,
        "start_date": dt.date(2026, 1, 5),
        "phase_started_on": dt.date(2026, 1, 5),
        "sessions_per_week": 5,
        "name": "THR",
    }
    Prescription.objects.create(**values)
    refused(lambda: Prescription.objects.create(**values))
    refused(
        lambda: Prescription.objects.create(
            **values, status=Prescription.Status.PAUSED, paused_on=dt.date(2026, 1, 6)
        )
    )
    completed = Prescription.objects.create(
        **values | {"status": "completed", "completed_on": dt.date(2026, 2, 1)}
    )
    assert completed.pk


def test_paused_prescription_needs_a_pause_date(prescription):
    prescription.status = Prescription.Status.PAUSED
    refused(prescription.save)


def test_only_one_open_period_of_a_kind(prescription):
    refused(
        lambda: PrescriptionPeriod.objects.create(
            prescription=prescription, kind="phase", started_on=prescription.start_date
        )
    )


def test_one_exercise_entry_per_prescribed_exercise_per_session(prescription):
    session = make_session(prescription)
    entry = prescription.exercises.first()
    ExerciseLog.objects.create(session=session, prescribed_exercise=entry)
    refused(lambda: ExerciseLog.objects.create(session=session, prescribed_exercise=entry))


def test_one_reminder_per_patient_kind_and_local_date(patient):
    values = {"patient": patient, "kind": "session", "local_date": dt.date(2026, 3, 1)}
    Reminder.objects.create(**values, channel="email")
    refused(lambda: Reminder.objects.create(**values, channel="sms"))
    Reminder.objects.create(**values | {"kind": "missed"}, channel="email")


def test_one_open_alert_per_patient_and_kind(patient):
    values = {"clinic": patient.clinic, "patient": patient, "kind": "pain_spike"}
    first = Alert.objects.create(**values, severity="warning", message="spike")
    refused(lambda: Alert.objects.create(**values, severity="warning", message="again"))
    first.acknowledged_at = timezone.now()
    first.save()
    assert Alert.objects.create(**values, severity="warning", message="new episode").pk


def test_checkin_pain_is_0_to_10(patient):
    refused(lambda: CheckIn.objects.create(patient=patient, pain_now=11))


def test_measure_score_is_0_to_100(patient):
    refused(
        lambda: MeasureResponse.objects.create(
            patient=patient,
            instrument="hoos_jr",
            instrument_version="1.0",
            answers={},
            raw_score=0,
            score=101,
            taken_at=timezone.now(),
        )
    )


def test_discharged_patient_needs_a_discharge_time(patient):
    patient.status = Patient.Status.DISCHARGED
    refused(patient.save)


def test_reminder_weekday_mask_has_seven_bits(patient):
    patient.reminder_weekdays = 128
    refused(patient.save)
