"""Every API route × method × caller kind answers exactly the status in EXPECTED.

The routes come from the URL conf (everything under /api/v1/), so an endpoint added without an
entry here fails `test_every_api_route_is_in_the_matrix` (and its own matrix test).

Convention
- Every request is one an allowed caller would make: valid path ids and a valid body. So a 2xx
  means "allowed and worked", and 401 (no credentials), 403 (wrong kind of caller) and 404
  (the object is not visible to this caller: another clinic's, another patient's) can only come
  from the permission and scoping layers, never from validation. No 400 appears in the table.
- A write that changes state gets fresh objects for every caller (`Fixture.fresh_*`), so one
  caller's success never turns the next caller's answer into a 400.
- Objects in paths belong to the subject patient (clinic A) unless the route is the caller's
  own (`me/...`). A therapist of clinic B therefore gets 404 on every object route and 2xx on
  collection routes (where they see their own, empty, clinic).
- The patient routes (`me/...`) answer for the caller: both patients get 2xx on their own data;
  a session id of the subject patient is 404 for the other patient.
"""

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from clinic.models import Practitioner
from programs import services as program_services
from programs.models import Alert, Exercise, Protocol
from tests import factories
from tests.api.staff_data import (
    log_session,
    open_alert,
)

API_PREFIX = "api/v1/"
CALLERS = (
    "anonymous",
    "patient",
    "other_patient",
    "therapist",
    "other_clinic_therapist",
    "clinic_admin",
)
HTTP_METHODS = ("get", "post", "put", "patch", "delete")
POSTERIOR_THR = "total-hip-replacement-posterior"


# --- the routes, from the URL conf ------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    name: str
    method: str
    pattern: str

    @property
    def key(self) -> tuple[str, str]:
        return (self.name, self.method)


def _view_methods(callback: Any) -> list[str]:
    if actions := getattr(callback, "actions", None):  # a ViewSet bound to {method: action}
        return [method.upper() for method in actions if method in HTTP_METHODS]
    view_class = getattr(callback, "view_class", None) or getattr(callback, "cls", None)
    assert view_class is not None, f"not a class-based view: {callback}"
    return [m.upper() for m in HTTP_METHODS if hasattr(view_class, m)]


def api_routes() -> list[Route]:
    routes = []

    def walk(patterns: list, prefix: str) -> None:
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, route)
            elif isinstance(pattern, URLPattern) and route.startswith(API_PREFIX):
                assert pattern.name, f"an API route without a name: {route}"
                for method in _view_methods(pattern.callback):
                    routes.append(Route(pattern.name, method, route))

    walk(get_resolver().url_patterns, "")
    return routes


# --- the world every request runs in -------------------------------------------------------------


@dataclass
class World:
    """Clinic A: therapist, admin, the subject patient and another patient; clinic B: therapist."""

    clinic: Any
    therapist: Practitioner
    patient: Any
    other_patient: Any
    program: Any
    session: Any
    alert: Alert
    clients: dict[str, APIClient] = field(default_factory=dict)

    def fresh_patient(self):
        return factories.create_patient(
            clinic=self.clinic, therapist=self.therapist, last_name=f"F{uuid.uuid4().hex[:8]}"
        )

    def fresh_program(self, *, protocol: bool = False):
        patient = self.fresh_patient()
        if protocol:
            return program_services.program_assign(
                patient=patient,
                prescriber=self.therapist,
                protocol=Protocol.objects.get(slug=POSTERIOR_THR),
                start_date=patient.local_date() - dt.timedelta(days=30),
            )
        return factories.assign_custom_program(
            patient=patient,
            prescriber=self.therapist,
            exercises=[
                Exercise.objects.get(slug="bridges"),
                Exercise.objects.get(slug="calf-raises"),
            ],
        )

    def patient_refresh_token(self) -> str:
        return str(RefreshToken.for_user(self.patient.user))


