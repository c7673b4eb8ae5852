"""API client fixtures shared by every API test (patient and therapist endpoints)."""

from collections.abc import Callable

import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from clinic.models import Practitioner
from patients import services as patient_services
from tests import factories


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
