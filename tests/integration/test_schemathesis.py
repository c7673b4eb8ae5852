"""Schema fuzzing: schemathesis drives every operation of the live app (in-process WSGI).

Each operation is its own test on a freshly seeded clinic, so a destructive example (discharge,
logout, complete) only affects the later examples of that same operation. Requests carry a
valid token: the patient's for `me/...`, the therapist's otherwise. Path ids are the seeded
objects' ids in most examples (so the handlers run for real) and fuzzed ids in the rest.

Checks: no 5xx (`not_a_server_error`) and every response matches its documented schema
(`response_schema_conformance`), for valid (positive) and invalid (negative) inputs alike.
Runs against PostgreSQL (the `schema_fuzz` marker fails in CI without it, skips locally).
"""

import datetime as dt
import os
from collections.abc import Iterator

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework_simplejwt.tokens import RefreshToken
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error, response_schema_conformance

from patients import services as patient_services
from programs import services as program_services
from programs.models import Alert, Exercise, Protocol
from tests import factories
from tests.api.staff_data import log_session, open_alert

pytestmark = [pytest.mark.schema_fuzz, pytest.mark.django_db(transaction=False)]

# Per operation; a deeper local hunt: SCHEMA_FUZZ_EXAMPLES=200 pytest tests/integration/...
MAX_EXAMPLES = int(os.environ.get("SCHEMA_FUZZ_EXAMPLES", "20"))
METHODS = ("get", "post", "put", "patch", "delete")
OPERATIONS = sorted(
    (path, method.upper())
    for path, item in SchemaGenerator().get_schema(request=None, public=True)["paths"].items()
    for method in item
    if method in METHODS
)
_loaded: dict[str, schemathesis.BaseSchema] = {}


@pytest.fixture
def api_schema(db) -> Iterator[schemathesis.BaseSchema]:
    """The app's own /api/v1/schema/, loaded once per process, calling the app in-process.

    Like Django's test client, requests must not close the database connection at their end
    (`close_old_connections`): it holds the test's transaction.
    """
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield _schema()
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


def _schema() -> schemathesis.BaseSchema:
    if "schema" not in _loaded:
        _loaded["schema"] = schemathesis.openapi.from_wsgi(
            "/api/v1/schema/", get_wsgi_application()
        )
    return _loaded["schema"]


@pytest.fixture
def seeded(settings):
    rates = dict.fromkeys(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "100000/min")
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    clinic = factories.ClinicFactory()
    therapist = factories.PractitionerFactory(clinic=clinic)
    patient = factories.create_patient(clinic=clinic, therapist=therapist)
    program = program_services.program_assign(
        patient=patient,
        prescriber=therapist,
        protocol=Protocol.objects.get(slug="total-hip-replacement-posterior"),
        start_date=patient.local_date() - dt.timedelta(days=30),
    )
    for days_ago in (20, 9, 2, 1):
        session = log_session(patient, days_ago=days_ago, pain_after=days_ago % 7)
    program_services.measure_submit(patient=patient, instrument="nprs", answers={"pain": 4})
    program_services.checkin_record(patient=patient, pain_now=3, answers={"fall_or_injury": True})
    alert = open_alert(patient, Alert.Kind.INACTIVE)
    patient = patient_services.patient_claim(
        invite_code=patient.invite_code, username="fuzz-patient", password=factories.PASSWORD
    )
    ids = {
        "patient": patient.pk,
        "prescription": program.pk,
        "entry_id": program.exercises.filter(active=True).first().pk,
        "alert": alert.pk,
        "session": session.pk,
        "exercise": Exercise.objects.get(slug="bridges").pk,
        "protocol": program.protocol_id,
    }
    tokens = {
        "patient": str(RefreshToken.for_user(patient.user).access_token),
        "therapist": str(RefreshToken.for_user(therapist.user).access_token),
    }
    return ids, tokens


def real_path_ids(path: str, ids: dict[str, int]) -> dict[str, int]:
    """The seeded object for each path parameter of `path`."""
    chosen: dict[str, int] = {}
    if "{patient_pk}" in path:
        chosen["patient_pk"] = ids["patient"]
        if "/prescriptions/{id}/" in path:
            chosen["id"] = ids["prescription"]
    elif path.startswith("/api/v1/patients/{id}/"):
        chosen["id"] = ids["patient"]
    elif path.startswith("/api/v1/alerts/{id}/"):
        chosen["id"] = ids["alert"]
    elif path.startswith("/api/v1/me/sessions/{id}/"):
        chosen["id"] = ids["session"]
    elif path.startswith("/api/v1/exercises/{id}/"):
        chosen["id"] = ids["exercise"]
    elif path.startswith("/api/v1/protocols/{id}/"):
        chosen["id"] = ids["protocol"]
    if "{entry_id}" in path:
        chosen["entry_id"] = ids["entry_id"]
    return chosen


def strategy_for(operation):
    return st.one_of(
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    )


@pytest.mark.parametrize(("path", "method"), OPERATIONS, ids=[f"{m} {p}" for p, m in OPERATIONS])
def test_operation_survives_fuzzing(api_schema, seeded, path, method):
    ids, tokens = seeded
    operation = api_schema[path][method]
    token = tokens["patient"] if path.startswith("/api/v1/me/") else tokens["therapist"]
    headers = {"Authorization": f"Bearer {token}"}
    real_ids = real_path_ids(path, ids)

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy_for(operation), use_real_ids=st.integers(0, 3))
    def fuzz(case, use_real_ids):
        if use_real_ids and real_ids and case.path_parameters is not None:
            case.path_parameters = {**case.path_parameters, **real_ids}
        case.call_and_validate(
            headers=headers, checks=[not_a_server_error, response_schema_conformance]
        )

    fuzz()


# --- what fuzzing found (500s before the fix), pinned on PostgreSQL --------------------------


@pytest.mark.parametrize(
    ("path", "token", "body"),
    [
        # axes stored the attempted username: varchar(255) overflow, then NUL bytes.
        ("/api/v1/auth/token/", None, {"username": "u" * 300, "password": "x"}),
        ("/api/v1/auth/token/", None, {"username": "a\x00b", "password": "x"}),
        # Converting year 1 to the patient's time zone overflowed.
        (
            "/api/v1/me/sessions/",
            "patient",
            {
                "client_id": "1f0c5b9e-4c1b-4a8e-9d55-0a6f3e7b2c11",
                "performed_at": "0001-01-01T00:00:00+05:00",
            },
        ),
        # A slug with a NUL byte reached PostgreSQL.
        (
            "/api/v1/patients/{patient}/prescriptions/",
            "therapist",
            {"exercises": [{"exercise": "a\x00"}]},
        ),
    ],
)
def test_inputs_fuzzing_found_are_400(client, seeded, path, token, body):
    ids, tokens = seeded
    headers = {"HTTP_AUTHORIZATION": f"Bearer {tokens[token]}"} if token else {}

    response = client.post(
        path.format(patient=ids["patient"]), body, content_type="application/json", **headers
    )

    assert response.status_code == 400, response.content
    assert response.json()["type"] == "invalid"