@pytest.fixture
def world(
    auth_client,
    clinic,
    therapist,
    patient,
    patient_user,
    other_patient_user,
    other_patient,
    prescription,
    therapist_user,
    other_clinic_therapist_user,
    clinic_admin_user,
):
    patient.refresh_from_db()
    built = World(
        clinic=clinic,
        therapist=therapist,
        patient=patient,
        other_patient=other_patient,
        program=prescription,
        session=log_session(patient, days_ago=0, prescription=prescription),
        alert=open_alert(patient),
    )
    users = {
        "patient": patient_user,
        "other_patient": other_patient_user,
        "therapist": therapist_user,
        "other_clinic_therapist": other_clinic_therapist_user,
        "clinic_admin": clinic_admin_user,
    }
    built.clients = {"anonymous": APIClient(), **{k: auth_client(u) for k, u in users.items()}}
    return built


# --- what each caller may do -----------------------------------------------------------------


def public(ok: int) -> dict[str, int]:
    return dict.fromkeys(CALLERS, ok)


def authenticated(ok: int) -> dict[str, int]:
    return {**public(ok), "anonymous": 401}


def own_patient_data(ok: int, *, other_patient: int | None = None) -> dict[str, int]:
    """me/...: for patients only; each patient gets their own data."""
    return {
        "anonymous": 401,
        "patient": ok,
        "other_patient": ok if other_patient is None else other_patient,
        "therapist": 403,
        "other_clinic_therapist": 403,
        "clinic_admin": 403,
    }


def staff_collection(ok: int) -> dict[str, int]:
    """Clinic-wide lists and creates: staff of any clinic (each sees their own clinic)."""
    return {
        "anonymous": 401,
        "patient": 403,
        "other_patient": 403,
        "therapist": ok,
        "other_clinic_therapist": ok,
        "clinic_admin": ok,
    }


def staff_object(ok: int) -> dict[str, int]:
    """An object of clinic A: its staff only; clinic B's therapist cannot tell it exists."""
    return {**staff_collection(ok), "other_clinic_therapist": 404}


def admin_only(ok: int) -> dict[str, int]:
    """Clinic admins of the object's clinic; everyone else is refused before any lookup."""
    return {**staff_collection(403), "clinic_admin": ok}


Request = tuple[dict[str, Any], Any]  # URL kwargs, body


def erase_fresh_patient(w: "World") -> Request:
    patient = w.fresh_patient()
    return {"pk": patient.pk}, {"confirm": patient.full_name}


@dataclass(frozen=True)
class Case:
    expected: dict[str, int]
    request: Callable[[World], Request] = lambda world: ({}, None)


def on_patient(body: Callable[[World], Any] | None = None) -> Callable[[World], Request]:
    return lambda w: ({"pk": w.patient.pk}, body(w) if body else None)


def nested(body: Callable[[World], Any] | None = None) -> Callable[[World], Request]:
    return lambda w: ({"patient_pk": w.patient.pk}, body(w) if body else None)


def on_fresh_program(
    body: Any = None, *, protocol: bool = False, paused: bool = False
) -> Callable[[World], Request]:
    def build(w: World) -> Request:
        program = w.fresh_program(protocol=protocol)
        if paused:
            program_services.program_pause(prescription=program)
        return {"patient_pk": program.patient_id, "pk": program.pk}, body

    return build


def on_fresh_entry(w: World) -> Request:
    program = w.fresh_program()
    entry = program.exercises.first()
    return {"patient_pk": program.patient_id, "pk": program.pk, "entry_id": entry.pk}, None


def on_subject_entry(w: World) -> Request:
    program = w.program
    entry = program.exercises.filter(active=True).first()
    kwargs = {"patient_pk": w.patient.pk, "pk": program.pk, "entry_id": entry.pk}
    return kwargs, {"reps": 12}


def on_fresh_alert(w: World) -> Request:
    return {"pk": open_alert(w.fresh_patient()).pk}, {"note": "Phoned; all well."}


def claim_body(w: World) -> Request:
    invite = w.fresh_patient().invite_code
    username = f"claimer-{uuid.uuid4().hex[:8]}"
    return {}, {"invite_code": invite, "username": username, "password": factories.PASSWORD}


def session_body(w: World) -> dict[str, Any]:
    return {
        "client_id": str(uuid.uuid4()),
        "performed_at": timezone.now().isoformat(),
        "pain_before": 2,
        "pain_after": 3,
    }


