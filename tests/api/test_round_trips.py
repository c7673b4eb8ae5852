"""Round trips to PostgreSQL of the hottest write requests, read off libpq's own trace.

A write request that writes nothing but its audit row (a retried upload answered from the
cache) sends neither BEGIN nor COMMIT (`clinic.txn`); a new upload commits its rows with its
audit row in one transaction.
"""

import re
import tempfile
import uuid
from contextlib import contextmanager

import pytest
from django.db import connection

from clinic.models import AuditEvent
from programs.models import SessionLog
from tests.api.conftest import redis_commands
from tests.api.test_sessions import session_body

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

SESSIONS = "/api/v1/me/sessions/"


@contextmanager
def round_trips():
    """The messages libpq exchanged meanwhile: `.queries` (simple-protocol texts) and
    `.round_trips` (ReadyForQuery answers, one per round trip)."""
    connection.ensure_connection()
    pgconn = connection.connection.pgconn

    class Trace:
        queries: list[str]
        round_trips: int

    trace = Trace()
    with tempfile.TemporaryFile("w+") as log:
        pgconn.trace(log.fileno())
        try:
            yield trace
        finally:
            pgconn.untrace()
        log.seek(0)
        lines = log.read().splitlines()
    trace.queries = [
        m.group(1) for line in lines if (m := re.search(r"\tF\t\d+\tQuery\t \"(.*)\"$", line))
    ]
    trace.round_trips = sum(1 for line in lines if "\tB\t5\tReadyForQuery" in line)


@pytest.fixture
def client(auth_client, patient_user):
    return auth_client(patient_user)


def test_a_retry_answered_from_the_cache_takes_two_round_trips(client, prescription):
    body = session_body(prescription, client_id=str(uuid.uuid4()))
    assert client.post(SESSIONS, body, format="json").status_code == 201
    audits = AuditEvent.objects.count()

    with round_trips() as retry:
        assert client.post(SESSIONS, body, format="json").status_code == 200

    # The caller, then the audit row in a transaction of its own: no BEGIN ahead of the
    # caller and no COMMIT after the audit statement. (In production the request also begins
    # with Django's connection health check, which the test client leaves out.)
    assert retry.round_trips == 2
    assert not [q for q in retry.queries if q in ("BEGIN", "COMMIT")]
    assert [q.split(";")[0] for q in retry.queries] == ["BEGIN"]  # the audit's own string
    assert "synchronous_commit TO OFF" in retry.queries[0]
    assert AuditEvent.objects.count() == audits + 1
    assert SessionLog.objects.filter(client_id=body["client_id"]).count() == 1


def test_a_new_upload_commits_with_its_audit_row_in_one_transaction(client, prescription):
    body = session_body(prescription)
    with round_trips() as upload:
        assert client.post(SESSIONS, body, format="json").status_code == 201

    # The caller ahead; then BEGIN, the program read, the insert, and the audit row's statement
    # that also commits them: no COMMIT of its own.
    assert upload.queries.count("BEGIN") == 1
    assert "COMMIT" not in upload.queries
    audit = next(q for q in upload.queries if "clinic_auditevent" in q)
    assert audit.startswith("SAVEPOINT")
    assert audit.endswith("; COMMIT")
    assert upload.queries.index("BEGIN") < upload.queries.index(audit)
    session = SessionLog.objects.get(client_id=body["client_id"])
    assert AuditEvent.objects.filter(object_id=str(session.pk)).exists()


@pytest.mark.redis
def test_a_retry_reads_its_kept_answer_in_the_throttles_round_trip(client, prescription):
    body = session_body(prescription)
    with redis_commands() as upload:
        first = client.post(SESSIONS, body, format="json")
    with redis_commands() as retry:
        retried = client.post(SESSIONS, {**body, "pain_after": 9}, format="json")

    assert (first.status_code, retried.status_code) == (201, 200)
    assert retried.json() == first.json()
    # The throttle's script also read the (absent, then kept) answer; after commit, one
    # round trip kept it and moved the patient's list row out of date (programs.row_cache).
    # (Both scripts: clinic.cache_writes.SET_EACH sets each key with its expiry.)
    assert [c for c in upload if c != "SCRIPT LOAD"] == ["EVALSHA", "EVALSHA"]
    assert retry == ["EVALSHA"]


@pytest.mark.redis
@pytest.mark.parametrize(
    ("body", "status", "kind"),
    [(b'{"client_id": ', 400, "invalid"), (b"x" * 20_000, 413, "too_large")],
)
def test_a_body_the_throttle_cannot_read_counts_and_answers_as_before(
    client, settings, throttle_rates, body, status, kind
):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    throttle_rates(session_write="1/min")

    first = client.post(SESSIONS, body, content_type="application/json")
    second = client.post(SESSIONS, body, content_type="application/json")

    assert (first.status_code, first.json()["type"]) == (status, kind)
    assert second.status_code == 429  # the first one counted


def kept_answer_key(prescription, body) -> str:
    from django.core.cache import caches

    from clinic import answers

    key = answers.answer_key(
        answers.SESSION_UPLOAD, prescription.patient.pk, uuid.UUID(body["client_id"])
    )
    return caches["default"].make_and_validate_key(key)


@pytest.mark.redis
def test_an_unreadable_kept_answer_is_answered_by_the_database(client, prescription, caplog):
    from django.core.cache import caches

    body = session_body(prescription)
    first = client.post(SESSIONS, body, format="json")
    redis = caches["default"]._cache.get_client(write=True)
    redis.set(kept_answer_key(prescription, body), b"not a pickle", ex=60)

    retried = client.post(SESSIONS, body, format="json")

    assert (first.status_code, retried.status_code) == (201, 200)
    assert retried.json() == first.json()
    assert "prefetched cache value unreadable" in caplog.text


@pytest.mark.redis
def test_a_large_body_is_not_read_before_the_throttle_decides(client, prescription):
    import json

    from api.throttles import PREFETCH_BODY_LIMIT

    body = session_body(prescription)
    # The same session, padded past the limit with JSON whitespace.
    large = json.dumps(body) + " " * PREFETCH_BODY_LIMIT
    first = client.post(SESSIONS, body, format="json")
    with redis_commands() as retry:
        retried = client.post(SESSIONS, large, content_type="application/json")

    assert (first.status_code, retried.status_code) == (201, 200)
    assert retried.json() == first.json()
    assert retry == ["EVALSHA", "GET"]  # the view read its kept answer itself
