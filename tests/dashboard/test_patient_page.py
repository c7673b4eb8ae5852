import datetime as dt
import json
import re
import zoneinfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from patients.models import MeasureResponse
from programs.alerts import alert_acknowledge, alert_open
from programs.models import Alert
from programs.services import phase_advance, program_assign
from tests import factories

from .conftest import add_sessions

pytestmark = pytest.mark.django_db

# Fixed whatever the number of sessions: the selectors aggregate in SQL, history is paginated.
# A first view computes the progress (21); a cached one reads only the data version besides
# the page's own rows (11: session, user with practitioner, patient, programs, phases, alerts,
# version, exercises, library, history with entries, audit).
PATIENT_PAGE_MAX_QUERIES = 21
CACHED_PATIENT_PAGE_MAX_QUERIES = 11


def embedded_figures(response) -> dict[str, dict]:
    """The Plotly figures a page embeds, by container id."""
    content = response.content.decode()
    figures = {}
    for element_id, payload in re.findall(
        r'<script type="application/json" id="([\w-]+)-figure">(.*?)</script>', content, re.S
    ):
        figures[element_id] = json.loads(payload)
    return figures


@pytest.fixture
def long_program(patient, therapist, thr_protocol):
    return program_assign(
        patient=patient,
        prescriber=therapist,
        protocol=thr_protocol,
        start_date=patient.local_date() - dt.timedelta(days=400),
    )


def test_patient_page_shows_header_charts_and_readiness(staff_client, patient, thr_prescription):
    add_sessions(thr_prescription, 20, notes="Felt <b>strong</b>")
    Alert.objects.create(
        clinic=patient.clinic,
        patient=patient,
        kind="red_flag",
        severity="urgent",
        message="Calf swelling",
    )
    response = staff_client.get(reverse("dashboard:patient", args=[patient.pk]))
    content = response.content.decode()
    assert "Total hip replacement (posterior approach)" in content
    assert "No hip flexion past 90°" in content  # precautions in force
    assert patient.invite_code in content  # unclaimed: invite code shown
    assert "Calf swelling" in content
    assert "Acknowledge" in content
    assert "Ready for “Moderate protection”?" in content
    assert "Felt &lt;b&gt;strong&lt;/b&gt;" in content  # notes escaped
    assert '<details class="entries">' in content
    figures = embedded_figures(response)
    assert set(figures) == {"chart-pain", "chart-adherence", "chart-outcomes"}
    pain = figures["chart-pain"]
    assert [trace["name"] for trace in pain["data"]] == [
        "Before session",
        "After session",
        "7-day mean",
        "Alert opened",
    ]
    assert len(pain["data"][2]["y"]) == 20
    assert pain["layout"]["yaxis"]["title"]["text"] == "Pain (NPRS, 0–10)"
    # A data table fallback for every chart, and plotly.js from our own static files.
    assert content.count('<details class="chart-data">') == 3
    assert "/static/vendor/plotly/plotly.min.js" in content
    assert "<script>" not in content  # no inline script (CSP)


def test_pain_chart_marks_phase_changes(staff_client, patient, thr_prescription):
    add_sessions(thr_prescription, 30)
    phase_advance(prescription=thr_prescription, on_date=patient.local_date() - dt.timedelta(3))
    pain = embedded_figures(staff_client.get(reverse("dashboard:patient", args=[patient.pk])))[
        "chart-pain"
    ]
    markers = [s for s in pain["layout"]["shapes"] if s.get("name") == "Phase change"]
    assert len(markers) == 1
    assert markers[0]["x0"] == (patient.local_date() - dt.timedelta(3)).isoformat()
    assert any(a["text"] == "Moderate protection" for a in pain["layout"]["annotations"])


def test_outcome_chart_shows_each_instrument(staff_client, patient, thr_prescription):
    for days_ago, score in ((30, 50.0), (2, 70.0)):
        MeasureResponse.objects.create(
            patient=patient,
            instrument="hoos_jr",
            instrument_version="1.0",
            answers={},
            raw_score=0,
            score=score,
            taken_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=days_ago),
        )
    figures = embedded_figures(staff_client.get(reverse("dashboard:patient", args=[patient.pk])))
    outcome = figures["chart-outcomes"]
    assert outcome["data"][0]["y"] == [50.0, 70.0]
    (band,) = [s for s in outcome["layout"]["shapes"] if s["type"] == "rect"]
    assert (band["y0"], band["y1"]) == (42.0, 58.0)  # HOOS JR MCID 8 around the first score


def test_sessions_are_paginated(staff_client, patient, long_program):
    add_sessions(long_program, 40)
    url = reverse("dashboard:patient", args=[patient.pk])
    first = staff_client.get(url)
    assert len(first.context["sessions"].page) == 15
    assert "sessions=2" in first.context["sessions"].next_url
    last = staff_client.get(url, {"sessions": 3})
    assert len(last.context["sessions"].page) == 10


