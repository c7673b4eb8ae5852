"""Dispatch: find who is due on their own clock, create the day's rows, enqueue the sends."""

import datetime as dt
import logging
import uuid
import zoneinfo
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial, reduce
from operator import or_
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Exists, F, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.db.models.lookups import GreaterThan
from django.utils import timezone

from patients.models import Patient

from ..alerts import alert_open
from ..models import Alert, Prescription, Reminder, SessionLog
from .rules import LocalClock, SkipReason, due_cutoff, fatigue_decision, in_quiet_hours, local_clock

logger = logging.getLogger("stride.reminders")

ONE_DAY = dt.timedelta(days=1)
SESSION = Reminder.Kind.SESSION
MISSED = Reminder.Kind.MISSED
PENDING = Reminder.Status.PENDING
SENDING = Reminder.Status.SENDING
SENT = Reminder.Status.SENT
SKIPPED = Reminder.Status.SKIPPED


@dataclass
class DispatchResult:
    dispatch_id: uuid.UUID
    now: dt.datetime
    batches: int = 0
    selected: int = 0
    created: Counter = field(default_factory=Counter)  # kind -> pending rows this run created
    skipped: Counter = field(default_factory=Counter)  # reason -> skipped rows this run created
    enqueued: int = 0
    requeued: int = 0
    alerts_opened: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "dispatch_id": str(self.dispatch_id),
            "now": self.now.isoformat(),
            "batches": self.batches,
            "selected": self.selected,
            "created": {str(kind): count for kind, count in self.created.items()},
            "skipped": {str(reason): count for reason, count in self.skipped.items()},
            "enqueued": self.enqueued,
            "requeued": self.requeued,
            "alerts_opened": self.alerts_opened,
        }


def _reminder_patients() -> Any:
    return Patient.objects.filter(status=Patient.Status.ACTIVE, reminders_enabled=True)


def _timezone_clocks(now: dt.datetime) -> dict[str, LocalClock]:
    clocks = {}
    zones = _reminder_patients().order_by().values_list("timezone", flat=True).distinct()
    for name in zones:
        try:
            clocks[name] = local_clock(name, now)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            logger.warning("Unknown time zone %r: its patients get no reminders.", name)
    return clocks


ClauseBuilder = Callable[[int], Q]


def _rows_of_patient(queryset: Any, after_id: int) -> Any:
    """Rows of the outer patient; the repeated keyset bound lets index scans start at the batch.

    Without `patient_id > after_id`, PostgreSQL merge-joins each batch against the whole index
    from its start, and a run of n batches reads the tables n times.
    """
    return queryset.filter(patient=OuterRef("pk"), patient_id__gt=after_id)


def _session_clauses(clocks: dict[str, LocalClock], every: dt.timedelta) -> list[ClauseBuilder]:
    """Due for today's session reminder: one clause (so one query) per local date.

    Not one OR over the dates: inside an OR, PostgreSQL cannot turn NOT EXISTS into an
    anti-join and falls back to hashing whole tables.
    """
    zones_by_day: dict[dt.date, dict[dt.time, list[str]]] = defaultdict(lambda: defaultdict(list))
    for name, clock in clocks.items():
        zones_by_day[clock.day][due_cutoff(clock, every)].append(name)
    return [
        partial(_session_clause, day, dict(zones_by_cutoff))
        for day, zones_by_cutoff in sorted(zones_by_day.items())
    ]


def _session_clause(day: dt.date, zones_by_cutoff: dict[dt.time, list[str]], after_id: int) -> Q:
    due = reduce(
        or_,
        (
            Q(timezone__in=sorted(zones), reminder_time__lte=cutoff)
            for cutoff, zones in sorted(zones_by_cutoff.items())
        ),
    )
    open_programs = _rows_of_patient(Prescription.objects, after_id).filter(
        status__in=[Prescription.Status.ACTIVE, Prescription.Status.PAUSED], start_date__lte=day
    )
    sessions_today = _rows_of_patient(SessionLog.objects, after_id).filter(local_date=day)
    reminded_today = _rows_of_patient(Reminder.objects, after_id).filter(
        kind=SESSION, local_date=day
    )
    return (
        due
        & Q(GreaterThan(F("reminder_weekdays").bitand(1 << day.weekday()), 0))
        & Q(Exists(open_programs))
        & ~Q(Exists(sessions_today))
        & ~Q(Exists(reminded_today))
    )


