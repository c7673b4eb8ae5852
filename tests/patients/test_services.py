import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from patients import services
from patients.models import Patient
from tests import factories

pytestmark = pytest.mark.django_db


def test_patient_create_opens_an_invite_and_sets_posterior_precautions(clinic, therapist):
    patient = factories.create_patient(clinic=clinic, therapist=therapist)
    assert patient.invite_is_open
    assert len(patient.invite_code) == services.INVITE_LENGTH
    assert set(patient.precaution_tags) == {
        "hip-flexion-over-90",
        "hip-adduction-past-midline",
        "hip-internal-rotation",
    }
    assert patient.timezone == clinic.timezone
    assert patient.reminder_time == clinic.default_reminder_time


def test_patient_create_refuses_a_therapist_of_another_clinic(clinic):
    with pytest.raises(ValidationError):
        factories.create_patient(clinic=clinic, therapist=factories.PractitionerFactory())


def test_patient_create_refuses_an_unknown_time_zone(clinic, therapist):
    with pytest.raises(ValidationError) as error:
        factories.create_patient(clinic=clinic, therapist=therapist, timezone_name="Mars/Olympus")
    assert "timezone" in error.value.message_dict
    assert not Patient.objects.exists()


def test_claim_creates_the_login_and_the_code_works_once(patient):
    code = patient.invite_code
    services.patient_claim(invite_code=code.lower(), username="alexm", password="a-long-pass-42")
    patient.refresh_from_db()
    assert patient.user.username == "alexm"
    assert patient.user.check_password("a-long-pass-42")
    assert patient.invite_code is None
    with pytest.raises(ValidationError) as error:
        services.patient_claim(invite_code=code, username="other", password="a-long-pass-42")
    assert "invite_code" in error.value.message_dict


def test_an_expired_invite_cannot_be_claimed(patient):
    patient.invite_expires_at = timezone.now() - dt.timedelta(minutes=1)
    patient.save()
    with pytest.raises(ValidationError):
        services.patient_claim(
            invite_code=patient.invite_code, username="alexm", password="a-long-pass-42"
        )


def test_a_weak_password_is_refused_and_nothing_is_created(patient):
    with pytest.raises(ValidationError) as error:
        services.patient_claim(invite_code=patient.invite_code, username="alexm", password="123")
    assert "password" in error.value.message_dict
    patient.refresh_from_db()
    assert patient.user is None


def test_regenerating_the_invite_replaces_the_code(patient):
    old = patient.invite_code
    services.patient_invite_regenerate(patient=patient)
    assert patient.invite_code != old
    assert not Patient.objects.filter(invite_code=old).exists()


def test_reminder_preferences_validate_quiet_hours_and_time_zone(patient):
    services.patient_update_reminders(
        patient=patient, reminder_time=dt.time(7, 30), timezone="Europe/London"
    )
    patient.refresh_from_db()
    assert (patient.reminder_time, patient.timezone) == (dt.time(7, 30), "Europe/London")
    with pytest.raises(ValidationError):
        services.patient_update_reminders(patient=patient, quiet_hours_start=dt.time(22, 0))
    with pytest.raises(ValidationError):
        services.patient_update_reminders(patient=patient, first_name="Mallory")
