import logging

import pytest
from django.db import DatabaseError, connection, transaction
from django.http import HttpResponse
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from clinic import audit
from clinic.audit import EVENTS_ATTR, SAVEPOINT, AuditMiddleware, audit_flush, audit_record
from clinic.models import AuditEvent
from programs.models import Exercise
from tests import factories

pytestmark = pytest.mark.django_db


def run_view(user, view, *, method="get", path="/patients/", request_id="req-12345678"):
    """`view` behind AuditMiddleware, as `user`."""
    request = getattr(RequestFactory(), method)(path, HTTP_USER_AGENT="pytest-agent")
    request.user = user
    request.request_id = request_id
    return AuditMiddleware(view)(request)


def run_request(user, record):
    """A GET whose view calls `record(request)` and answers 200."""

    def view(inner_request):
        record(inner_request)
        return HttpResponse("ok")

    return run_view(user, view)


def test_a_list_view_writes_one_row_per_patient_in_one_insert(therapist):
    patients = [
        factories.create_patient(clinic=therapist.clinic, therapist=therapist, last_name=f"L{i}")
        for i in range(25)
    ]
    with CaptureQueriesContext(connection) as queries:
        response = run_request(
            therapist.user,
            lambda request: audit_record(
                request, action="list", object_type="patient", patient_ids=[p.pk for p in patients]
            ),
        )
    assert response.status_code == 200
    # One statement (on PostgreSQL with its transaction control in the same string).
    writes = [
        q
        for q in queries.captured_queries
        if "INSERT INTO" in q["sql"] and "auditevent" in q["sql"]
    ]
    assert len(writes) == 1
    events = AuditEvent.objects.filter(action="list")
    assert events.count() == 25
    event = events.first()
    assert (event.user_id, event.role, event.clinic_id) == (
        therapist.user_id,
        "therapist",
        therapist.clinic_id,
    )
    assert (event.path, event.method, event.status_code) == ("/patients/", "GET", 200)
    assert event.user_agent == "pytest-agent"
    assert event.request_id == "req-12345678"
    assert event.ip_address == "127.0.0.1"


def test_a_failed_audit_write_does_not_break_the_request_but_is_logged(
    therapist, monkeypatch, caplog
):
    def broken(*args, **kwargs):
        raise DatabaseError("audit table unavailable")

    monkeypatch.setattr(audit, "_insert_events", broken)
    with caplog.at_level(logging.ERROR, logger="stride.audit"):
        response = run_request(
            therapist.user,
            lambda request: audit_record(
                request, action="view", object_type="patient", patient_ids=[1]
            ),
        )
    assert response.status_code == 200
    assert "AUDIT WRITE FAILED" in caplog.text


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize(
    "object_type",
    [
        pytest.param("x" * 100, id="refused-by-postgresql"),  # too long for its column
        pytest.param("nul\x00byte", id="refused-by-the-driver"),  # never sent
    ],
)
def test_a_refused_audit_insert_leaves_the_request_and_its_write_intact(
    therapist, caplog, method, object_type
):
    # The INSERT travels with the rows' transaction control in one statement: whether the
    # server refuses it or the driver never sends it, the write commits and the failure is
    # logged.
    def view(request):
        audit_record(request, action="view", object_type=object_type, patient_ids=[7])
        if method == "post":
            factories.ExerciseFactory(slug="kept-despite-audit")
        return HttpResponse("ok")

    with caplog.at_level(logging.ERROR, logger="stride.audit"):
        response = run_view(therapist.user, view, method=method, path="/patients/7/")

    assert response.status_code == 200
    assert "AUDIT WRITE FAILED" in caplog.text
    assert not connection.in_atomic_block
    assert Exercise.objects.filter(slug="kept-despite-audit").exists() == (method == "post")
    assert AuditEvent.objects.count() == 0


@pytest.mark.postgres
def test_a_refused_audit_insert_inside_a_caller_s_transaction_rolls_that_transaction_back(
    therapist, caplog
):
    # No savepoint of its own there: the enclosing block must not go on to commit.
    request = audited_post(therapist.user)
    request.method = "GET"
    setattr(request, EVENTS_ATTR, [])
    audit_record(request, action="view", object_type="x" * 100, patient_ids=[7])

    with caplog.at_level(logging.ERROR, logger="stride.audit"), transaction.atomic():
        factories.ExerciseFactory(slug="rolled-back-with-the-block")
        assert audit_flush(request, HttpResponse()) == 0
        assert transaction.get_rollback()

    assert "AUDIT WRITE FAILED" in caplog.text
    assert not Exercise.objects.filter(slug="rolled-back-with-the-block").exists()