NEW_PATIENT = {"first_name": "Nia", "last_name": "Matrix", "condition": "other", "side": "left"}

EXPECTED: dict[tuple[str, str], Case] = {
    # The contract itself is public.
    ("schema", "GET"): Case(public(200)),
    ("docs", "GET"): Case(public(200)),
    # Credentials in the body; whoever sends them.
    ("auth-token", "POST"): Case(
        public(200),
        lambda w: ({}, {"username": w.patient.user.username, "password": factories.PASSWORD}),
    ),
    ("auth-token-refresh", "POST"): Case(
        public(200), lambda w: ({}, {"refresh": w.patient_refresh_token()})
    ),
    ("auth-logout", "POST"): Case(
        public(204), lambda w: ({}, {"refresh": w.patient_refresh_token()})
    ),
    ("auth-claim", "POST"): Case(public(201), claim_body),
    # The patient's own data.
    ("me", "GET"): Case(own_patient_data(200)),
    ("me", "PATCH"): Case(own_patient_data(200), lambda w: ({}, {"reminders_enabled": False})),
    ("me-plan", "GET"): Case(own_patient_data(200)),
    ("me-progress", "GET"): Case(own_patient_data(200)),
    ("me-sessions", "GET"): Case(own_patient_data(200)),
    ("me-sessions", "POST"): Case(own_patient_data(201), lambda w: ({}, session_body(w))),
    ("me-sessions-sync", "POST"): Case(
        own_patient_data(200), lambda w: ({}, {"sessions": [session_body(w)]})
    ),
    ("me-session-detail", "GET"): Case(
        own_patient_data(200, other_patient=404), lambda w: ({"pk": w.session.pk}, None)
    ),
    ("me-checkins", "GET"): Case(own_patient_data(200)),
    ("me-checkins", "POST"): Case(
        own_patient_data(201), lambda w: ({}, {"pain_now": 3, "answers": {}})
    ),
    ("me-checkin-questions", "GET"): Case(own_patient_data(200)),
    ("me-measures", "GET"): Case(own_patient_data(200)),
    ("me-measures", "POST"): Case(
        own_patient_data(201), lambda w: ({}, {"instrument": "nprs", "answers": {"pain": 3}})
    ),
    # Definitions and the library: anyone signed in.
    ("instruments", "GET"): Case(authenticated(200)),
    ("exercise-list", "GET"): Case(authenticated(200)),
    (
        "exercise-detail",
        "GET",
    ): Case(authenticated(200), lambda w: ({"pk": Exercise.objects.get(slug="bridges").pk}, None)),
    ("protocol-list", "GET"): Case(authenticated(200)),
    ("protocol-detail", "GET"): Case(
        authenticated(200),
        lambda w: ({"pk": Protocol.objects.get(slug="total-hip-replacement-posterior").pk}, None),
    ),
    # Clinic staff: patients.
    ("patient-list", "GET"): Case(staff_collection(200)),
    ("patient-list", "POST"): Case(staff_collection(201), lambda w: ({}, NEW_PATIENT)),
    ("patient-detail", "GET"): Case(staff_object(200), on_patient()),
    ("patient-detail", "PATCH"): Case(staff_object(200), on_patient(lambda w: {"phone": "555"})),
    ("patient-discharge", "POST"): Case(
        staff_object(200), lambda w: ({"pk": w.fresh_patient().pk}, None)
    ),
    ("patient-invite", "POST"): Case(
        staff_object(200), lambda w: ({"pk": w.fresh_patient().pk}, None)
    ),
    ("patient-progress", "GET"): Case(staff_object(200), on_patient()),
    ("patient-fhir", "GET"): Case(staff_object(200), on_patient()),
    ("report-adherence", "GET"): Case(staff_collection(200), lambda w: ({}, None)),
    # Clinic admins only: the audit trail and a patient's data rights.
    ("audit-list", "GET"): Case(admin_only(200), lambda w: ({}, None)),
    ("patient-export", "GET"): Case(admin_only(200), on_patient()),
    ("patient-erase", "POST"): Case(admin_only(200), erase_fresh_patient),
    ("patient-session-list", "GET"): Case(staff_object(200), nested()),
    ("patient-measure-list", "GET"): Case(staff_object(200), nested()),
    ("patient-checkin-list", "GET"): Case(staff_object(200), nested()),
    # Clinic staff: programs.
    ("prescription-list", "GET"): Case(staff_object(200), nested()),
    ("prescription-list", "POST"): Case(
        staff_object(201), nested(lambda w: {"exercises": [{"exercise": "bridges"}]})
    ),
    ("prescription-detail", "GET"): Case(
        staff_object(200),
        lambda w: ({"patient_pk": w.patient.pk, "pk": w.program.pk}, None),
    ),
    ("prescription-advance", "POST"): Case(staff_object(200), on_fresh_program(protocol=True)),
    ("prescription-pause", "POST"): Case(staff_object(200), on_fresh_program()),
    ("prescription-resume", "POST"): Case(staff_object(200), on_fresh_program(paused=True)),
    ("prescription-complete", "POST"): Case(staff_object(200), on_fresh_program()),
    ("prescription-add-exercise", "POST"): Case(
        staff_object(201), on_fresh_program({"exercise": "clamshells"})
    ),
    ("prescription-exercise-entry", "PATCH"): Case(staff_object(200), on_subject_entry),
    ("prescription-exercise-entry", "DELETE"): Case(staff_object(204), on_fresh_entry),
    # Clinic staff: alerts.
    ("alert-list", "GET"): Case(staff_collection(200)),
    ("alert-acknowledge", "POST"): Case(staff_object(200), on_fresh_alert),
}


