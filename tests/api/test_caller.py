"""The caller statement (api/caller.py) must load exactly what the ORM's select_related does."""

import datetime as dt
import time
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient
from rest_framework_simplejwt.backends import TokenBackend
from rest_framework_simplejwt.tokens import AccessToken

from api.caller import caller_query
from clinic.models import Practitioner
from patients.models import Patient

pytestmark = pytest.mark.django_db

RELATION_SETS = [("patient",), ("practitioner__clinic",), ("patient", "practitioner__clinic")]


def field_values(instance) -> dict:
    return {f.attname: getattr(instance, f.attname) for f in instance._meta.concrete_fields}


def assert_same_instance(loaded, expected) -> None:
    assert type(loaded) is type(expected)
    assert field_values(loaded) == field_values(expected)
    assert (loaded._state.adding, loaded._state.db) == (False, expected._state.db)
    assert loaded.get_deferred_fields() == set()


@pytest.fixture
def detailed_patient_user(patient_user):
    # Values that need a converter or a type of their own: JSON, decimal, time, dates.
    patient = patient_user.patient
    patient.precaution_tags = ["hip-flexion-over-90", "no-crossing-legs"]
    patient.adherence_alert_below = Decimal("0.55")
    patient.quiet_hours_start, patient.quiet_hours_end = dt.time(21, 30), dt.time(7, 15)
    patient.date_of_birth = dt.date(1961, 4, 2)
    patient.save()
    return patient_user


@pytest.fixture
def profileless_user(db):
    return get_user_model().objects.create_user("no-profile", password="x-long-password-1")


@pytest.mark.parametrize("relations", RELATION_SETS)
@pytest.mark.parametrize(
    "user_fixture", ["detailed_patient_user", "therapist_user", "profileless_user"]
)
def test_the_caller_loads_as_select_related_does(
    request, django_assert_num_queries, relations, user_fixture
):
    user_id = request.getfixturevalue(user_fixture).pk
    expected = get_user_model().objects.select_related(*relations).get(pk=user_id)

    with django_assert_num_queries(1):
        loaded = caller_query(relations).load(user_id)

    assert_same_instance(loaded, expected)
    with django_assert_num_queries(0):  # every relation asked for is cached, present or not
        for relation in relations:
            name = relation.split("__")[0]
            assert name in loaded._state.fields_cache
            assert name in expected._state.fields_cache
            profile, expected_profile = (
                loaded._state.fields_cache[name],
                expected._state.fields_cache[name],
            )
            assert (profile is None) == (expected_profile is None)
            if profile is None:
                with pytest.raises((Patient.DoesNotExist, Practitioner.DoesNotExist)):
                    getattr(loaded, name)
                continue
            assert_same_instance(profile, expected_profile)
            assert profile.user is loaded
            if name == "practitioner":
                assert_same_instance(profile.clinic, expected_profile.clinic)


def test_the_json_and_decimal_columns_come_back_as_python_values(detailed_patient_user):
    patient = caller_query(("patient",)).load(detailed_patient_user.pk).patient

    assert patient.precaution_tags == ["hip-flexion-over-90", "no-crossing-legs"]
    assert patient.adherence_alert_below == Decimal("0.55")
    assert patient.quiet_hours_start == dt.time(21, 30)


def test_an_unknown_user_loads_nothing(db):
    assert caller_query(("patient",)).load(987654321) is None


# --- verified tokens kept per process (CallerJWTAuthentication.get_validated_token) ----------


def _bearer(token) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def test_a_token_is_decoded_once_then_served_from_the_kept_ones(therapist_user, monkeypatch):
    decoded = []
    real = TokenBackend.decode

    def counting(self, token, verify=True):
        decoded.append(token)
        return real(self, token, verify=verify)

    monkeypatch.setattr(TokenBackend, "decode", counting)
    client = _bearer(AccessToken.for_user(therapist_user))

    assert [client.get("/api/v1/patients/").status_code for _ in range(3)] == [200] * 3
    assert len(decoded) == 1


def test_a_kept_token_still_expires(therapist_user):
    token = AccessToken.for_user(therapist_user)
    token.set_exp(lifetime=dt.timedelta(seconds=1))
    client = _bearer(token)
    assert client.get("/api/v1/patients/").status_code == 200  # verified and kept
    time.sleep(max(0.0, token["exp"] - time.time()) + 0.05)

    response = client.get("/api/v1/patients/")

    assert response.status_code == 401


def test_a_kept_token_of_a_deactivated_user_is_refused(therapist_user):
    client = _bearer(AccessToken.for_user(therapist_user))
    assert client.get("/api/v1/patients/").status_code == 200
    therapist_user.is_active = False
    therapist_user.save()

    assert client.get("/api/v1/patients/").status_code == 401


def test_a_forged_token_is_refused_even_beside_a_kept_one(therapist_user):
    token = str(AccessToken.for_user(therapist_user))
    assert _bearer(token).get("/api/v1/patients/").status_code == 200
    header, payload, signature = token.split(".")
    forged = f"{header}.{payload}.{signature[:-4]}AAAA"

    assert _bearer(forged).get("/api/v1/patients/").status_code == 401
