"""Recording the audit trail: views declare what they showed or changed; one INSERT per request.

`audit_record` collects events on the request; `AuditMiddleware` writes them in one
`bulk_create` after the response is ready. A failure to write never breaks the request, but it
is logged at ERROR with the request id so it cannot pass unnoticed.
"""

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.db import DatabaseError, connection, transaction
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve
from django.utils import timezone
from psycopg.pq import TransactionStatus

from .models import AuditEvent
from .rows import cast_type
from .txn import ahead_of_transaction

logger = logging.getLogger("stride.audit")
EVENTS_ATTR = "_stride_audit_events"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


@dataclass(frozen=True)
class PendingEvent:
    action: str
    object_type: str
    object_id: str
    patient_id: int | None
    clinic_id: int | None


def caller_role(user: object) -> tuple[str, int | None]:
    """(role, clinic id) of a request's user: therapist, admin, patient, staff or anonymous.

    Uses the profile the permission checks already loaded when there is one (no query).
    """
    if not getattr(user, "is_authenticated", False):
        return "anonymous", None
    cached = user._state.fields_cache  # type: ignore[attr-defined]
    for name in ("practitioner", "patient"):
        if cached.get(name) is not None:
            profile = cached[name]
            role = profile.role if name == "practitioner" else "patient"
            return role, profile.clinic_id
    practitioner = getattr(user, "practitioner", None) if hasattr(user, "practitioner") else None
    if practitioner is not None:
        return practitioner.role, practitioner.clinic_id
    patient = getattr(user, "patient", None) if hasattr(user, "patient") else None
    if patient is not None:
        return "patient", patient.clinic_id
    return ("superuser" if getattr(user, "is_superuser", False) else "staff"), None


def audit_record(
    request: HttpRequest,
    *,
    action: str,
    object_type: str,
    patient_ids: Iterable[int | None] = (),
    object_ids: Iterable[object] | None = None,
    clinic_id: int | None = None,
) -> None:
    """Note that this request showed or changed these patients' data (written after response).

    `patient_ids` and `object_ids` pair up; with no `object_ids` the patient id is the object.
    """
    request = getattr(request, "_request", request)  # DRF wraps Django's request
    events = getattr(request, EVENTS_ATTR, None)
    if events is None:  # outside the middleware (e.g. a management command): nowhere to write
        events = []
        setattr(request, EVENTS_ATTR, events)
    patient_ids = list(patient_ids)
    ids = list(object_ids) if object_ids is not None else patient_ids
    for patient_id, object_id in zip(patient_ids or [None] * len(ids), ids, strict=True):
        events.append(
            PendingEvent(
                action=action,
                object_type=object_type,
                object_id="" if object_id is None else str(object_id),
                patient_id=patient_id,
                clinic_id=clinic_id,
            )
        )


