"""The patient list's kept rows (programs/row_cache.py): served while current, never after a
write that changes them has committed, and never needed for the list to answer."""

import datetime as dt
import logging

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from clinic.cache_writes import AfterCommitWrites
from patients import services as patient_services
from programs import alerts as program_alerts
from programs import privacy, row_cache, selectors
from programs import services as program_services
from programs.adherence import recent_adherence
from programs.models import Protocol, SessionLog
from tests import factories
from tests.api.conftest import queries_outside_audit
from tests.api.staff_data import log_session, open_alert, patient_with_program

PATIENTS = "/api/v1/patients/"


@pytest.fixture(autouse=True)
def _row_cache_on(settings):
    """On by default only with Redis (a shared cache); these tests run on either."""
    settings.STRIDE_LIST_ROW_CACHE = True


@pytest.fixture
def rows(auth_client, therapist_user):
    """The list's rows by patient id, as one GET answers them."""
    client = auth_client(therapist_user)

    def read() -> dict[int, dict]:
        response = client.get(PATIENTS)
        assert response.status_code == 200
        return {row["id"]: row for row in response.json()["results"]}

    return read


def on_protocol(clinic, therapist):
    protocol = Protocol.objects.filter(phases__order=2).order_by("pk").first()
    patient = factories.create_patient(clinic=clinic, therapist=therapist)
    program_services.program_assign(
        patient=patient,
        prescriber=therapist,
        protocol=protocol,
        start_date=patient.local_date() - dt.timedelta(days=9),
        allow_precaution_override=True,
        override_reason="test",
    )
    return patient


def test_a_kept_row_is_served_without_computing_it(auth_client, therapist_user, clinic, therapist):
    patients = [patient_with_program(clinic, therapist) for _ in range(3)]
    log_session(patients[0], days_ago=1, pain_after=4)
    client = auth_client(therapist_user)

    with CaptureQueriesContext(connection) as first:
        computed = client.get(PATIENTS)
    with CaptureQueriesContext(connection) as second:
        kept = client.get(PATIENTS)

    assert kept.json() == computed.json()
    first_sql = queries_outside_audit(first.captured_queries)
    second_sql = queries_outside_audit(second.captured_queries)
    # The three figure reads of programs.overview are gone; the caller and the page remain.
    assert len(first_sql) - len(second_sql) == 3
    assert not [sql for sql in second_sql if "_sessionlog" in sql]


def test_rows_of_another_rendering_are_not_served(clinic, therapist):
    patient = patient_with_program(clinic, therapist)
    page = list(selectors.patient_list_page(type(patient).objects.filter(pk=patient.pk)))

    def shout(row):
        return {"name": row["patient"]["full_name"].upper()}

    def quiet(row):
        return {"name": row["patient"]["full_name"].lower()}

    assert selectors.patient_list_rows(clinic, page, render=shout) == [
        {"name": patient.full_name.upper()}
    ]
    assert selectors.patient_list_rows(clinic, page, render=quiet) == [
        {"name": patient.full_name.lower()}
    ]


def _rename_therapist(patient, therapist):
    therapist.user.first_name = "Renamed"
    therapist.user.save()
    return lambda row: row["therapist"]["name"].startswith("Renamed")


def _retitle_therapist(patient, therapist):
    therapist.title = "Dr"
    therapist.save()
    return lambda row: row["therapist"]["title"] == "Dr"


def _log_session(patient, therapist):
    log_session(patient, days_ago=0, pain_after=4)
    today = patient.local_date().isoformat()
    return lambda row: (row["last_session_on"], row["latest_pain"]) == (today, 4)


def _delete_session(patient, therapist):
    SessionLog.objects.filter(patient=patient).get().delete()
    return lambda row: row["last_session_on"] is None


def _open_alert(patient, therapist):
    open_alert(patient)
    return lambda row: (row["open_alerts"], row["top_severity"]) == (1, "warning")


