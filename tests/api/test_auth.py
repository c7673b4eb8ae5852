import datetime as dt
import uuid

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from api.tokens import CALLER_CLAIM
from patients.models import Patient
from tests import factories

pytestmark = pytest.mark.django_db

TOKEN = "/api/v1/auth/token/"
REFRESH = "/api/v1/auth/token/refresh/"
LOGOUT = "/api/v1/auth/logout/"
CLAIM = "/api/v1/auth/claim/"
ME = "/api/v1/me/"


def unique_address() -> str:
    """A client address no other test (or xdist worker sharing Redis) uses."""
    value = uuid.uuid4().int
    return f"10.{value % 250}.{(value >> 8) % 250}.{(value >> 16) % 250 + 1}"


def login(client: APIClient, username: str, password: str = factories.PASSWORD, **extra):
    return client.post(TOKEN, {"username": username, "password": password}, format="json", **extra)


def bearer(access: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


def assert_error(response, status: int, error_type: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["type"] == error_type
    assert body["detail"]
    return body


# --- obtaining tokens --------------------------------------------------------------------------


def test_login_returns_tokens_that_open_the_patient_endpoints(api_client, patient_user):
    response = login(api_client, patient_user.username)

    assert response.status_code == 200
    tokens = response.json()
    assert set(tokens) == {"access", "refresh"}
    assert bearer(tokens["access"]).get(ME).status_code == 200


def test_wrong_password_is_refused_with_the_error_shape(api_client, patient_user):
    response = login(api_client, patient_user.username, "not-the-password")

    assert_error(response, 401, "not_authenticated")


def test_missing_credentials_answer_400_with_field_errors(api_client):
    response = api_client.post(TOKEN, {"username": "someone"}, format="json")

    body = assert_error(response, 400, "invalid")
    assert "password" in body["errors"]


def test_jwt_logins_and_calls_create_no_session_rows(api_client, patient_user):
    tokens = login(api_client, patient_user.username).json()
    client = bearer(tokens["access"])
    client.get(ME)
    client.get("/api/v1/me/plan/")
    api_client.post(REFRESH, {"refresh": tokens["refresh"]}, format="json")

    assert Session.objects.count() == 0


# --- expiry ------------------------------------------------------------------------------------


def test_an_expired_access_token_is_refused(patient_user):
    access = AccessToken.for_user(patient_user)
    access.set_exp(from_time=timezone.now() - dt.timedelta(hours=1), lifetime=dt.timedelta(0))

    response = bearer(str(access)).get(ME)

    assert_error(response, 401, "not_authenticated")


def test_an_expired_refresh_token_is_refused(api_client, patient_user):
    refresh = RefreshToken.for_user(patient_user)
    refresh.set_exp(from_time=timezone.now() - dt.timedelta(days=31), lifetime=dt.timedelta(0))

    response = api_client.post(REFRESH, {"refresh": str(refresh)}, format="json")

    assert_error(response, 401, "not_authenticated")


def test_a_tampered_access_token_is_refused(patient_user):
    access = str(AccessToken.for_user(patient_user))

    response = bearer(access[:-2] + ("A" if access[-2] != "A" else "B") + access[-1]).get(ME)

    assert response.status_code == 401


# --- refresh rotation and blacklisting ---------------------------------------------------------


def test_refresh_rotates_and_the_used_refresh_token_is_refused(api_client, patient_user):
    first = login(api_client, patient_user.username).json()

    rotated = api_client.post(REFRESH, {"refresh": first["refresh"]}, format="json")

    assert rotated.status_code == 200
    second = rotated.json()
    assert second["refresh"] != first["refresh"]
    assert bearer(second["access"]).get(ME).status_code == 200
    reused = api_client.post(REFRESH, {"refresh": first["refresh"]}, format="json")
    assert_error(reused, 401, "not_authenticated")
    # The rotated one still works (once).
    assert (
        api_client.post(REFRESH, {"refresh": second["refresh"]}, format="json").status_code == 200
    )


def test_an_access_token_is_not_accepted_as_a_refresh_token(api_client, patient_user):
    tokens = login(api_client, patient_user.username).json()

    response = api_client.post(REFRESH, {"refresh": tokens["access"]}, format="json")

    assert_error(response, 401, "not_authenticated")


def test_refresh_for_a_deleted_account_is_refused(api_client, therapist_user):
    refresh = str(RefreshToken.for_user(therapist_user))
    user = factories.UserFactory()
    orphan = RefreshToken.for_user(user)
    user.delete()

    assert api_client.post(REFRESH, {"refresh": refresh}, format="json").status_code == 200
    response = api_client.post(REFRESH, {"refresh": str(orphan)}, format="json")
    assert_error(response, 401, "not_authenticated")


# --- logout ------------------------------------------------------------------------------------


def test_logout_blacklists_the_refresh_token(api_client, patient_user):
    tokens = login(api_client, patient_user.username).json()

    response = api_client.post(LOGOUT, {"refresh": tokens["refresh"]}, format="json")

    assert response.status_code == 204
    refused = api_client.post(REFRESH, {"refresh": tokens["refresh"]}, format="json")
    assert_error(refused, 401, "not_authenticated")


def test_logout_with_a_bad_or_missing_token(api_client):
    assert_error(
        api_client.post(LOGOUT, {"refresh": "nonsense"}, format="json"), 401, "not_authenticated"
    )
    assert_error(api_client.post(LOGOUT, {}, format="json"), 400, "invalid")


# --- claiming an invite ------------------------------------------------------------------------


NEW_PASSWORD = "Trail-walk-42"


def claim(
    client: APIClient, code: str, username: str = "new-patient", password: str = NEW_PASSWORD
):
    return client.post(
        CLAIM, {"invite_code": code, "username": username, "password": password}, format="json"
    )


def test_claiming_an_invite_creates_the_login_and_returns_tokens(api_client, patient):
    response = claim(api_client, patient.invite_code.lower())

    assert response.status_code == 201
    body = response.json()
    patient.refresh_from_db()
    assert patient.user.username == "new-patient"
    assert body["patient"] == {
        "id": patient.pk,
        "first_name": patient.first_name,
        "last_name": patient.last_name,
    }
    assert bearer(body["access"]).get(ME).json()["id"] == patient.pk
    assert login(api_client, "new-patient", "Trail-walk-42").status_code == 200


def test_a_claimed_invite_is_refused_the_second_time(api_client, patient):
    code = patient.invite_code
    assert claim(api_client, code).status_code == 201

    response = claim(api_client, code, username="someone-else")

    body = assert_error(response, 400, "invalid")
    assert "invite_code" in body["errors"]
    assert get_user_model().objects.filter(username="someone-else").count() == 0


def test_an_expired_invite_is_refused(api_client, patient):
    Patient.objects.filter(pk=patient.pk).update(
        invite_expires_at=timezone.now() - dt.timedelta(minutes=1)
    )

    body = assert_error(claim(api_client, patient.invite_code), 400, "invalid")

    assert "invite_code" in body["errors"]


@pytest.mark.parametrize(
    ("username", "password", "field"),
    [
        ("ok-name", "123", "password"),
        ("ok-name", "password", "password"),
        ("bad name!", "Trail-walk-42", "username"),
        ("", "Trail-walk-42", "username"),
    ],
)
def test_claim_field_errors(api_client, patient, username, password, field):
    body = assert_error(claim(api_client, patient.invite_code, username, password), 400, "invalid")

    assert field in body["errors"]
    patient.refresh_from_db()
    assert patient.user_id is None


def test_claim_refuses_a_taken_username(api_client, patient, therapist_user):
    body = assert_error(
        claim(api_client, patient.invite_code, username=therapist_user.username.upper()),
        400,
        "invalid",
    )

    assert "username" in body["errors"]


# --- lockout and throttling --------------------------------------------------------------------


def test_repeated_bad_logins_lock_the_account_out(api_client, patient_user):
    address = unique_address()
    limit = settings.AXES_FAILURE_LIMIT
    for _ in range(limit - 1):
        assert (
            login(api_client, patient_user.username, "wrong", REMOTE_ADDR=address).status_code
            == 401
        )

    locking = login(api_client, patient_user.username, "wrong", REMOTE_ADDR=address)
    with_right_password = login(api_client, patient_user.username, REMOTE_ADDR=address)

    assert_error(locking, 429, "throttled")
    body = assert_error(with_right_password, 429, "throttled")
    assert "failed logins" in body["detail"]
    assert int(with_right_password["Retry-After"]) > 0
    # Lockout is per username and address: the same person elsewhere is not locked out.
    assert login(api_client, patient_user.username, REMOTE_ADDR=unique_address()).status_code == 200


def test_a_successful_login_resets_the_failure_count(api_client, patient_user):
    address = unique_address()
    limit = settings.AXES_FAILURE_LIMIT
    for _ in range(limit - 1):
        login(api_client, patient_user.username, "wrong", REMOTE_ADDR=address)
    assert login(api_client, patient_user.username, REMOTE_ADDR=address).status_code == 200

    for _ in range(limit - 1):
        assert (
            login(api_client, patient_user.username, "wrong", REMOTE_ADDR=address).status_code
            == 401
        )
    assert login(api_client, patient_user.username, REMOTE_ADDR=address).status_code == 200


def test_login_attempts_are_throttled_per_address(api_client, patient_user, throttle_rates):
    throttle_rates(login="3/min")
    address = unique_address()
    for _ in range(3):
        assert login(api_client, "nobody", "wrong", REMOTE_ADDR=address).status_code == 401

    response = login(api_client, patient_user.username, REMOTE_ADDR=address)

    assert_error(response, 429, "throttled")
    assert "Retry-After" in response
    assert login(api_client, patient_user.username, REMOTE_ADDR=unique_address()).status_code == 200


def test_claim_attempts_are_throttled(api_client, patient, throttle_rates):
    throttle_rates(claim="2/min")
    address = unique_address()
    for _ in range(2):
        response = api_client.post(
            CLAIM,
            {"invite_code": "WRONG123", "username": "x-user", "password": "Trail-walk-42"},
            format="json",
            REMOTE_ADDR=address,
        )
        assert response.status_code == 400

    response = api_client.post(
        CLAIM,
        {"invite_code": patient.invite_code, "username": "x-user", "password": "Trail-walk-42"},
        format="json",
        REMOTE_ADDR=address,
    )

    assert_error(response, 429, "throttled")


# --- the caller claim: which profile authentication loads --------------------------------------

PATIENTS = "/api/v1/patients/"


def _auth_query(client: APIClient, path: str) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as queries:
        status = client.get(path).status_code
    return status, next(q["sql"] for q in queries.captured_queries if '"auth_user"' in q["sql"])


@pytest.mark.parametrize(
    ("user_fixture", "kind", "path", "joined", "left_out"),
    [
        ("patient_user", "patient", ME, "patients_patient", "clinic_practitioner"),
        ("therapist_user", "staff", PATIENTS, "clinic_practitioner", "patients_patient"),
    ],
)
def test_tokens_name_the_caller_and_authentication_joins_only_that_profile(
    request, api_client, user_fixture, kind, path, joined, left_out
):
    user = request.getfixturevalue(user_fixture)
    tokens = login(api_client, user.username).json()
    refreshed = api_client.post(REFRESH, {"refresh": tokens["refresh"]}, format="json").json()

    assert AccessToken(tokens["access"])[CALLER_CLAIM] == kind
    assert AccessToken(refreshed["access"])[CALLER_CLAIM] == kind
    assert RefreshToken(refreshed["refresh"])[CALLER_CLAIM] == kind
    status, sql = _auth_query(bearer(tokens["access"]), path)
    assert status == 200
    assert f'"{joined}"' in sql
    assert f'"{left_out}"' not in sql


def test_a_claimed_invite_token_names_a_patient(api_client, patient):
    response = api_client.post(
        CLAIM,
        {"invite_code": patient.invite_code, "username": "claimer", "password": "A-long-pass-42"},
        format="json",
    )

    assert response.status_code == 201
    assert AccessToken(response.json()["access"])[CALLER_CLAIM] == "patient"


def test_a_token_without_the_claim_loads_both_profiles(patient_user):
    status, sql = _auth_query(bearer(str(RefreshToken.for_user(patient_user).access_token)), ME)

    assert status == 200
    assert '"patients_patient"' in sql
    assert '"clinic_practitioner"' in sql


def test_the_claim_grants_nothing(patient_user, therapist_user):
    # A claim naming the wrong profile only changes what is joined: the permissions still
    # read the real profile (one more query), so a patient stays out of staff endpoints.
    patient_as_staff = RefreshToken.for_user(patient_user)
    patient_as_staff[CALLER_CLAIM] = "staff"
    therapist_as_patient = RefreshToken.for_user(therapist_user)
    therapist_as_patient[CALLER_CLAIM] = "patient"

    assert bearer(str(patient_as_staff.access_token)).get(PATIENTS).status_code == 403
    assert bearer(str(patient_as_staff.access_token)).get(ME).status_code == 200
    assert bearer(str(therapist_as_patient.access_token)).get(ME).status_code == 403
    assert bearer(str(therapist_as_patient.access_token)).get(PATIENTS).status_code == 200