def _client_ip(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


# The columns are plain scalars (text, integers, a timestamp, an address as text): psycopg
# takes the model's attribute values as they are, so the INSERT below needs no field's
# conversion. A test checks that rows written read back as written.
AUDIT_FIELDS = [f for f in AuditEvent._meta.concrete_fields if not f.primary_key]
AUDIT_ATTNAMES = [f.attname for f in AUDIT_FIELDS]
AuditRow = dict[str, Any]  # AUDIT_ATTNAMES -> value


SAVEPOINT = "stride_audit"


def _json_value(value: Any) -> str:
    """Dates and times in full (ISO 8601, microseconds kept), anything else as its text."""
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _insert_sql(rows: list[AuditRow]) -> tuple[str, list[Any]]:
    """The INSERT of `rows` and its parameters.

    One row: plain VALUES. Several (a list page audits every patient it shows): the values
    all rows share once, and the columns that vary as one JSON array of records, read back
    into rows in order (`json_to_recordset`). Fifty rows of 14 values were 700 parameters to
    quote; this is a handful.
    """
    quote = connection.ops.quote_name
    table = quote(AuditEvent._meta.db_table)
    columns = ", ".join(quote(f.column) for f in AUDIT_FIELDS)
    first = rows[0]
    # Identifiers come from the model's _meta, every value is a parameter.
    if len(rows) == 1:
        values = ", ".join(["%s"] * len(AUDIT_FIELDS))
        sql = f"INSERT INTO {table} ({columns}) VALUES ({values})"  # noqa: S608
        return sql, [first[name] for name in AUDIT_ATTNAMES]
    varying = [f for f in AUDIT_FIELDS if len({row[f.attname] for row in rows}) > 1]
    select = [
        f"u.{quote(f.column)}" if f in varying else f"%s::{cast_type(f, connection.vendor)}"
        for f in AUDIT_FIELDS
    ]
    if varying:
        # One JSON parameter (the C encoder) rather than one array per column: psycopg quotes
        # arrays element by element in Python.
        record = ", ".join(f"{quote(f.column)} {cast_type(f, connection.vendor)}" for f in varying)
        source = f"json_to_recordset(%s::json) AS u({record})"
        records = [{f.column: row[f.attname] for f in varying} for row in rows]
        source_params: list[Any] = [json.dumps(records, default=_json_value)]
    else:  # identical rows
        source, source_params = "generate_series(1, %s) AS u", [len(rows)]
    sql = f"INSERT INTO {table} ({columns}) SELECT {', '.join(select)} FROM {source}"  # noqa: S608
    shared = [first[f.attname] for f in AUDIT_FIELDS if f not in varying]
    return sql, shared + source_params


class _CommitFailed(Exception):
    """The request's transaction failed at the COMMIT sent with its audit rows (a deferred
    constraint, a serialization failure): its writes are gone, and the request must fail as
    it would have at Django's own commit. The database's error is the cause."""


def _insert_in_one_round_trip(
    rows: list[AuditRow],
    *,
    relax: str | None,
    own_transaction: bool,
    savepoint: bool,
    commit: bool = False,
) -> None:
    """On PostgreSQL, the rows with their transaction control in one statement string.

    Every audited request writes rows (one, or one per patient a list shows), and their
    savepoint (or transaction), commit mode, INSERT and release were four to five round trips
    and an ORM insert: about a fifth of a retried upload's time; a COPY of a list's rows took
    as many. Django's psycopg cursors bind parameters on the client, which lets one `execute`
    carry several statements; a failure is rolled back to the savepoint (or the transaction is
    rolled back) here, then raised. `commit` (with `savepoint`): the rows are the last thing
    the request's transaction does, and the string ends it, sparing Django's COMMIT its round
    trip (psycopg sends nothing for a commit once the transaction is over). A failed INSERT
    stops the string before its COMMIT; a failed COMMIT raises `_CommitFailed`.
    """
    insert, params = _insert_sql(rows)
    if own_transaction:
        begin, end, undo = "BEGIN", "COMMIT", "ROLLBACK"
    elif savepoint:
        begin, end = f"SAVEPOINT {SAVEPOINT}", f"RELEASE SAVEPOINT {SAVEPOINT}"
        undo = f"ROLLBACK TO SAVEPOINT {SAVEPOINT}; RELEASE SAVEPOINT {SAVEPOINT}"
        if commit:
            end += "; COMMIT"
    else:  # inside someone else's transaction, which takes the rows as they are
        begin = end = undo = ""
    sql = "; ".join(part for part in (begin, relax, insert, end) if part)
    with connection.cursor() as cursor:
        try:
            cursor.execute(sql, params)
        except Exception as exc:
            status = connection.connection.info.transaction_status
            if commit and savepoint and status == TransactionStatus.IDLE and _from_server(exc):
                # The server refused a statement and the transaction is over: only the COMMIT
                # can end it that way (a refused INSERT leaves it in error). An error raised
                # after a COMMIT that succeeded (by an execute wrapper, say) is not one.
                raise _CommitFailed from exc
            _recover(cursor, undo)
            raise


def _from_server(exc: BaseException) -> bool:
    """Did PostgreSQL answer with this error (it carries an SQLSTATE)? Django's database errors
    wrap the driver's as their cause."""
    return any(getattr(e, "sqlstate", None) for e in (exc, exc.__cause__))


def _recover(cursor: Any, undo: str) -> None:
    """After a failed audit statement: undo what reached the server, if anything did.

    A value the driver refuses (a NUL character, say) fails before anything is sent: then
    there is no savepoint to roll back to, and the enclosing transaction is intact. A statement
    the server refused leaves the transaction in error: roll back to the savepoint (or roll
    the audit's own transaction back). When that cannot be done, or when there was no savepoint
    to return to, the enclosing atomic block must roll back rather than commit.
    """
    in_error = connection.connection.info.transaction_status == TransactionStatus.INERROR
    if not in_error:
        return
    try:
        if not undo:
            raise DatabaseError("audit insert failed inside a transaction without a savepoint")
        cursor.execute(undo)
    except Exception:
        if connection.in_atomic_block:
            transaction.set_rollback(True)
        raise


# A read's audit rows need not wait for a disk flush (3-8 ms here, more than the read
# itself): PostgreSQL still writes them in order, but a database crash could lose the last
# fraction of a second of them. Only ever SET LOCAL, so it ends with the transaction.
ASYNC_COMMIT = "SET LOCAL synchronous_commit TO OFF"
# The same for a write request that changed nothing (a retried upload answered with the
# stored session, a form refused with 400): no transaction id assigned yet means no row was
# written, so the transaction's only change is its audit rows. A real write keeps its
# synchronous commit, which its audit rows share.
ASYNC_COMMIT_IF_NOTHING_WRITTEN = (
    "SELECT set_config('synchronous_commit', 'off', true) "
    "WHERE pg_current_xact_id_if_assigned() IS NULL"
)


def _ends_the_request_transaction() -> bool:
    """Is the current atomic block the outermost one, one that commits on exit (not a
    savepoint in a transaction autocommit was already off for), with nothing asking for a
    rollback?"""
    return (
        connection.in_atomic_block
        and len(connection.atomic_blocks) == 1
        and connection.commit_on_exit
        and not connection.savepoint_ids
        and not connection.needs_rollback
    )


def _insert_events(
    rows: list[AuditRow], *, relax: str | None, write_transaction: bool, commit: bool = False
) -> None:
    """Write the rows: on PostgreSQL in one round trip, elsewhere through the ORM. `relax` is
    the commit-mode statement for the rows' transaction, if any (the rows of a write request
    whose transaction never started are committed asynchronously whatever it says: nothing else
    was written)."""
    if connection.vendor != "postgresql":
        with transaction.atomic(savepoint=write_transaction):
            AuditEvent.objects.bulk_create([AuditEvent(**row) for row in rows])
        return
    if write_transaction:
        with ahead_of_transaction() as ahead:
            if ahead:
                # The write request's transaction never started: nothing was written, and the
                # rows take a transaction of their own, in their one round trip; the request's
                # then ends without a COMMIT to send.
                _insert_in_one_round_trip(
                    rows, relax=ASYNC_COMMIT, own_transaction=True, savepoint=False
                )
                return
    own_transaction = connection.get_autocommit() and not connection.in_atomic_block
    if not (own_transaction or write_transaction):
        relax = None  # never loosen the commit of a transaction that is not the rows' own
    _insert_in_one_round_trip(
        rows,
        relax=relax,
        own_transaction=own_transaction,
        savepoint=write_transaction,
        commit=commit and write_transaction and _ends_the_request_transaction(),
    )


def audit_flush(
    request: HttpRequest,
    response: HttpResponse | None,
    *,
    write_transaction: bool = False,
    commit: bool = False,
) -> int:
    """Write the request's collected events in one statement; returns how many were written.

    `write_transaction`: called inside AuditMiddleware's transaction around a write, so the
    rows commit with the write; the insert runs in a savepoint, and a failed audit insert is
    logged without aborting the write; if that transaction never started (nothing was sent to
    the database in it, so nothing was written), the rows get one of their own. Otherwise the
    rows get a transaction of their own (a read's is never made inside someone else's
    transaction, whose commit mode it would loosen). `commit` (AuditMiddleware, with
    `write_transaction`): nothing runs in the transaction after these rows, so their statement
    commits it (one round trip fewer); if that COMMIT fails, the database's error is raised,
    as Django's commit would have raised it.
    """
    events: list[PendingEvent] = getattr(request, EVENTS_ATTR, None) or []
    if not events:
        return 0
    user = getattr(request, "user", None)
    # The dashboard's access check already loaded the practitioner: no query for the role.
    practitioner = getattr(request, "practitioner", None)
    if practitioner is not None:
        role, role_clinic_id = practitioner.role, practitioner.clinic_id
    else:
        role, role_clinic_id = caller_role(user)
    common = {
        "user_id": user.pk if getattr(user, "is_authenticated", False) else None,
        "role": role,
        "method": request.method or "",
        "path": request.path[:300],
        "status_code": response.status_code if response is not None else None,
        "ip_address": _client_ip(request),
        "user_agent": request.headers.get("User-Agent", "")[:300],
        "request_id": getattr(request, "request_id", ""),
    }
    # Rows as plain dicts of the model's attributes: a list page audits 50 patients, and 50
    # model instances cost more than the statement that writes them.
    common["occurred_at"] = timezone.now()
    rows = [
        {
            "clinic_id": event.clinic_id or role_clinic_id,
            "patient_id": event.patient_id,
            "action": event.action,
            "object_type": event.object_type,
            "object_id": event.object_id,
            **common,
        }
        for event in events
    ]
    relax = None
    if connection.vendor == "postgresql":
        if write_transaction:
            relax = ASYNC_COMMIT_IF_NOTHING_WRITTEN
        elif request.method in SAFE_METHODS and not connection.in_atomic_block:
            relax = ASYNC_COMMIT
    try:
        # Inside a write's transaction: a savepoint, so that a failed insert leaves the write
        # intact. Elsewhere a transaction of its own (or the enclosing one, as is).
        _insert_events(rows, relax=relax, write_transaction=write_transaction, commit=commit)
    except _CommitFailed as failed:
        # The write is gone: the request fails with the database's error (its driver's error
        # still its cause, as at Django's own commit).
        error = failed.__cause__
        assert error is not None
        raise error from error.__cause__
    except Exception:
        logger.exception(
            "AUDIT WRITE FAILED: %d events lost for %s %s",
            len(rows),
            request.method,
            request.path,
            extra={"audit_events_lost": len(rows)},
        )
        return 0
    finally:
        setattr(request, EVENTS_ATTR, [])
    return len(rows)


class AuditMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        setattr(request, EVENTS_ATTR, [])
        if request.method in SAFE_METHODS:
            response = self.get_response(request)
            audit_flush(request, response)
            return response
        # A write and its audit rows commit together: never a change without its row, and one
        # durable commit per write instead of two (a commit waits 3-8 ms for the disk here).
        # Services' own transactions become savepoints; their on_commit work runs after this
        # commit. A server error rolls the request's writes back (no partial write) and its
        # audit rows are then written on their own.
        with transaction.atomic():
            response = self.get_response(request)
            failed = response.status_code >= 500
            if failed:
                transaction.set_rollback(True)
            else:
                audit_flush(request, response, write_transaction=True, commit=True)
        if failed:
            audit_flush(request, response)
        return response


class AuditedAdminMixin:
    """For ModelAdmins of patient data: record who opened which rows in the admin.

    Changes are recorded field by field by django-auditlog; this adds the reads.
    """

    audit_object_type = ""
    audit_patient_field = "patient_id"

    def _patient_id_of(self, obj: object) -> int | None:
        return getattr(obj, self.audit_patient_field, None)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict | None = None
    ) -> HttpResponse:
        response = super().changelist_view(request, extra_context)  # type: ignore[misc]
        changelist = getattr(response, "context_data", {}) and response.context_data.get("cl")
        if changelist is not None:
            shown = list(changelist.result_list)
            audit_record(
                request,
                action=AuditEvent.Action.LIST,
                object_type=self.audit_object_type,
                patient_ids=[self._patient_id_of(obj) for obj in shown],
                object_ids=[obj.pk for obj in shown],
            )
        return response

    def change_view(
        self, request: HttpRequest, object_id: str, *args: object, **kwargs: object
    ) -> HttpResponse:
        response = super().change_view(request, object_id, *args, **kwargs)  # type: ignore[misc]
        obj = self.get_object(request, object_id)  # type: ignore[attr-defined]
        if obj is not None:
            audit_record(
                request,
                action=AuditEvent.Action.UPDATE
                if request.method == "POST"
                else AuditEvent.Action.VIEW,
                object_type=self.audit_object_type,
                patient_ids=[self._patient_id_of(obj)],
                object_ids=[obj.pk],
            )
        return response