def _missed_clauses(clocks: dict[str, LocalClock]) -> list[ClauseBuilder]:
    """Due for a missed-session nudge: this morning, after a reminded day with no session."""
    start = dt.time.fromisoformat(settings.STRIDE_MISSED_NUDGE_FROM)
    end = dt.time.fromisoformat(settings.STRIDE_MISSED_NUDGE_UNTIL)
    zones_by_day: dict[dt.date, list[str]] = defaultdict(list)
    for name, clock in clocks.items():
        if start <= clock.time < end:
            zones_by_day[clock.day].append(name)
    return [
        partial(_missed_clause, day, sorted(zones)) for day, zones in sorted(zones_by_day.items())
    ]


def _missed_clause(day: dt.date, zones: list[str], after_id: int) -> Q:
    yesterday = day - ONE_DAY
    reminders = _rows_of_patient(Reminder.objects, after_id)
    return (
        Q(timezone__in=zones, clinic__missed_session_nudge=True)
        & Q(Exists(reminders.filter(kind=SESSION, local_date=yesterday, status=SENT)))
        # Today's session reminder already went out: a nudge would say the same again.
        & ~Q(Exists(reminders.filter(local_date=day)))
        & ~Q(
            Exists(
                _rows_of_patient(SessionLog.objects, after_id).filter(
                    local_date__in=[yesterday, day]
                )
            )
        )
        & Q(
            Exists(
                _rows_of_patient(Prescription.objects, after_id).filter(
                    status=Prescription.Status.ACTIVE, start_date__lte=day
                )
            )
        )
    )


def _candidates(clause: ClauseBuilder, after_id: int, limit: int) -> list[dict[str, Any]]:
    last_session_on = (
        SessionLog.objects.filter(patient=OuterRef("pk"))
        .order_by("-local_date")
        .values("local_date")[:1]
    )
    sent_since_last_session = (
        Reminder.objects.filter(
            patient=OuterRef("pk"),
            kind=SESSION,
            status=SENT,
            local_date__gt=Coalesce(OuterRef("last_session_on"), Value(dt.date.min)),
        )
        .order_by()
        .values("patient")
        .annotate(count=Count("pk"))
        .values("count")
    )
    last_sent_or_fatigue_skip = (
        Reminder.objects.filter(patient=OuterRef("pk"), kind=SESSION)
        .filter(Q(status=SENT) | Q(status=SKIPPED, skip_reason=SkipReason.FATIGUE))
        .order_by("-local_date")
        .values("skip_reason")[:1]
    )
    active_since = (
        Prescription.objects.filter(patient=OuterRef("pk"), status=Prescription.Status.ACTIVE)
        .order_by("start_date")
        .values("start_date")[:1]
    )
    return list(
        _reminder_patients()
        .filter(clause(after_id), pk__gt=after_id)
        .annotate(
            last_session_on=Subquery(last_session_on),
            ignored=Coalesce(Subquery(sent_since_last_session), 0),
            last_skip_reason=Subquery(last_sent_or_fatigue_skip),
            active_since=Subquery(active_since),
        )
        .order_by("pk")
        .values(
            "pk",
            "timezone",
            "reminder_channel",
            "quiet_hours_start",
            "quiet_hours_end",
            "clinic__reminder_fatigue_limit",
            "last_session_on",
            "ignored",
            "last_skip_reason",
            "active_since",
        )[:limit]
    )


@dataclass(frozen=True)
class _Decision:
    status: str
    skip_reason: str = ""
    open_alert: bool = False


def _decide(kind: str, row: dict[str, Any], clock: LocalClock) -> _Decision:
    if kind == SESSION and (row["active_since"] is None or row["active_since"] > clock.day):
        return _Decision(SKIPPED, SkipReason.PAUSED)
    if in_quiet_hours(clock.time, row["quiet_hours_start"], row["quiet_hours_end"]):
        return _Decision(SKIPPED, SkipReason.QUIET_HOURS)
    limit = row["clinic__reminder_fatigue_limit"]
    if kind == MISSED:
        # A fatigued patient gets no extra nudges on top of the every-other-day reminders.
        fatigued = 0 < limit <= row["ignored"]
        return _Decision(SKIPPED, SkipReason.FATIGUE) if fatigued else _Decision(PENDING)
    fatigue = fatigue_decision(
        ignored=row["ignored"],
        limit=limit,
        last_was_fatigue_skip=row["last_skip_reason"] == SkipReason.FATIGUE,
    )
    if fatigue.skip:
        return _Decision(SKIPPED, SkipReason.FATIGUE, open_alert=fatigue.open_alert)
    return _Decision(PENDING)