def test_audit_rows_read_back_as_written(therapist):
    # The PostgreSQL paths hand psycopg the attribute values as they are (no field
    # conversion): one row goes through VALUES, five through one JSON recordset.
    for count in (1, 5):
        run_request(
            therapist.user,
            lambda request, count=count: audit_record(
                request,
                action="view",
                object_type=f"batch-{count}",
                patient_ids=list(range(1, count + 1)),
            ),
        )
    for count in (1, 5):
        rows = AuditEvent.objects.filter(object_type=f"batch-{count}").order_by("patient_id")
        assert [row.patient_id for row in rows] == list(range(1, count + 1))
        assert [row.object_id for row in rows] == [str(n) for n in range(1, count + 1)]
        for row in rows:
            assert (row.user_id, row.role, row.clinic_id) == (
                therapist.user_id,
                "therapist",
                therapist.clinic_id,
            )
            assert (row.method, row.path, row.status_code) == ("GET", "/patients/", 200)
            assert row.ip_address == "127.0.0.1"
            assert row.occurred_at.tzinfo is not None
            assert abs((timezone.now() - row.occurred_at).total_seconds()) < 60


def run_write(user, view):
    return run_view(
        user, view, method="post", path="/patients/1/discharge/", request_id="req-write"
    )


def test_a_write_that_ends_in_a_server_error_is_rolled_back_and_still_audited(therapist):
    def view(request):
        audit_record(request, action="update", object_type="patient", patient_ids=[7])
        factories.ExerciseFactory(slug="half-written")
        return HttpResponse("boom", status=500)

    response = run_write(therapist.user, view)

    assert response.status_code == 500
    assert not Exercise.objects.filter(slug="half-written").exists()
    event = AuditEvent.objects.get(request_id="req-write")
    assert (event.status_code, event.patient_id, event.method) == (500, 7, "POST")


