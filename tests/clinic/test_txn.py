"""`clinic.txn.ahead_of_transaction` (tests/api/test_round_trips.py: what it saves requests)."""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from clinic.models import AuditEvent
from clinic.txn import ahead_of_transaction

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def table_count(sql_table: str) -> int:
    """Rows committed, as another connection sees them."""
    import psycopg

    settings = connection.settings_dict
    with psycopg.connect(
        dbname=settings["NAME"],
        user=settings["USER"],
        host=settings["HOST"],
        port=settings["PORT"],
        password=settings["PASSWORD"],
        autocommit=True,
    ) as other:
        return other.execute(f"SELECT count(*) FROM {sql_table}").fetchone()[0]  # noqa: S608


def audit_row(note: str) -> None:
    AuditEvent.objects.create(
        occurred_at=timezone.now(), role="staff", action="view", object_type=note
    )


def test_ahead_of_an_unstarted_transaction_statements_commit_on_their_own():
    table = AuditEvent._meta.db_table
    with transaction.atomic():
        with ahead_of_transaction() as ahead:
            audit_row("ahead")
        assert ahead is True
        # Committed already: another connection sees it before the atomic block ends.
        assert table_count(table) == 1
        assert connection.connection.autocommit is False
        audit_row("inside")
        transaction.set_rollback(True)
    # The statement after the block belonged to the atomic block, and rolled back with it.
    assert list(AuditEvent.objects.values_list("object_type", flat=True)) == ["ahead"]


def test_once_the_transaction_started_statements_stay_inside_it():
    with transaction.atomic():
        audit_row("first")
        with ahead_of_transaction() as ahead:
            audit_row("second")
        assert ahead is False
        transaction.set_rollback(True)
    assert AuditEvent.objects.count() == 0


def test_outside_an_atomic_block_nothing_changes():
    with ahead_of_transaction() as ahead:
        audit_row("autocommit")
    assert ahead is False
    assert connection.get_autocommit() is True
    assert AuditEvent.objects.count() == 1


def test_a_failed_statement_ahead_leaves_the_atomic_block_usable():
    with transaction.atomic():
        with (
            pytest.raises(Exception, match="no_such_table"),
            ahead_of_transaction(),
            connection.cursor() as cursor,
        ):
            cursor.execute("SELECT * FROM no_such_table")
        assert connection.connection.autocommit is False
        audit_row("after")
    assert AuditEvent.objects.count() == 1


def test_a_transaction_left_open_ahead_is_rolled_back_not_taken_in():
    with transaction.atomic():
        with ahead_of_transaction(), connection.cursor() as cursor:
            cursor.execute("BEGIN")
            cursor.execute(
                f"INSERT INTO {AuditEvent._meta.db_table} (occurred_at, role, action, "  # noqa: S608
                "object_type, object_id, method, path, user_agent, request_id) "
                "VALUES (now(), 'staff', 'view', 'left open', '', '', '', '', '')"
            )
        assert connection.connection.autocommit is False
    assert AuditEvent.objects.count() == 0


def test_it_does_not_nest():
    with (
        transaction.atomic(),
        ahead_of_transaction() as outer,
        pytest.raises(RuntimeError, match="does not nest"),
        ahead_of_transaction(),
    ):
        pass
    assert outer is True


def test_under_a_stricter_isolation_level_statements_stay_inside(monkeypatch):
    from psycopg import IsolationLevel

    connection.ensure_connection()
    monkeypatch.setattr(connection, "isolation_level", IsolationLevel.REPEATABLE_READ)
    with transaction.atomic():
        with ahead_of_transaction() as ahead:
            audit_row("inside")
        assert ahead is False
        transaction.set_rollback(True)
    assert AuditEvent.objects.count() == 0


def test_audit_rows_that_fail_in_their_own_transaction_leave_the_request_usable(caplog):
    from django.http import HttpResponse
    from django.test import RequestFactory

    from clinic.audit import EVENTS_ATTR, audit_flush, audit_record

    request = RequestFactory().post("/api/v1/me/sessions/")
    request.user = AnonymousUser()
    setattr(request, EVENTS_ATTR, [])
    # Longer than its column: the server refuses the INSERT after the string's BEGIN.
    audit_record(request, action="create", object_type="x" * 41, patient_ids=[7])
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        assert audit_flush(request, HttpResponse(), write_transaction=True) == 0
        assert connection.connection.autocommit is False
        audit_row("after")
    assert "AUDIT WRITE FAILED" in caplog.text
    sent = [q["sql"] for q in queries.captured_queries]
    assert sent[0].startswith("BEGIN; SET LOCAL synchronous_commit TO OFF; INSERT")
    assert sent[1] == "ROLLBACK"  # the audit's own transaction, undone
    assert list(AuditEvent.objects.values_list("object_type", flat=True)) == ["after"]