def dispatch_due_reminders(now: dt.datetime | None = None) -> DispatchResult:
    """Create today's due reminder rows in bulk and enqueue their sends after each commit.

    One transaction per batch of patients (keyset by id), so a long run holds no long locks and
    a failure keeps the batches already done. Also re-enqueues rows stuck in pending/sending.
    """
    now = now or timezone.now()
    result = DispatchResult(dispatch_id=uuid.uuid4(), now=now)
    clocks = _timezone_clocks(now)
    every = dt.timedelta(minutes=settings.STRIDE_REMINDER_DISPATCH_EVERY_MINUTES)
    with _Publisher() as publisher:
        for clause in _session_clauses(clocks, every):
            _dispatch_kind(SESSION, clause, clocks, result, publisher)
        for clause in _missed_clauses(clocks):
            _dispatch_kind(MISSED, clause, clocks, result, publisher)
        result.requeued = _requeue_stuck(now, publisher)
    _refresh_statistics(sum(result.created.values()))
    logger.info("Reminder dispatch %s", result.as_dict())
    return result


ANALYZE_AFTER_ROWS = 10_000


def _refresh_statistics(created: int) -> None:
    """After a big dispatch, refresh the planner's statistics of the reminder table.

    The next tick's candidate query anti-joins today's reminder rows; until autovacuum gets to
    the table, PostgreSQL plans it with statistics from before tens of thousands of rows
    arrived, and that plan took ~20 s instead of a fraction of a second (bench, 100k due).
    """
    if created >= ANALYZE_AFTER_ROWS and connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {Reminder._meta.db_table}")


def _dispatch_kind(
    kind: str,
    clause: ClauseBuilder,
    clocks: dict[str, LocalClock],
    result: DispatchResult,
    publisher: "_Publisher",
) -> None:
    batch_size = settings.STRIDE_REMINDER_BATCH_SIZE
    after_id = 0
    while True:
        with transaction.atomic():
            _plan_for_small_batches()
            rows = _candidates(clause, after_id, batch_size)
            if rows:
                _create_batch(kind, rows, clocks, result, publisher)
        if len(rows) < batch_size:
            return
        after_id = rows[-1]["pk"]


def _plan_for_small_batches() -> None:
    # PostgreSQL's JIT compiles the candidate query (its cost estimate is high: many subplans)
    # and spends seconds doing so for a query that runs in milliseconds. Nor does a batch of a
    # few thousand patients gain from a parallel worker: starting one cost ~7 ms of a ~40 ms
    # batch of 2,000.
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL jit = off; SET LOCAL max_parallel_workers_per_gather = 0")


@dataclass(frozen=True)
class _NewRow:
    patient_id: int
    local_date: dt.date
    channel: str
    status: str
    skip_reason: str


def _create_batch(
    kind: str,
    rows: list[dict[str, Any]],
    clocks: dict[str, LocalClock],
    result: DispatchResult,
    publisher: "_Publisher",
) -> None:
    result.batches += 1
    result.selected += len(rows)
    decisions = {row["pk"]: _decide(kind, row, clocks[row["timezone"]]) for row in rows}
    new_rows = [
        _NewRow(
            patient_id=row["pk"],
            local_date=clocks[row["timezone"]].day,
            channel=row["reminder_channel"],
            status=decisions[row["pk"]].status,
            skip_reason=decisions[row["pk"]].skip_reason,
        )
        for row in rows
    ]
    insert = _insert_returning if connection.vendor == "postgresql" else _insert_then_select
    mine = insert(kind, new_rows, result)
    pending = [pk for pk, _, status, _ in mine if status == PENDING]
    result.created[kind] += len(pending)
    result.skipped.update(reason for _, _, status, reason in mine if status == SKIPPED)
    alert_ids = [patient_id for _, patient_id, _, _ in mine if decisions[patient_id].open_alert]
    if alert_ids:
        rows_by_patient = {row["pk"]: row for row in rows}
        result.alerts_opened += _open_fatigue_alerts(alert_ids, rows_by_patient)
    if pending:
        result.enqueued += len(pending)
        transaction.on_commit(partial(publisher.publish, pending))


InsertedRow = tuple[int, int, str, str]  # id, patient_id, status, skip_reason


def _insert_returning(kind: str, rows: list[_NewRow], result: DispatchResult) -> list[InsertedRow]:
    """PostgreSQL: one INSERT from arrays; RETURNING gives exactly the rows this run inserted.

    Rows whose (patient, kind, local date) exists already, e.g. inserted by a concurrent
    dispatcher, are skipped by ON CONFLICT and not returned. No model instances are built:
    at 100,000 rows that and a re-select cost more than the insert itself.
    """
    meta = Reminder._meta
    column = {
        name: meta.get_field(name).column
        for name in (
            "patient",
            "kind",
            "local_date",
            "channel",
            "status",
            "skip_reason",
            "attempts",
            "last_error",
            "created_at",
            "dispatch_id",
        )
    }
    sql = f"""
        INSERT INTO {meta.db_table} (
            {column["patient"]}, {column["local_date"]}, {column["channel"]}, {column["status"]},
            {column["skip_reason"]}, {column["kind"]}, {column["attempts"]},
            {column["last_error"]}, {column["created_at"]}, {column["dispatch_id"]}
        )
        SELECT new.patient_id, new.local_date, new.channel, new.status, new.skip_reason,
               %s, 0, '', %s, %s
        FROM unnest(%s::bigint[], %s::date[], %s::text[], %s::text[], %s::text[])
             AS new(patient_id, local_date, channel, status, skip_reason)
        ON CONFLICT DO NOTHING
        RETURNING {meta.pk.column}, {column["patient"]}, {column["status"]},
                  {column["skip_reason"]}
    """  # noqa: S608 - identifiers come from the model, values are parameters
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            [
                kind,
                result.now,
                result.dispatch_id,
                [row.patient_id for row in rows],
                [row.local_date for row in rows],
                [row.channel for row in rows],
                [row.status for row in rows],
                [row.skip_reason for row in rows],
            ],
        )
        return [tuple(returned) for returned in cursor.fetchall()]