# --- declarative route rules ----------------------------------------------------------------
# Interfaces (the API, the dashboard) register, per URL name, what a successful request to it
# shows or changes; `RouteAuditMiddleware` turns that into events after the view ran. Routes
# whose view records its own events (e.g. a list whose rows only the view knows) register
# `patient="view"` so coverage checks still see them.


@dataclass(frozen=True)
class RouteRule:
    object_type: str
    # Where the patient id comes from: "url:<kwarg>", "me" (the calling patient),
    # "results:<field>" (each row of a list response, or the one object of a detail response),
    # "data:<field>" (the response body),
    # or "view" (the view records its own events).
    patient: str
    # Where the object id comes from: "url:<kwarg>", "data:<field>", "results:<field>" or "".
    object_id: str = ""
    actions: dict[str, str] | None = None  # HTTP method -> action; default by method

    def action_for(self, method: str) -> str:
        if self.actions and method in self.actions:
            return self.actions[method]
        return {
            "GET": AuditEvent.Action.VIEW,
            "POST": AuditEvent.Action.CREATE,
            "PUT": AuditEvent.Action.UPDATE,
            "PATCH": AuditEvent.Action.UPDATE,
            "DELETE": AuditEvent.Action.DELETE,
        }.get(method, AuditEvent.Action.VIEW)


