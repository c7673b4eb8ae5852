"""Dashboard pages and actions that touch patient data leave the expected audit rows.

Routes come from the dashboard URL conf: a new page that is neither audited
(clinic/dashboard/audit_rules.py) nor declared free of patient data fails here.
"""

import pytest
from django.urls import reverse

from clinic.dashboard.audit_rules import RULES, UNAUDITED
from clinic.models import AuditEvent
from patients.models import Patient
from tests.dashboard.test_access import ROUTES, objects, url_for  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db

SHOWS_A_PATIENT = ["patient", "patient_edit", "report", "assign", "export"]


def test_every_dashboard_route_is_audited_or_declared_free_of_patient_data():
    names = {name for name, _ in ROUTES}
    assert sorted(names - set(RULES) - UNAUDITED) == []
    assert sorted((set(RULES) | UNAUDITED) - names) == []
    assert not set(RULES) & UNAUDITED


@pytest.mark.parametrize("name", SHOWS_A_PATIENT)
def test_opening_a_patients_page_is_recorded(staff_client, therapist, objects, name):  # noqa: F811
    params = dict(ROUTES)[name]
    response = staff_client.get(url_for(name, params, objects))
    assert response.status_code == 200
    event = AuditEvent.objects.get()
    assert event.patient_id == objects["patient_id"]
    assert event.action == RULES[name].action_for("GET")
    assert (event.user_id, event.role, event.clinic_id) == (
        therapist.user_id,
        "therapist",
        therapist.clinic_id,
    )


def test_the_overview_records_each_patient_shown(staff_client, objects):  # noqa: F811
    staff_client.get(reverse("dashboard:overview"))
    shown = set(AuditEvent.objects.filter(action="list").values_list("patient_id", flat=True))
    assert objects["patient_id"] in shown


def test_actions_record_the_change(staff_client, objects):  # noqa: F811
    ack = reverse(
        "dashboard:acknowledge",
        kwargs={"patient_id": objects["patient_id"], "alert_id": objects["alert_id"]},
    )
    assert staff_client.post(ack, {"note": "called"}).status_code == 302
    pause = url_for("pause", dict(ROUTES)["pause"], objects)
    assert staff_client.post(pause).status_code == 302
    events = list(
        AuditEvent.objects.order_by("id").values_list("action", "object_type", "object_id")
    )
    assert events == [
        ("update", "alert", str(objects["alert_id"])),
        ("update", "prescription", str(objects["prescription_id"])),
    ]


def test_a_new_patient_is_recorded_with_its_new_id(staff_client, therapist):
    response = staff_client.post(
        reverse("dashboard:patient_new"),
        {
            "first_name": "Rowan",
            "last_name": "Tate",
            "condition": "hip_osteoarthritis",
            "side": "left",
            "therapist": therapist.pk,
            "timezone": "America/New_York",
        },
    )
    assert response.status_code == 302, response.content[:500]
    patient = Patient.objects.get(last_name="Tate")
    event = AuditEvent.objects.get()
    assert (event.action, event.patient_id) == ("create", patient.pk)


def test_anonymous_and_refused_requests_record_nothing(client, objects):  # noqa: F811
    client.get(reverse("dashboard:patient", kwargs={"patient_id": objects["patient_id"]}))
    assert not AuditEvent.objects.exists()


def test_erasure_needs_the_name_and_only_a_real_erasure_is_recorded(client, clinic, objects):  # noqa: F811
    from clinic.models import Practitioner
    from tests import factories

    admin = factories.PractitionerFactory(clinic=clinic, role=Practitioner.Role.ADMIN)
    client.force_login(admin.user)
    url = reverse("dashboard:patient_erase", kwargs={"patient_id": objects["patient_id"]})
    patient = Patient.objects.get(pk=objects["patient_id"])

    wrong = client.post(url, {"confirm": "someone else"})
    assert wrong.status_code == 200
    assert b"not the patient" in wrong.content
    assert Patient.objects.get(pk=patient.pk).erased_at is None
    assert not AuditEvent.objects.filter(action="erase").exists()

    done = client.post(url, {"confirm": patient.full_name})
    assert done.status_code == 302
    assert Patient.objects.get(pk=patient.pk).erased_at is not None
    assert AuditEvent.objects.filter(action="erase", patient_id=patient.pk).count() == 1