def _insert_then_select(
    kind: str, rows: list[_NewRow], result: DispatchResult
) -> list[InsertedRow]:
    """Other databases: bulk insert ignoring conflicts, then our rows by dispatch_id."""
    Reminder.objects.bulk_create(
        [
            Reminder(
                patient_id=row.patient_id,
                kind=kind,
                local_date=row.local_date,
                channel=row.channel,
                status=row.status,
                skip_reason=row.skip_reason,
                dispatch_id=result.dispatch_id,
                created_at=result.now,
            )
            for row in rows
        ],
        ignore_conflicts=True,
    )
    # Rows another dispatcher inserted first carry its dispatch_id, not ours.
    return list(
        Reminder.objects.filter(
            dispatch_id=result.dispatch_id,
            kind=kind,
            patient_id__in=[row.patient_id for row in rows],
        ).values_list("pk", "patient_id", "status", "skip_reason")
    )


def _open_fatigue_alerts(patient_ids: list[int], rows: dict[int, dict[str, Any]]) -> int:
    opened = 0
    for patient in Patient.objects.filter(pk__in=patient_ids):
        row = rows[patient.pk]
        last = row["last_session_on"]
        alert = alert_open(
            patient=patient,
            kind=Alert.Kind.INACTIVE,
            severity=Alert.Severity.WARNING,
            message=(
                f"{row['ignored']} reminders in a row without a session; reminders reduced "
                "to every other planned day."
            ),
            details={
                "source": "reminder_fatigue",
                "reminders_without_session": row["ignored"],
                "last_session_on": last.isoformat() if last else None,
            },
        )
        opened += alert is not None
    return opened


def _requeue_stuck(now: dt.datetime, publisher: "_Publisher") -> int:
    """Enqueue again rows whose message was lost (broker data loss, enqueue after a crash)."""
    cutoff = now - dt.timedelta(minutes=settings.STRIDE_REMINDER_REQUEUE_AFTER_MINUTES)
    stuck = list(
        Reminder.objects.filter(
            status__in=[PENDING, SENDING], created_at__gte=now - ONE_DAY, created_at__lt=cutoff
        )
        .filter(Q(claimed_at__isnull=True) | Q(claimed_at__lt=cutoff))
        .order_by("created_at")
        .values_list("pk", flat=True)[: settings.STRIDE_REMINDER_BATCH_SIZE]
    )
    if stuck:
        logger.warning("Re-enqueueing %d stuck reminders.", len(stuck))
        publisher.publish(stuck)
    return len(stuck)


class _Publisher:
    """Enqueues the sends of each committed batch.

    With a broker, on one background thread: publishing a batch (CPU in kombu) then overlaps
    with selecting and inserting the next (mostly waiting on PostgreSQL). In-process (eager)
    sends stay on the caller's thread and database connection. Leaving the block waits for
    every batch and re-raises the first publishing error; rows whose sends were not queued stay
    pending and the next dispatch re-enqueues them.
    """

    def __init__(self) -> None:
        from ..tasks import enqueue_reminder_sends, sends_run_in_process

        self._enqueue = enqueue_reminder_sends
        self._executor = (
            None
            if sends_run_in_process()
            else ThreadPoolExecutor(max_workers=1, thread_name_prefix="reminder-enqueue")
        )
        self._pending: list[Future] = []

    def publish(self, reminder_ids: Sequence[int]) -> None:
        if self._executor is None:
            self._enqueue(reminder_ids)
        else:
            self._pending.append(self._executor.submit(self._enqueue, list(reminder_ids)))

    def __enter__(self) -> "_Publisher":
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc_info: object) -> None:
        if self._executor is None:
            return
        self._executor.shutdown(wait=True)
        if exc_type is None:  # else the dispatch's own error is the one to see
            for future in self._pending:
                future.result()