def test_a_write_commits_with_its_audit_rows_in_one_transaction(therapist):
    seen = {}

    def view(request):
        seen["atomic"] = connection.in_atomic_block
        audit_record(request, action="update", object_type="patient", patient_ids=[7])
        factories.ExerciseFactory(slug="kept")
        return HttpResponse("ok", status=200)

    with CaptureQueriesContext(connection) as queries:
        response = run_write(therapist.user, view)

    assert response.status_code == 200
    assert seen["atomic"] is True
    assert Exercise.objects.filter(slug="kept").exists()
    assert AuditEvent.objects.filter(request_id="req-write", status_code=200).count() == 1
    # The audit insert ran before the request's transaction ended (no BEGIN of its own).
    sql = [q["sql"] for q in queries.captured_queries]
    audit_at = next(i for i, q in enumerate(sql) if "clinic_auditevent" in q)
    assert "BEGIN" not in sql[audit_at - 1 : audit_at]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_audit_statement_commits_the_write_and_its_rows(therapist):
    kept = []

    def view(request):
        audit_record(request, action="update", object_type="patient", patient_ids=[7])
        factories.ExerciseFactory(slug="committed")
        transaction.on_commit(lambda: kept.append("after commit"))
        return HttpResponse("ok", status=200)

    with CaptureQueriesContext(connection) as queries:
        response = run_write(therapist.user, view)

    assert response.status_code == 200
    audit = [q["sql"] for q in queries.captured_queries if "clinic_auditevent" in q["sql"]]
    assert audit[0].startswith("SAVEPOINT")
    assert audit[0].endswith(f"RELEASE SAVEPOINT {SAVEPOINT}; COMMIT")
    assert Exercise.objects.filter(slug="committed").exists()
    assert AuditEvent.objects.filter(request_id="req-write", patient_id=7).count() == 1
    assert kept == ["after commit"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_write_refused_at_commit_fails_the_request_and_keeps_nothing(therapist):
    from django.db import IntegrityError

    from clinic.models import Practitioner

    kept = []
    missing_user = 10**9

    def view(request):
        audit_record(request, action="update", object_type="patient", patient_ids=[7])
        factories.ExerciseFactory(slug="refused")
        # PostgreSQL checks Django's foreign keys at COMMIT (deferred): this one fails there.
        Practitioner.objects.create(user_id=missing_user, clinic=therapist.clinic)
        transaction.on_commit(lambda: kept.append("after commit"))
        return HttpResponse("ok", status=200)

    with CaptureQueriesContext(connection) as queries, pytest.raises(IntegrityError) as raised:
        run_write(therapist.user, view)

    audit_sql = [q["sql"] for q in queries.captured_queries if "clinic_auditevent" in q["sql"]]
    assert audit_sql[0].endswith("; COMMIT")  # refused in the audit's statement, not Django's
    assert getattr(raised.value.__cause__, "sqlstate", None) == "23503"  # the driver's error
    assert not Exercise.objects.filter(slug="refused").exists()
    assert not Practitioner.objects.filter(user_id=missing_user).exists()
    assert not AuditEvent.objects.filter(request_id="req-write").exists()
    assert kept == []
    assert connection.get_autocommit() is True  # the connection is usable again


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_error_after_the_audit_commit_succeeded_does_not_fail_the_request(therapist, caplog):
    kept = []

    def raise_after_audit(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if "clinic_auditevent" in sql:
            raise RuntimeError("instrumentation failed after the statement")
        return result

    def view(request):
        audit_record(request, action="update", object_type="patient", patient_ids=[7])
        factories.ExerciseFactory(slug="kept-anyway")
        transaction.on_commit(lambda: kept.append("after commit"))
        return HttpResponse("ok", status=200)

    with connection.execute_wrapper(raise_after_audit):
        response = run_write(therapist.user, view)

    # The COMMIT went through: the request answers as it would have, its work done.
    assert response.status_code == 200
    assert Exercise.objects.filter(slug="kept-anyway").exists()
    assert AuditEvent.objects.filter(request_id="req-write").count() == 1
    assert kept == ["after commit"]
    assert "AUDIT WRITE FAILED" in caplog.text  # the error is still logged


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_audit_never_commits_a_transaction_it_did_not_open(therapist):
    def view(request):
        audit_record(request, action="update", object_type="patient", patient_ids=[7])
        factories.ExerciseFactory(slug="caller-decides")
        return HttpResponse("ok", status=200)

    connection.set_autocommit(False)  # the middleware's block is then a savepoint
    try:
        with CaptureQueriesContext(connection) as queries:
            assert run_write(therapist.user, view).status_code == 200
        connection.rollback()
    finally:
        connection.set_autocommit(True)

    audit_sql = [q["sql"] for q in queries.captured_queries if "clinic_auditevent" in q["sql"]]
    assert not audit_sql[0].endswith("COMMIT")
    assert not Exercise.objects.filter(slug="caller-decides").exists()
    assert not AuditEvent.objects.filter(request_id="req-write").exists()


def audited_post(user):
    request = RequestFactory().post("/api/v1/me/sessions/", HTTP_USER_AGENT="pytest-agent")
    request.user = user
    setattr(request, EVENTS_ATTR, [])
    audit_record(request, action="create", object_type="session", patient_ids=[7])
    return request


def commit_mode_after_audit(user, *, first: str) -> str:
    """The commit mode of a write request's transaction after its audit rows, when it began
    with a `first` statement: "write" (a row written) or "read" (nothing written)."""
    with transaction.atomic():
        if first == "write":
            factories.ExerciseFactory()
        else:
            assert Exercise.objects.filter(slug="none").count() == 0
        assert audit_flush(audited_post(user), HttpResponse(), write_transaction=True) == 1
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            return cursor.fetchone()[0]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_write_request_that_changed_nothing_commits_its_audit_row_asynchronously(therapist):
    from psycopg.pq import TransactionStatus

    # A retried upload or a refused form that sent nothing in its transaction: the audit row
    # commits asynchronously in a transaction of its own, one round trip, ahead of the request's.
    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        assert audit_flush(audited_post(therapist.user), HttpResponse(), write_transaction=True)
        assert connection.connection.info.transaction_status == TransactionStatus.IDLE
    audit = [q["sql"] for q in queries.captured_queries if "clinic_auditevent" in q["sql"]]
    assert len(audit) == 1
    assert audit[0].startswith("BEGIN; SET LOCAL synchronous_commit TO OFF; INSERT")
    assert audit[0].endswith("; COMMIT")
    # One that read first, still writing nothing: its audit row joins it, committed async.
    assert commit_mode_after_audit(therapist.user, first="read") == "off"
    # A real write keeps the durable commit its audit row shares.
    assert commit_mode_after_audit(therapist.user, first="write") == "on"
    assert AuditEvent.objects.filter(patient_id=7).count() == 3


def test_audit_rows_cannot_be_changed_or_deleted_through_the_orm(therapist):
    run_request(
        therapist.user,
        lambda request: audit_record(
            request, action="view", object_type="patient", patient_ids=[7]
        ),
    )
    event = AuditEvent.objects.get()
    event.action = "delete"
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()
    with pytest.raises(PermissionError):
        AuditEvent.objects.filter(pk=event.pk).update(action="delete")
    with pytest.raises(PermissionError):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.get().action == "view"


@pytest.mark.postgres
def test_the_database_refuses_to_change_audit_rows(therapist):
    run_request(
        therapist.user,
        lambda request: audit_record(
            request, action="view", object_type="patient", patient_ids=[7]
        ),
    )
    for statement in ("UPDATE clinic_auditevent SET action = 'x'", "DELETE FROM clinic_auditevent"):
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement)
    assert AuditEvent.objects.count() == 1


def test_admin_pages_of_patient_data_are_audited(admin_client, therapist):
    patient = factories.create_patient(clinic=therapist.clinic, therapist=therapist)
    assert admin_client.get("/admin/patients/patient/").status_code == 200
    assert admin_client.get(f"/admin/patients/patient/{patient.pk}/change/").status_code == 200
    actions = list(AuditEvent.objects.order_by("id").values_list("action", "patient_id", "role"))
    assert actions == [("list", patient.pk, "superuser"), ("view", patient.pk, "superuser")]


def audit_row(**fields):
    row = {
        "occurred_at": timezone.now(),
        "user_id": 5,
        "role": "therapist",
        "clinic_id": 3,
        "patient_id": 9,
        "action": "list",
        "object_type": "patient",
        "object_id": "9",
        "method": "GET",
        "path": "/api/v1/patients/",
        "status_code": 200,
        "ip_address": "10.0.0.1",
        "user_agent": "agent 'quoted', {braced}, \\back\\slashed, \"double\"",
        "request_id": "req-1",
    }
    return {**row, **fields}


def stored_rows(object_type):
    fields = audit.AUDIT_ATTNAMES
    return [
        {name: getattr(event, name) for name in fields}
        for event in AuditEvent.objects.filter(object_type=object_type).order_by("id")
    ]


@pytest.mark.parametrize(
    "rows",
    [
        pytest.param([audit_row(object_type="one")], id="one-row"),
        pytest.param([audit_row(object_type="same")] * 3, id="identical-rows"),
        pytest.param(
            [
                audit_row(object_type="mixed", patient_id=1, object_id="1"),
                audit_row(object_type="mixed", patient_id=None, object_id="", clinic_id=None),
                audit_row(
                    object_type="mixed",
                    patient_id=2,
                    object_id="{not,an,array}",
                    user_agent="ünïcode 'and' \"quotes\"",
                    ip_address=None,
                ),
            ],
            id="varying-with-nulls-and-quotes",
        ),
    ],
)
def test_rows_are_stored_in_order_exactly_as_given(rows):
    audit._insert_events(list(rows), relax=None, write_transaction=False)
    assert stored_rows(rows[0]["object_type"]) == list(rows)


@pytest.mark.postgres
def test_a_value_too_long_for_its_column_is_refused_not_cut_short():
    rows = [audit_row(object_type="long", object_id="1"), audit_row(object_type="long")]
    rows[1]["object_id"] = "x" * 65  # the column holds 64
    with pytest.raises(DatabaseError), transaction.atomic():
        audit._insert_events(rows, relax=None, write_transaction=False)
    assert not AuditEvent.objects.filter(object_type="long").exists()