def _acknowledge_alert(patient, therapist):
    program_alerts.alert_acknowledge(alert=patient.alerts.get(), by=therapist.user)
    return lambda row: row["open_alerts"] == 0


def _pause(patient, therapist):
    program_services.program_pause(prescription=patient.prescriptions.get())
    return lambda row: row["program"]["status"] == "paused"


def _rename_patient(patient, therapist):
    patient_services.patient_update(patient=patient, last_name="Newname")
    return lambda row: row["last_name"] == "Newname"


def _erase(patient, therapist):
    privacy.patient_erase(patient=patient)
    return lambda row: (row["first_name"], row["program"]) == ("Erased", None)


def _rename_protocol(patient, therapist):
    protocol = patient.prescriptions.get().protocol
    protocol.name = "Renamed protocol"
    protocol.save()
    return lambda row: row["program"]["protocol"]["name"] == "Renamed protocol"


def _rename_phase(patient, therapist):
    phase = patient.prescriptions.get().current_phase
    phase.name = "Renamed phase"
    phase.save()
    return lambda row: row["program"]["current_phase"]["name"] == "Renamed phase"


def _advance_phase(patient, therapist):
    program = patient.prescriptions.get()
    program_services.phase_advance(
        prescription=program, allow_precaution_override=True, override_reason="test"
    )
    return lambda row: row["program"]["current_phase"]["order"] == 2


def _narrow_the_clinic_window(patient, therapist):
    # No signal: the window is part of a kept row's stamp.
    clinic = patient.clinic
    clinic.adherence_window_days = 3
    clinic.save()
    program = patient.prescriptions.get()
    expected = recent_adherence(
        [program], days=3, today_by_prescription={program.pk: patient.local_date()}
    )[program.pk].ratio
    return lambda row: row["adherence_recent"] == expected


@pytest.mark.parametrize(
    ("setup", "write"),
    [
        (None, _rename_therapist),
        (None, _retitle_therapist),
        (None, _log_session),
        ("session", _delete_session),
        (None, _open_alert),
        ("alert", _acknowledge_alert),
        (None, _pause),
        (None, _rename_patient),
        ("session", _erase),
        ("protocol", _rename_protocol),
        ("protocol", _rename_phase),
        ("protocol", _advance_phase),
        ("three days", _narrow_the_clinic_window),
    ],
)
def test_a_committed_write_shows_on_the_next_page(
    rows, clinic, therapist, django_capture_on_commit_callbacks, setup, write
):
    with django_capture_on_commit_callbacks(execute=True):  # committed, as in production
        patient = (
            on_protocol(clinic, therapist)
            if setup == "protocol"
            else patient_with_program(clinic, therapist)
        )
        if setup == "session":
            log_session(patient, days_ago=2)
        elif setup == "alert":
            open_alert(patient)
        elif setup == "three days":
            for days_ago in (0, 1, 2):
                log_session(patient, days_ago=days_ago)
    before = rows()[patient.pk]
    assert rows()[patient.pk] == before  # kept, and still current

    with django_capture_on_commit_callbacks(execute=True):
        shows = write(patient, therapist)

    after = rows()[patient.pk]
    assert not shows(before)
    assert shows(after)


def test_a_write_not_yet_committed_leaves_the_kept_row(
    rows, clinic, therapist, django_capture_on_commit_callbacks
):
    patient = patient_with_program(clinic, therapist)
    before = rows()[patient.pk]
    with django_capture_on_commit_callbacks(execute=False) as pending:
        open_alert(patient)
        # The token is replaced after commit only: the kept row is still what others read.
        assert rows()[patient.pk] == before
    assert any(isinstance(callback, AfterCommitWrites) for callback in pending)


