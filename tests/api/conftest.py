"""API client fixtures shared by every API test (patient and therapist endpoints)."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from clinic.models import Practitioner
from patients import services as patient_services
from tests import factories

GENEROUS_RATES = {
    "login": "10000/min",
    "claim": "10000/min",
    "session_write": "10000/min",
    "sync": "10000/min",
    "write": "10000/min",
}


@pytest.fixture(autouse=True)
def _generous_throttles(settings):
    """Throttle counters live in the cache, which outlives a test (and is shared by xdist
    workers on Redis): lift the rates so unrelated tests never trip them. Throttle tests set
    `throttle_rates(...)` and use their own client address.
    """
    rates = {**settings.REST_FRAMEWORK.get("DEFAULT_THROTTLE_RATES", {}), **GENEROUS_RATES}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}


@pytest.fixture
def throttle_rates(settings) -> Callable[..., None]:
    """`throttle_rates(login="3/min")`: set real rates for a throttle test."""

    def apply(**rates: str) -> None:
        current = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
        settings.REST_FRAMEWORK = {
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {**current, **rates},
        }

    return apply


@pytest.fixture
def api_client() -> APIClient:
    """An anonymous client."""
    return APIClient()


@pytest.fixture
def auth_client(db) -> Callable[..., APIClient]:
    """Factory: `auth_client(user)` → an APIClient sending that user's JWT access token."""

    def make(user) -> APIClient:
        client = APIClient()
        access = RefreshToken.for_user(user).access_token
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
        return client

    return make


def claim_patient(patient, username: str):
    """Claim a patient's invite through the service; returns the patient's user."""
    claimed = patient_services.patient_claim(
        invite_code=patient.invite_code, username=username, password=factories.PASSWORD
    )
    return claimed.user


@pytest.fixture
def therapist_user(therapist):
    """The user of `therapist` (the patients' own therapist, clinic `clinic`)."""
    return therapist.user


@pytest.fixture
def clinic_admin_user(clinic):
    return factories.PractitionerFactory(clinic=clinic, role=Practitioner.Role.ADMIN).user


@pytest.fixture
def other_clinic(db):
    return factories.ClinicFactory()


@pytest.fixture
def other_clinic_therapist(other_clinic):
    return factories.PractitionerFactory(clinic=other_clinic)


@pytest.fixture
def other_clinic_therapist_user(other_clinic_therapist):
    return other_clinic_therapist.user


@pytest.fixture
def patient_user(patient, prescription):
    """A claimed patient (`patient`, clinic `clinic`) with an active program (`prescription`)."""
    return claim_patient(patient, "patient-a")


@pytest.fixture
def other_patient(clinic, therapist):
    return factories.create_patient(
        clinic=clinic, therapist=therapist, first_name="Blake", email="blake@example.org"
    )


@pytest.fixture
def other_prescription(other_patient, therapist):
    exercises = factories.ExerciseFactory.create_batch(2)
    return factories.assign_custom_program(
        patient=other_patient, prescriber=therapist, exercises=exercises
    )


@pytest.fixture
def other_patient_user(other_patient, other_prescription):
    """A second claimed patient of the same clinic, with their own active program."""
    return claim_patient(other_patient, "patient-b")


def queries_outside_audit(captured: list[dict]) -> list[str]:
    """SQL of captured queries, leaving out the audit trail's own writes (clinic/audit.py) and
    transaction control: query budgets here are about the endpoint's work; the audit adds a
    fixed insert per request, and a write runs in one transaction with savepoints inside.
    """
    return [q["sql"] for q in captured if not is_audit_or_transaction_control(q["sql"])]


def is_audit_or_transaction_control(sql: str) -> bool:
    """The audit trail's statements (its insert, its commit mode) and BEGIN, COMMIT,
    SAVEPOINT, RELEASE SAVEPOINT, ROLLBACK: not work of the endpoint."""
    return (
        "clinic_auditevent" in sql
        or "synchronous_commit" in sql
        or sql.lstrip().upper().startswith(("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE", "ROLLBACK"))
    )


@contextmanager
def redis_commands() -> Iterator[list[str]]:
    """The commands the default cache's Redis client sent meanwhile, one entry per round trip
    (redis-py's own calls, spied on and passed through): a command's name, or a pipeline's
    as "PIPELINE(SET SET)"."""
    from django.core.cache import caches
    from redis.client import Pipeline

    client = caches["default"]._cache.get_client(write=True)
    real, real_pipeline = type(client).execute_command, Pipeline.execute
    sent: list[str] = []

    def counting(self, *args, **options):
        sent.append(args[0])
        return real(self, *args, **options)

    def counting_pipeline(self, *args, **options):
        if self.command_stack:
            sent.append(f"PIPELINE({' '.join(str(c[0][0]) for c in self.command_stack)})")
        return real_pipeline(self, *args, **options)

    type(client).execute_command = counting
    Pipeline.execute = counting_pipeline
    try:
        yield sent
    finally:
        type(client).execute_command = real
        Pipeline.execute = real_pipeline