# --- the tests ------------------------------------------------------------------------------------

ROUTES = api_routes()


def test_every_api_route_is_in_the_matrix():
    found = {route.key for route in ROUTES}

    assert sorted(found - set(EXPECTED)) == [], "routes missing from EXPECTED"
    assert sorted(set(EXPECTED) - found) == [], "EXPECTED entries for routes that do not exist"


def test_the_matrix_covers_every_caller():
    for key, case in EXPECTED.items():
        assert set(case.expected) == set(CALLERS), key


@pytest.mark.parametrize("route", ROUTES, ids=lambda route: f"{route.method} {route.name}")
def test_permission_matrix(route, world):
    case = EXPECTED.get(route.key)
    assert case is not None, f"{route.method} {route.pattern} ({route.name}) is not in EXPECTED"
    mismatches = []
    for caller in CALLERS:
        kwargs, body = case.request(world)
        url = reverse(f"api-v1:{route.name}", kwargs=kwargs)
        client = world.clients[caller]
        response = getattr(client, route.method.lower())(url, body, format="json")
        if response.status_code != case.expected[caller]:
            detail = getattr(response, "data", None) or response.content[:300]
            mismatches.append(
                f"{caller}: expected {case.expected[caller]}, got {response.status_code} {detail}"
            )
        elif response.status_code >= 400:
            # Refusals come in the one error shape, whoever refuses.
            assert response.data["type"] in {"not_authenticated", "permission_denied", "not_found"}
    assert not mismatches, f"{route.method} {route.pattern}:\n" + "\n".join(mismatches)


def test_another_clinics_objects_answer_404_not_403(world):
    """The 404 above is about visibility, not a missing row: the same ids work in clinic A."""
    url = reverse("api-v1:patient-detail", kwargs={"pk": world.patient.pk})

    assert world.clients["therapist"].get(url).status_code == 200
    assert world.clients["other_clinic_therapist"].get(url).status_code == 404
    missing = reverse("api-v1:patient-detail", kwargs={"pk": world.patient.pk + 10_000})
    assert world.clients["other_clinic_therapist"].get(missing).status_code == 404


def test_a_discharged_patient_is_refused_their_own_endpoints(world):
    program_services.patient_discharge(patient=world.patient)

    response = world.clients["patient"].get(reverse("api-v1:me"))

    # The token still authenticates (not 401); being discharged closes the patient endpoints.
    assert response.status_code == 403
