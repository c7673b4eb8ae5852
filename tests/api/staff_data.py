"""Data builders for the staff-endpoint tests (through the services, like the app writes it)."""

import datetime as dt
import uuid

from django.utils import timezone

from clinic.models import Clinic, Practitioner
from patients.models import Patient
from programs import alerts as program_alerts
from programs import services as program_services
from programs.models import Alert, Prescription, SessionLog
from tests import factories


def log_session(
    patient: Patient,
    *,
    days_ago: int = 0,
    pain_after: int | None = 3,
    prescription: Prescription | None = None,
    with_entries: bool = True,
) -> SessionLog:
    prescription = prescription or patient.prescriptions.exclude(status="completed").first()
    assert prescription is not None
    entries = []
    if with_entries:
        entries = [
            program_services.ExerciseEntry(
                prescribed_exercise_id=entry.pk, sets_done=2, reps_done=10
            )
            for entry in prescription.exercises.filter(active=True)
        ]
    session, _ = program_services.session_record(
        patient=patient,
        client_id=uuid.uuid4(),
        performed_at=timezone.now() - dt.timedelta(days=days_ago),
        prescription_id=prescription.pk,
        pain_before=2,
        pain_after=pain_after,
        entries=entries,
    )
    return session


def open_alert(
    patient: Patient, kind: str = Alert.Kind.INACTIVE, severity: str = Alert.Severity.WARNING
) -> Alert:
    alert = program_alerts.alert_open(
        patient=patient, kind=kind, severity=severity, message=f"{kind} for {patient.full_name}"
    )
    assert alert is not None
    return alert


def patient_with_program(
    clinic: Clinic, therapist: Practitioner, *, start_days_ago: int = 14, **fields
) -> Patient:
    """A patient on a custom two-exercise program that started `start_days_ago` days ago."""
    patient = factories.create_patient(clinic=clinic, therapist=therapist, **fields)
    factories.assign_custom_program(
        patient=patient,
        prescriber=therapist,
        exercises=factories.ExerciseFactory.create_batch(2),
        start_date=patient.local_date() - dt.timedelta(days=start_days_ago),
    )
    return patient


def busy_clinic_patients(
    clinic: Clinic, therapist: Practitioner, count: int, *, first: int = 0
) -> list[Patient]:
    """`count` patients, each with a program, two sessions with pain and an open alert."""
    patients = []
    for index in range(first, first + count):
        patient = patient_with_program(
            clinic, therapist, first_name=f"P{index:03d}", last_name=f"Busy{index:03d}"
        )
        log_session(patient, days_ago=1, with_entries=False)
        log_session(patient, days_ago=9, pain_after=6, with_entries=False)
        open_alert(patient)
        patients.append(patient)
    return patients
