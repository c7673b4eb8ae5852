import datetime as dt
import uuid

import pytest
from django.core.cache import cache
from django.utils import timezone

from patients.models import Patient
from patients.services import patient_claim
from programs.models import (
    Alert,
    ExerciseLog,
    PrescribedExercise,
    Prescription,
    PrescriptionPeriod,
    Protocol,
    SessionLog,
)
from programs.services import program_assign
from tests import factories

THR = "total-hip-replacement-posterior"


@pytest.fixture(autouse=True)
def _empty_cache(settings):
    """The patient page caches per patient: test databases reuse ids, so start each test empty.

    In this process's memory, not the shared Redis: clearing Redis (a flush of its database)
    from one xdist worker emptied the other worker's cache between two views of a test.
    """
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    }
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def staff_client(client, therapist):
    client.force_login(therapist.user)
    return client


@pytest.fixture
def thr_protocol(db):
    return Protocol.objects.get(slug=THR)


@pytest.fixture
def thr_prescription(patient, therapist, thr_protocol):
    """The fixture patient (posterior hip replacement) on the THR protocol for five weeks."""
    start = patient.local_date() - dt.timedelta(weeks=5)
    return program_assign(
        patient=patient, prescriber=therapist, protocol=thr_protocol, start_date=start
    )


@pytest.fixture
def other_clinic_patient(db):
    clinic = factories.ClinicFactory()
    therapist = factories.PractitionerFactory(clinic=clinic)
    patient = factories.create_patient(clinic=clinic, therapist=therapist, first_name="Other")
    prescription = program_assign(
        patient=patient,
        prescriber=therapist,
        protocol=Protocol.objects.get(slug=THR),
        start_date=patient.local_date() - dt.timedelta(weeks=2),
    )
    alert = Alert.objects.create(
        clinic=clinic, patient=patient, kind="inactive", severity="warning", message="Inactive"
    )
    return patient, prescription, alert


@pytest.fixture
def patient_client(client, clinic, therapist):
    """A logged-in patient account (claimed through the app's invite flow)."""
    patient = factories.create_patient(clinic=clinic, therapist=therapist, first_name="Pat")
    patient = patient_claim(
        invite_code=patient.invite_code, username="pat-app", password=factories.PASSWORD
    )
    client.force_login(patient.user)
    return client


def add_sessions(
    prescription: Prescription,
    days: int,
    *,
    notes: str = "",
    pain_after: int = 3,
) -> list[SessionLog]:
    """One session a day for the last `days` days (bulk), each with an entry per exercise."""
    patient = prescription.patient
    today = patient.local_date()
    items = list(PrescribedExercise.objects.filter(prescription=prescription, active=True))
    sessions = SessionLog.objects.bulk_create(
        [
            SessionLog(
                prescription=prescription,
                patient=patient,
                client_id=uuid.uuid4(),
                performed_at=dt.datetime.combine(
                    today - dt.timedelta(days=offset), dt.time(8), tzinfo=patient.tzinfo
                ),
                local_date=today - dt.timedelta(days=offset),
                phase=prescription.current_phase,
                pain_before=4,
                pain_after=pain_after,
                difficulty=5,
                duration_minutes=30,
                notes=notes,
            )
            for offset in range(1, days + 1)
            if today - dt.timedelta(days=offset) >= prescription.start_date
        ]
    )
    ExerciseLog.objects.bulk_create(
        [
            ExerciseLog(
                session=session,
                prescribed_exercise=item,
                sets_done=item.sets,
                reps_done=item.reps,
                completed=index % 5 != 0,
                skipped_reason="" if index % 5 else "Too sore",
            )
            for session in sessions
            for index, item in enumerate(items)
        ]
    )
    return sessions


def build_caseload(clinic, therapist, protocol, count: int) -> list[Patient]:
    """`count` patients on a protocol with a week of sessions and some open alerts, in bulk."""
    phase = protocol.phases.order_by("order").first()
    today = timezone.now().astimezone(dt.UTC).date()
    start = today - dt.timedelta(weeks=3)
    offset = Patient.objects.count()
    patients = Patient.objects.bulk_create(
        [
            Patient(
                clinic=clinic,
                therapist=therapist,
                first_name=f"Bulk{offset + n:04d}",
                last_name=f"Patient{offset + n:04d}",
                condition="total_hip_replacement",
                side="left",
                timezone="America/New_York",
            )
            for n in range(count)
        ]
    )
    prescriptions = Prescription.objects.bulk_create(
        [
            Prescription(
                patient=p,
                prescriber=therapist,
                protocol=protocol,
                name=protocol.name,
                current_phase=phase,
                start_date=start,
                phase_started_on=start,
                sessions_per_week=5,
            )
            for p in patients
        ]
    )
    PrescriptionPeriod.objects.bulk_create(
        [
            PrescriptionPeriod(
                prescription=rx, kind="phase", phase=phase, sessions_per_week=5, started_on=start
            )
            for rx in prescriptions
        ]
    )
    SessionLog.objects.bulk_create(
        [
            SessionLog(
                prescription=rx,
                patient=rx.patient,
                client_id=uuid.uuid4(),
                performed_at=dt.datetime.combine(
                    today - dt.timedelta(days=d), dt.time(12), tzinfo=dt.UTC
                ),
                local_date=today - dt.timedelta(days=d),
                phase=phase,
                pain_before=5,
                pain_after=(n + d) % 7,
            )
            for n, rx in enumerate(prescriptions)
            for d in range(1, 8)
        ]
    )
    Alert.objects.bulk_create(
        [
            Alert(
                clinic=clinic,
                patient=p,
                kind="low_adherence" if n % 2 else "red_flag",
                severity="warning" if n % 2 else "urgent",
                message="Bulk alert",
            )
            for n, p in enumerate(patients)
            if n % 3 == 0
        ]
    )
    return patients
