"""Every API route that touches patient data leaves the expected audit rows.

Routes come from the URL conf (via the permission matrix), so a new endpoint that is neither
audited (api/audit_rules.py) nor declared free of patient data fails here.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from api.audit_rules import NS, RULES, UNAUDITED
from clinic.audit import ROUTE_RULES, UNAUDITED_ROUTES
from clinic.models import AuditEvent
from tests.api.test_permission_matrix import EXPECTED, ROUTES, world  # noqa: F401

CALLER_ORDER = ("patient", "therapist", "clinic_admin")


def test_every_api_route_is_audited_or_declared_free_of_patient_data():
    names = {route.name for route in ROUTES}
    unclassified = sorted(names - set(RULES) - UNAUDITED)
    assert unclassified == [], "routes missing from api/audit_rules.py"
    assert sorted((set(RULES) | UNAUDITED) - names) == [], "rules for routes that do not exist"
    assert not set(RULES) & UNAUDITED
    assert {NS + name for name in RULES} <= set(ROUTE_RULES)
    assert {NS + name for name in UNAUDITED} <= UNAUDITED_ROUTES


AUDITED = [route for route in ROUTES if route.name in RULES]


@pytest.mark.parametrize("route", AUDITED, ids=lambda route: f"{route.method} {route.name}")
def test_a_successful_request_leaves_audit_rows(route, world):  # noqa: F811
    case = EXPECTED[route.key]
    caller = next(c for c in CALLER_ORDER if 200 <= case.expected[c] < 300)
    kwargs, body = case.request(world)
    url = reverse(f"api-v1:{route.name}", kwargs=kwargs)
    before = AuditEvent.objects.count()
    response = getattr(world.clients[caller], route.method.lower())(url, body, format="json")
    assert 200 <= response.status_code < 300, response.content[:300]

    rule = RULES[route.name]
    events = list(AuditEvent.objects.order_by("id")[before:])
    assert events, f"{route.method} {route.name} left no audit row"
    assert {event.object_type for event in events} == {rule.object_type}
    assert {event.action for event in events} == {rule.action_for(route.method)}
    expected_patient = None
    if rule.patient == "me":
        expected_patient = world.patient.pk
    elif rule.patient.startswith("url:"):
        expected_patient = int(kwargs[rule.patient.removeprefix("url:")])
    for event in events:
        assert event.role == caller.replace("clinic_admin", "admin")
        assert event.request_id
        assert event.path == url
        assert event.patient_id is not None
        if expected_patient is not None:
            assert event.patient_id == expected_patient


def test_a_list_is_recorded_with_one_insert_and_one_row_per_patient_shown(world):  # noqa: F811
    client = world.clients["therapist"]
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("api-v1:patient-list"))
    shown = {row["id"] for row in response.data["results"]}
    inserts = [
        q
        for q in queries.captured_queries
        if q["sql"].startswith("INSERT") and "auditevent" in q["sql"]
    ]
    assert len(inserts) == 1
    recorded = set(AuditEvent.objects.filter(action="list").values_list("patient_id", flat=True))
    assert recorded == shown
    assert len(shown) >= 2


def test_refused_requests_record_nothing(world):  # noqa: F811
    url = reverse("api-v1:patient-detail", kwargs={"pk": world.patient.pk})
    assert world.clients["other_clinic_therapist"].get(url).status_code == 404
    assert not AuditEvent.objects.exists()