@pytest.mark.parametrize("sessions", [10, 365])
def test_patient_page_query_count_is_flat(
    staff_client, patient, long_program, sessions, django_assert_max_num_queries
):
    add_sessions(long_program, sessions)
    with django_assert_max_num_queries(PATIENT_PAGE_MAX_QUERIES):
        response = staff_client.get(reverse("dashboard:patient", args=[patient.pk]))
    assert response.context["sessions"].page.paginator.count == sessions


def test_patient_page_runs_the_same_queries_for_10_and_365_sessions(
    staff_client, patient, long_program
):
    url = reverse("dashboard:patient", args=[patient.pk])
    add_sessions(long_program, 10)
    with CaptureQueriesContext(connection) as small:
        staff_client.get(url)
    long_program.sessions.all().delete()
    add_sessions(long_program, 365)
    with CaptureQueriesContext(connection) as large:
        staff_client.get(url)
    assert len(small) == len(large) <= PATIENT_PAGE_MAX_QUERIES


def test_patient_without_a_program(staff_client, patient):
    response = staff_client.get(reverse("dashboard:patient", args=[patient.pk]))
    assert response.status_code == 200
    assert b"No program yet" in response.content
    assert set(embedded_figures(response)) == {"chart-pain", "chart-outcomes"}


def test_printable_report(staff_client, patient, thr_prescription):
    add_sessions(thr_prescription, 10)
    response = staff_client.get(reverse("dashboard:report", args=[patient.pk]))
    content = response.content.decode()
    assert "Home exercise progress report" in content
    assert "data-print" in content
    assert "Sessions since" in content
    assert len(embedded_figures(response)) == 3


def test_analytics_page(staff_client, clinic, patient, thr_prescription):
    add_sessions(thr_prescription, 40, pain_after=5)  # from the program's first day
    recent = patient.local_date() - dt.timedelta(days=10)
    thr_prescription.sessions.filter(local_date__gte=recent).update(pain_after=2)
    Alert.objects.create(
        clinic=clinic, patient=patient, kind="red_flag", severity="urgent", message="x"
    )
    response = staff_client.get(reverse("dashboard:analytics"))
    figures = embedded_figures(response)
    assert set(figures) == {
        "chart-adherence-distribution",
        "chart-pain-change",
        "chart-alerts-per-week",
    }
    assert sum(sum(t["y"]) for t in figures["chart-adherence-distribution"]["data"]) == 1
    (box,) = figures["chart-pain-change"]["data"]
    assert box["type"] == "box"
    assert box["y"] == [pytest.approx(-3.0)]
    assert response.context["data"].open_alerts == 1


def test_session_history_rows_show_each_session_and_its_entries(
    staff_client, clinic, patient, thr_prescription
):
    (latest, *_) = add_sessions(thr_prescription, 3, notes="Stiff <morning>")
    skipped, done = latest.entries.order_by("id")[:2]  # add_sessions skips every fifth
    skipped.skipped_reason = "Too <b>sore</b>"
    skipped.save(update_fields=["skipped_reason"])
    page = staff_client.get(reverse("dashboard:patient", args=[patient.pk]))
    content = page.content.decode()
    performed = latest.performed_at.astimezone(zoneinfo.ZoneInfo(clinic.timezone))
    day = latest.local_date
    assert (
        f'<time datetime="{performed.isoformat()}">{day:%a} {day.day} {day:%b %Y}</time>' in content
    )
    entries = latest.entries.count()
    done_count = latest.entries.filter(completed=True).count()
    assert f"<summary>{done_count} of {entries} done</summary>" in content

    def entry_html(state: str, mark: str, name: str, summary: str) -> str:
        return (
            rf'<li class="{state}">\s*<span aria-label="{state}">{mark}</span>\s*'
            rf'{re.escape(name)}\s*<small class="muted">{re.escape(summary)}</small>'
        )

    name = done.prescribed_exercise.exercise.name
    assert re.search(entry_html("done", "✓", name, f"{done.sets_done} × {done.reps_done}"), content)
    name = skipped.prescribed_exercise.exercise.name
    assert re.search(
        entry_html("skipped", "✗", name, "skipped: Too &lt;b&gt;sore&lt;/b&gt;"), content
    )
    assert "Stiff &lt;morning&gt;" in content


def test_an_alert_acknowledged_by_a_since_deleted_account_still_shows(
    staff_client, clinic, patient
):
    colleague = factories.PractitionerFactory(clinic=clinic)
    alert = alert_open(patient=patient, kind="inactive", severity="warning", message="No sessions")
    alert_acknowledge(alert=alert, by=colleague.user, note="Called")
    colleague.user.delete()  # acknowledged_by is set to NULL
    response = staff_client.get(reverse("dashboard:patient", args=[patient.pk]))
    assert response.status_code == 200
    assert "by someone: “Called”" in response.content.decode()