ROUTE_RULES: dict[str, RouteRule] = {}
UNAUDITED_ROUTES: set[str] = set()


def register_route_rules(rules: dict[str, RouteRule], *, unaudited: Iterable[str] = ()) -> None:
    """Declare, by URL name ("namespace:name"), what each route of an interface touches."""
    ROUTE_RULES.update(rules)
    UNAUDITED_ROUTES.update(unaudited)


def _rows(body: object) -> list[dict]:
    """The rows of a list response, or the one object of a detail or create response."""
    if isinstance(body, dict) and isinstance(body.get("results"), list):
        return [row for row in body["results"] if isinstance(row, dict)]
    if isinstance(body, list):
        return [row for row in body if isinstance(row, dict)]
    return [body] if isinstance(body, dict) else []


def _as_id(value: object) -> object:
    return value.get("id") if isinstance(value, dict) else value


def _values(
    source: str, request: HttpRequest, body: object, response: HttpResponse | None = None
) -> list[object]:
    kind, _, name = source.partition(":")
    if kind == "url":
        return [request.resolver_match.kwargs.get(name)]
    if kind == "me":
        patient = (
            getattr(request.user, "patient", None) if hasattr(request.user, "patient") else None
        )
        return [patient.pk if patient is not None else None]
    if kind == "data" and isinstance(body, dict):
        return [_as_id(body.get(name))]
    if kind == "results":
        return [_as_id(row.get(name)) for row in _rows(body)]
    if kind == "redirect" and response is not None and response.get("Location"):
        # A form that created something redirects to it: the new object's id is in the URL.
        try:
            return [resolve(urlsplit(response["Location"]).path).kwargs.get(name)]
        except Resolver404:
            return []
    return []