def test_a_row_computed_before_a_concurrent_write_committed_is_never_served(
    clinic, therapist, django_capture_on_commit_callbacks
):
    patient = patient_with_program(clinic, therapist)
    stamps = {patient.pk: (patient.local_date(), clinic.adherence_window_days)}

    def render(row):
        return {"open_alerts": row["open_alerts"]}

    kept, tokens = row_cache.rows_cached(render, stamps)  # a reader reads the tokens...
    assert kept == {}
    stale = {patient.pk: {"open_alerts": 0}}  # ...computes the row from what it sees...
    with django_capture_on_commit_callbacks(execute=True):
        row_cache.rows_forget([patient.pk])  # ...a write commits...
    row_cache.rows_keep(render, stale, stamps, tokens)  # ...and the reader keeps its row.

    assert row_cache.rows_cached(render, stamps)[0] == {}
    row_cache.rows_keep(render, stale, stamps, row_cache.rows_cached(render, stamps)[1])
    assert row_cache.rows_cached(render, stamps)[0] == stale  # kept under the current token


def test_a_login_does_not_move_rows_out_of_date(
    clinic, therapist, django_capture_on_commit_callbacks
):
    patient_with_program(clinic, therapist)
    with django_capture_on_commit_callbacks() as callbacks:
        therapist.user.save(update_fields=["last_login"])
    assert callbacks == []


def test_the_list_answers_when_the_cache_is_down(rows, clinic, therapist, caplog):
    patient = patient_with_program(clinic, therapist)
    log_session(patient, days_ago=0, pain_after=5)
    expected = rows()[patient.pk]
    nothing_listens = "redis://127.0.0.1:1/0"
    backend = "django.core.cache.backends.redis.RedisCache"
    with (
        override_settings(CACHES={"default": {"BACKEND": backend, "LOCATION": nothing_listens}}),
        caplog.at_level(logging.WARNING, logger="programs.row_cache"),
    ):
        assert rows()[patient.pk] == expected
    assert "list row cache unavailable" in caplog.text


def test_rows_are_not_kept_when_the_setting_is_off(
    auth_client, therapist_user, clinic, therapist, settings
):
    settings.STRIDE_LIST_ROW_CACHE = False
    patient_with_program(clinic, therapist)
    client = auth_client(therapist_user)
    client.get(PATIENTS)
    with CaptureQueriesContext(connection) as second:
        client.get(PATIENTS)
    assert any("_sessionlog" in q["sql"] for q in second.captured_queries)


def test_an_alert_moved_to_another_patient_leaves_both_rows_current(
    rows, clinic, therapist, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        first = patient_with_program(clinic, therapist)
        second = patient_with_program(clinic, therapist)
        alert = open_alert(first)
    before = rows()
    assert (before[first.pk]["open_alerts"], before[second.pk]["open_alerts"]) == (1, 0)

    with django_capture_on_commit_callbacks(execute=True):
        alert.patient = second  # as the admin's change form can
        alert.save()

    after = rows()
    assert (after[first.pk]["open_alerts"], after[second.pk]["open_alerts"]) == (0, 1)


def test_a_row_is_never_kept_without_a_token(clinic, therapist):
    """A patient with no token gets one before their row is computed: a row kept under "no
    token" would look current again whenever a later token is evicted."""
    patient = patient_with_program(clinic, therapist)
    stamps = {patient.pk: (patient.local_date(), clinic.adherence_window_days)}

    def render(row):
        return {"name": row["patient"]["full_name"]}

    kept, tokens = row_cache.rows_cached(render, stamps)
    assert kept == {}
    assert tokens[patient.pk] is not None
    assert cache.get(row_cache._token_key(patient.pk)) == tokens[patient.pk]
    row_cache.rows_keep(render, {patient.pk: {"name": "kept"}}, stamps, tokens)
    assert row_cache.rows_cached(render, stamps)[0] == {patient.pk: {"name": "kept"}}

    cache.delete(row_cache._token_key(patient.pk))  # evicted

    kept, tokens = row_cache.rows_cached(render, stamps)
    assert kept == {}
    assert tokens[patient.pk] is not None
