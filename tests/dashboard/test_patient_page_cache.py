"""The patient page's cached parts (progress, charts) never show stale data.

Each test views the page (filling the cache), changes the patient's data through the services,
views it again and checks both that the change shows and that the page served is the page
computed from scratch (the cache emptied).
"""

import datetime as dt
import re
import uuid

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from patients.services import patient_update_reminders
from programs.alerts import alert_acknowledge, alert_open, alert_open_or_update
from programs.models import Alert, SessionLog
from programs.services import (
    measure_submit,
    phase_advance,
    prescription_update_dosage,
    program_pause,
    program_resume,
    session_record,
)

from .conftest import add_sessions
from .test_patient_page import CACHED_PATIENT_PAGE_MAX_QUERIES, embedded_figures, long_program

pytestmark = pytest.mark.django_db

__all__ = ["long_program"]  # a fixture, used below

# Per-request parts of an otherwise identical page: CSRF tokens and "(3 minutes ago)".
_CSRF = re.compile(r'name="csrfmiddlewaretoken" value="[^"]+"')
_AGO = re.compile(r"\([^()]* ago\)")


def view(client, patient):
    response = client.get(reverse("dashboard:patient", args=[patient.pk]))
    assert response.status_code == 200
    return response


def normalised(response) -> str:
    return _AGO.sub("(ago)", _CSRF.sub("csrf", response.content.decode()))


def view_fresh(client, patient):
    """The page as served, after checking it equals the page computed without the cache."""
    served = view(client, patient)
    cache.clear()
    assert normalised(served) == normalised(view(client, patient))
    return served


def pain_days(response) -> list[str]:
    return embedded_figures(response)["chart-pain"]["data"][2]["x"]


def calendar_cell(response, day: dt.date) -> int | None:
    heatmap = embedded_figures(response)["chart-adherence"]["data"][0]
    monday = day - dt.timedelta(days=day.weekday())
    return heatmap["z"][day.weekday()][heatmap["x"].index(monday.isoformat())]


def test_a_second_view_reads_the_progress_from_the_cache(staff_client, patient, thr_prescription):
    add_sessions(thr_prescription, 20)
    with CaptureQueriesContext(connection) as first:
        computed = view(staff_client, patient)
    with CaptureQueriesContext(connection) as second:
        cached = view(staff_client, patient)
    # Adherence, pain, readiness and measures are not read again: only the version is.
    assert len(second) <= len(first) - 6
    assert normalised(cached) == normalised(computed)
    assert len(pain_days(cached)) == 20


def test_a_cached_view_runs_the_same_queries_for_10_and_365_sessions(
    staff_client, patient, long_program
):
    def cached_view_queries() -> int:
        view(staff_client, patient)  # computes and caches
        with CaptureQueriesContext(connection) as cached:
            view(staff_client, patient)
        return len(cached)

    add_sessions(long_program, 10)
    small = cached_view_queries()
    long_program.sessions.all().delete()
    add_sessions(long_program, 365)
    assert cached_view_queries() == small <= CACHED_PATIENT_PAGE_MAX_QUERIES


def test_a_new_session_shows_at_once(staff_client, patient, thr_prescription):
    add_sessions(thr_prescription, 10)
    now = timezone.now()
    today = patient.local_date(now)
    before = view(staff_client, patient)
    assert today.isoformat() not in pain_days(before)
    assert calendar_cell(before, today) == 1  # planned, nothing done yet

    session_record(
        patient=patient, client_id=uuid.uuid4(), performed_at=now, pain_before=6, pain_after=8
    )
    after = view_fresh(staff_client, patient)
    assert pain_days(after)[-1] == today.isoformat()
    assert embedded_figures(after)["chart-pain"]["data"][1]["y"][-1] == 8
    assert calendar_cell(after, today) == 2  # one session done
    assert after.context["sessions"].page.paginator.count == 11


def test_an_edited_pain_score_shows_at_once(staff_client, patient, thr_prescription):
    (latest, *_) = add_sessions(thr_prescription, 10)
    assert embedded_figures(view(staff_client, patient))["chart-pain"]["data"][1]["y"][-1] == 3
    SessionLog.objects.filter(pk=latest.pk).update(pain_after=9)  # a correction in the admin
    after = view_fresh(staff_client, patient)
    assert embedded_figures(after)["chart-pain"]["data"][1]["y"][-1] == 9


def test_a_new_outcome_measure_shows_at_once(staff_client, patient, thr_prescription):
    add_sessions(thr_prescription, 10)
    before = view(staff_client, patient)
    assert embedded_figures(before)["chart-outcomes"]["data"] == []

    measure_submit(patient=patient, instrument="nprs", answers={"pain": 4})
    after = view_fresh(staff_client, patient)
    (scores,) = embedded_figures(after)["chart-outcomes"]["data"]
    assert (scores["name"], scores["y"]) == ("Numeric Pain Rating Scale (NPRS)", [4.0])


