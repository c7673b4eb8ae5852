import datetime as dt
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from clinic import prepared
from programs.models import SessionLog

pytestmark = pytest.mark.django_db

SINCE = dt.date(2000, 1, 1)


def statement() -> str:
    """A statement no other test prepared on this (persistent) connection."""
    return (
        f"SELECT id, local_date FROM {SessionLog._meta.db_table} "  # noqa: S608
        f"WHERE patient_id = %s AND local_date >= %s ORDER BY id -- {uuid.uuid4()}"
    )


@pytest.fixture
def sessions(prescription):
    patient = prescription.patient
    for days_ago in (1, 2, 3):
        moment = timezone.now() - dt.timedelta(days=days_ago)
        SessionLog.objects.create(
            prescription=prescription,
            patient=patient,
            client_id=uuid.uuid4(),
            performed_at=moment,
            local_date=patient.local_date(moment),
        )
    return patient


def prepared_statements() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


def plain(sql, params):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def test_the_same_rows_as_a_plain_cursor(sessions):
    sql = statement()
    rows = prepared.fetchall(sql, [sessions.pk, SINCE])
    assert rows == plain(sql, [sessions.pk, SINCE])
    assert len(rows) == 3
    assert prepared.fetchall(sql, [sessions.pk, timezone.now().date()]) == []


@pytest.mark.postgres
def test_a_statement_is_prepared_once_per_connection_and_then_reused(sessions):
    sql = statement()
    before = prepared_statements()
    results = [prepared.fetchall(sql, [sessions.pk, SINCE]) for _ in range(3)]
    added = [text for text in prepared_statements() if text not in before]
    assert added == [sql.replace("%s", "$1", 1).replace("%s", "$2", 1)]
    assert results[0] == results[1] == results[2] != []


@pytest.mark.postgres
def test_other_queries_stay_unprepared(sessions):
    before = prepared_statements()
    list(SessionLog.objects.filter(patient=sessions))
    plain(statement(), [sessions.pk, SINCE])
    assert prepared_statements() == before


@pytest.mark.postgres
def test_logged_with_its_values_like_any_query(sessions):
    with CaptureQueriesContext(connection) as queries:
        prepared.fetchall(statement(), [sessions.pk, dt.date(2001, 2, 3)])
    (logged,) = queries.captured_queries
    assert f"patient_id = {sessions.pk}" in logged["sql"]
    assert "'2001-02-03'" in logged["sql"]


@pytest.mark.postgres
def test_turned_off_it_is_a_plain_cursor(sessions, monkeypatch):
    options = {**connection.settings_dict["OPTIONS"]}
    assert options.pop("prepare_threshold") is not None  # on by default
    monkeypatch.setitem(connection.settings_dict, "OPTIONS", options)
    sql = statement()
    before = prepared_statements()
    assert len(prepared.fetchall(sql, [sessions.pk, SINCE])) == 3
    assert prepared_statements() == before
