import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from programs.models import Alert
from programs.services import program_pause
from tests import factories

from .conftest import add_sessions, build_caseload

pytestmark = pytest.mark.django_db

OVERVIEW = reverse("dashboard:overview")
# Fixed whatever the number of patients (session, user, filters, selector, alerts panel).
OVERVIEW_MAX_QUERIES = 16


def row_names(response) -> list[str]:
    return [row.name for row in response.context["page"]]


def test_needs_attention_lists_red_flags_first(staff_client, clinic, patient, therapist):
    other = factories.create_patient(clinic=clinic, therapist=therapist, first_name="Bea")
    Alert.objects.create(
        clinic=clinic, patient=other, kind="low_adherence", severity="urgent", message="Behind"
    )
    Alert.objects.create(
        clinic=clinic, patient=patient, kind="red_flag", severity="urgent", message="Calf swelling"
    )
    Alert.objects.create(
        clinic=clinic, patient=other, kind="inactive", severity="info", message="Quiet"
    )
    response = staff_client.get(OVERVIEW)
    attention = response.context["attention"]
    assert [a.kind for a in attention] == ["red_flag", "low_adherence", "inactive"]
    assert response.context["alert_counts"] == {"urgent": 2, "warning": 0, "info": 1}
    content = response.content.decode()
    assert content.index("Calf swelling") < content.index("Behind")
    assert reverse("dashboard:patient", args=[patient.pk]) + "#alerts" in content


def test_rows_show_program_adherence_and_alerts(staff_client, patient, thr_prescription):
    add_sessions(thr_prescription, 10)
    Alert.objects.create(
        clinic=patient.clinic, patient=patient, kind="pain_spike", severity="warning", message="x"
    )
    response = staff_client.get(OVERVIEW)
    (row,) = response.context["page"]
    assert row.protocol_name == "Total hip replacement (posterior approach)"
    assert row.phase_name
    assert row.adherence_recent is not None
    assert row.open_alerts == 1
    assert b"1 open" in response.content


def test_search_filters_and_status(staff_client, clinic, therapist, patient, thr_prescription):
    other_therapist = factories.PractitionerFactory(clinic=clinic)
    zoe = factories.create_patient(
        clinic=clinic, therapist=other_therapist, first_name="Zoe", last_name="Quill"
    )
    Alert.objects.create(clinic=clinic, patient=zoe, kind="inactive", severity="info", message="x")
    program_pause(prescription=thr_prescription)

    assert row_names(staff_client.get(OVERVIEW, {"q": "quill"})) == ["Zoe Quill"]
    assert row_names(staff_client.get(OVERVIEW, {"q": "zoe qu"})) == ["Zoe Quill"]
    assert row_names(staff_client.get(OVERVIEW, {"therapist": other_therapist.pk})) == ["Zoe Quill"]
    assert row_names(staff_client.get(OVERVIEW, {"alerts": "open"})) == ["Zoe Quill"]
    assert row_names(staff_client.get(OVERVIEW, {"alerts": "none"})) == ["Alex Morgan"]
    assert row_names(staff_client.get(OVERVIEW, {"status": "paused"})) == ["Alex Morgan"]
    protocol = thr_prescription.protocol_id
    assert row_names(staff_client.get(OVERVIEW, {"protocol": protocol})) == ["Alex Morgan"]
    # Nonsense filters are ignored, not a 500.
    response = staff_client.get(OVERVIEW, {"therapist": "abc", "sort": "x", "dir": "up"})
    assert response.status_code == 200
    assert len(row_names(response)) == 2


def test_discharged_patients_are_hidden_by_default(staff_client, clinic, therapist, patient):
    from programs.services import patient_discharge

    gone = factories.create_patient(clinic=clinic, therapist=therapist, first_name="Gone")
    patient_discharge(patient=gone)
    assert row_names(staff_client.get(OVERVIEW)) == ["Alex Morgan"]
    assert row_names(staff_client.get(OVERVIEW, {"status": "discharged"})) == ["Gone Morgan"]
    assert len(row_names(staff_client.get(OVERVIEW, {"status": "all"}))) == 2


def test_sort_by_a_computed_column_with_empty_values_last(
    staff_client, clinic, therapist, patient, thr_prescription
):
    add_sessions(thr_prescription, 10, pain_after=6)
    calm = factories.create_patient(clinic=clinic, therapist=therapist, first_name="Calm")
    calm_rx = factories.assign_custom_program(
        patient=calm,
        prescriber=therapist,
        exercises=factories.ExerciseFactory.create_batch(1),
        start_date=calm.local_date() - dt.timedelta(days=20),
    )
    add_sessions(calm_rx, 10, pain_after=1)
    factories.create_patient(clinic=clinic, therapist=therapist, first_name="New")

    descending = row_names(staff_client.get(OVERVIEW, {"sort": "pain", "dir": "desc"}))
    ascending = row_names(staff_client.get(OVERVIEW, {"sort": "pain", "dir": "asc"}))
    assert descending == ["Alex Morgan", "Calm Morgan", "New Morgan"]
    assert ascending == ["Calm Morgan", "Alex Morgan", "New Morgan"]
    for column in ("name", "program", "phase", "weeks", "adherence", "last_session", "trend"):
        response = staff_client.get(OVERVIEW, {"sort": column, "dir": "desc"})
        assert len(row_names(response)) == 3
    response = staff_client.get(OVERVIEW, {"sort": "pain", "dir": "desc"})
    assert 'aria-sort="descending"' in response.content.decode()


def test_pagination_keeps_filters(staff_client, clinic, therapist, thr_protocol):
    build_caseload(clinic, therapist, thr_protocol, 30)
    first = staff_client.get(OVERVIEW, {"q": "bulk", "sort": "name"})
    assert len(row_names(first)) == 25
    links = first.context["page_links"]
    assert "q=bulk" in links.next_url
    assert "page=2" in links.next_url
    second = staff_client.get(OVERVIEW + links.next_url)
    assert len(row_names(second)) == 5
    assert set(row_names(first)).isdisjoint(row_names(second))


@pytest.mark.parametrize("patients", [10, 200])
def test_overview_query_count_is_flat(
    staff_client, clinic, therapist, thr_protocol, patients, django_assert_max_num_queries
):
    build_caseload(clinic, therapist, thr_protocol, patients)
    with django_assert_max_num_queries(OVERVIEW_MAX_QUERIES):
        response = staff_client.get(OVERVIEW, {"sort": "adherence"})
    assert response.context["page"].paginator.count == patients


def test_overview_runs_the_same_queries_for_10_and_200_patients(
    staff_client, clinic, therapist, thr_protocol
):
    build_caseload(clinic, therapist, thr_protocol, 10)
    with CaptureQueriesContext(connection) as small:
        staff_client.get(OVERVIEW)
    build_caseload(clinic, therapist, thr_protocol, 190)
    with CaptureQueriesContext(connection) as large:
        staff_client.get(OVERVIEW)
    assert len(small) == len(large) <= OVERVIEW_MAX_QUERIES