def test_an_opened_updated_and_acknowledged_alert_shows_at_once(
    staff_client, therapist, patient, thr_prescription
):
    add_sessions(thr_prescription, 10)
    before = view(staff_client, patient)
    assert "Alert opened" not in [t["name"] for t in embedded_figures(before)["chart-pain"]["data"]]
    assert b"No open alerts." in before.content

    alert = alert_open(
        patient=patient, kind=Alert.Kind.RED_FLAG, severity="urgent", message="Calf swelling"
    )
    opened = view_fresh(staff_client, patient)
    markers = embedded_figures(opened)["chart-pain"]["data"][3]
    assert markers["name"] == "Alert opened"
    assert markers["customdata"] == [["Red flag", "Calf swelling"]]
    assert b"1 open alert" in opened.content

    # A new red flag while this one is open updates it in place (same row, new message).
    alert_open_or_update(
        patient=patient,
        kind=Alert.Kind.RED_FLAG,
        severity="urgent",
        message="Calf swelling and chest pain",
        details={},
    )
    updated = view_fresh(staff_client, patient)
    markers = embedded_figures(updated)["chart-pain"]["data"][3]
    assert markers["customdata"] == [["Red flag", "Calf swelling and chest pain"]]

    alert_acknowledge(alert=alert, by=therapist.user, note="Sent to the GP")
    acknowledged = view_fresh(staff_client, patient)
    content = acknowledged.content.decode()
    assert "No open alerts." in content
    assert "open alert" not in content.split("</h1>")[0]  # no badge in the header
    assert "Sent to the GP" in content


def test_a_phase_advance_shows_at_once(staff_client, patient, thr_prescription):
    add_sessions(thr_prescription, 20)
    before = view(staff_client, patient)
    assert "Ready for “Moderate protection”?" in before.content.decode()

    phase_advance(prescription=thr_prescription, on_date=patient.local_date())
    after = view_fresh(staff_client, patient)
    content = after.content.decode()
    assert "Ready for “Moderate protection”?" not in content
    assert "Ready for “Minimum protection”?" in content
    pain = embedded_figures(after)["chart-pain"]
    (marker,) = [s for s in pain["layout"]["shapes"] if s.get("name") == "Phase change"]
    assert marker["x0"] == patient.local_date().isoformat()


def test_a_pause_and_a_resume_show_at_once(staff_client, patient, thr_prescription):
    add_sessions(thr_prescription, 10)
    today = patient.local_date()
    assert calendar_cell(view(staff_client, patient), today) == 1

    program_pause(prescription=thr_prescription)
    paused = view_fresh(staff_client, patient)
    assert calendar_cell(paused, today) == 0  # nothing planned while paused
    assert b"Program paused" in paused.content

    thr_prescription.refresh_from_db()
    program_resume(prescription=thr_prescription, on_date=today + dt.timedelta(days=1))
    resumed = view_fresh(staff_client, patient)
    assert calendar_cell(resumed, today) == 0  # paused until tomorrow
    assert b"Program paused" not in resumed.content


def test_a_new_local_day_shows_at_once(staff_client, therapist, patient, thr_prescription):
    add_sessions(thr_prescription, 10)
    today = patient.local_date()
    before = view(staff_client, patient)
    weeks_before = before.context["criteria"][0][1]

    tomorrow = timezone.now() + dt.timedelta(days=1)
    with pytest.MonkeyPatch.context() as clock:
        clock.setattr(timezone, "now", lambda: tomorrow)
        staff_client.force_login(therapist.user)  # the session cookie would have expired
        after = view_fresh(staff_client, patient)
    assert after.context["today"] == today + dt.timedelta(days=1)
    assert after.context["criteria"][0][1] != weeks_before  # weeks in the phase
    assert calendar_cell(after, today) == 1  # yesterday: planned, missed
    assert calendar_cell(after, today + dt.timedelta(days=1)) == 1


def test_a_new_time_zone_shows_at_once(staff_client, patient, thr_prescription):
    add_sessions(thr_prescription, 10)
    view(staff_client, patient)
    patient.timezone = "Pacific/Kiritimati" if patient.timezone != "Pacific/Kiritimati" else "UTC"
    patient.save(update_fields=["timezone"])
    after = view_fresh(staff_client, patient)
    assert after.context["today"] == patient.local_date()


def test_the_page_still_shows_when_the_cache_is_down(staff_client, patient, thr_prescription):
    add_sessions(thr_prescription, 10)
    nothing_listens = "redis://127.0.0.1:1/0"
    backend = "django.core.cache.backends.redis.RedisCache"
    with override_settings(CACHES={"default": {"BACKEND": backend, "LOCATION": nothing_listens}}):
        response = view(staff_client, patient)
    assert len(pain_days(response)) == 10


def dosage_inputs(response, item) -> dict[str, str]:
    return dict(
        re.findall(
            rf'name="dosage-{item.pk}-(\w+)"[^>]* value="([^"]*)"', response.content.decode()
        )
    )


def test_a_dosage_edit_shows_at_once(staff_client, patient, thr_prescription):
    item = thr_prescription.exercises.filter(active=True).order_by("order").first()
    sets = item.sets
    before = dosage_inputs(view(staff_client, patient), item)
    assert before["sets"] == str(sets)

    prescription_update_dosage(prescribed_exercise=item, sets=sets + 1, notes="Slow & <low>")
    after = dosage_inputs(view_fresh(staff_client, patient), item)
    assert after["sets"] == str(sets + 1)
    assert after["notes"] == "Slow &amp; &lt;low&gt;"


def test_new_reminder_preferences_show_at_once(staff_client, patient):
    before = view(staff_client, patient).content.decode()
    assert '<option value="sms" selected>' not in before
    patient_update_reminders(patient=patient, reminder_channel="sms", reminder_time=dt.time(6, 45))
    after = view_fresh(staff_client, patient).content.decode()
    assert '<option value="sms" selected>' in after
    assert 'name="reminder_time" value="06:45"' in after