def _succeeded(request: HttpRequest, response: HttpResponse) -> bool:
    """Did the request show or change what its rule says?

    API answers (which carry `.data`) succeed with 2xx. A page's form post succeeds when it
    redirects (post/redirect/get); a 200 there is the form shown again with its errors.
    """
    status_code = response.status_code
    if request.method in SAFE_METHODS or hasattr(response, "data"):
        return 200 <= status_code < 300
    return 300 <= status_code < 400 and getattr(request.user, "is_authenticated", False)


class RouteAuditMiddleware:
    """Record what successful requests to registered routes showed or changed."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        rule = ROUTE_RULES.get(match.view_name) if match else None
        if rule is None or rule.patient == "view" or not _succeeded(request, response):
            return response
        body = getattr(response, "data", None)
        patient_ids = _values(rule.patient, request, body, response)
        object_ids = (
            _values(rule.object_id, request, body, response) if rule.object_id else patient_ids
        )
        if len(patient_ids) == 1 and not object_ids:
            object_ids = [None]  # an empty list of one patient's records was still looked at
        if len(patient_ids) == 1 and len(object_ids) != 1:
            patient_ids = patient_ids * len(object_ids)
        if not object_ids:
            return response
        audit_record(
            request,
            action=rule.action_for(request.method or "GET"),
            object_type=rule.object_type,
            patient_ids=[int(pk) if pk is not None else None for pk in patient_ids],
            object_ids=object_ids,
        )
        return response
