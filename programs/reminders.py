"""Reminders: who is due now on their own clock, the rules that hold one back, and the send.

Dispatch (`dispatch_due_reminders`, from beat every few minutes) reads each distinct patient time
zone once, computes its local date, time and weekday in Python, and lets SQL find, in keyset
batches, the patients whose reminder time has passed today on a reminder weekday, who have an
open program, have not logged a session today and have no reminder row for today. A batch costs
a fixed number of queries whatever its size: one select, one bulk insert, one re-select.

Planned days. A program with 7 or more sessions a week plans every day; with fewer there is no
day-level plan, so the patient's reminder weekdays are taken as the planned days. Either way a
reminder goes out only on a reminder weekday, so the weekday mask decides; "every other planned
day" (fatigue) counts reminder rows, which exist only on those days.

Rows, not messages, are the source of truth. Each (patient, kind, local date) has one row
(unique key); concurrent dispatchers insert with `ignore_conflicts` and each enqueues only the
rows carrying its own `dispatch_id`. Quiet hours, a paused program and fatigue are recorded as
skipped rows with a reason, so the patient is not reconsidered that day.

Sending (`reminder_send`) claims the row with a conditional UPDATE (pending → sending, or a
"sending" row whose lease ran out), so one sender at a time holds it and a sent row is never
sent again. The lease is the task's hard time limit plus a margin, measured on the database
clock: after it, the holder is certainly dead, and the message redelivered by `acks_late` +
`reject_on_worker_lost` (or re-enqueued by the next dispatch) may claim the row again.
"""

import datetime as dt
import logging
import time
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
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import Count, Exists, F, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce, Now
from django.db.models.lookups import GreaterThan
from django.utils import timezone

from patients.models import Patient

from .alerts import alert_open
from .delivery import (
    DeliveryError,
    ExerciseLine,
    ReminderContent,
    build_reminder_message,
    channel_for,
)
from .models import Alert, PrescribedExercise, Prescription, Reminder, SessionLog

logger = logging.getLogger("stride.reminders")

ONE_DAY = dt.timedelta(days=1)
LEASE_MARGIN = dt.timedelta(seconds=2)
SESSION = Reminder.Kind.SESSION
MISSED = Reminder.Kind.MISSED
PENDING = Reminder.Status.PENDING
SENDING = Reminder.Status.SENDING
SENT = Reminder.Status.SENT
SKIPPED = Reminder.Status.SKIPPED
FAILED = Reminder.Status.FAILED


class SkipReason:
    QUIET_HOURS = "quiet_hours"
    FATIGUE = "fatigue"
    PAUSED = "paused"
    LOGGED = "logged"  # a session was logged between dispatch and send
    EXPIRED = "expired"  # the patient's local day ended before the send
    DISABLED = "disabled"
    DISCHARGED = "discharged"


# --- pure rules -----------------------------------------------------------------------------


@dataclass(frozen=True)
class LocalClock:
    day: dt.date
    time: dt.time  # wall clock, no tzinfo

    @property
    def weekday(self) -> int:
        return self.day.weekday()


def local_clock(zone_name: str, now: dt.datetime) -> LocalClock:
    local = now.astimezone(zoneinfo.ZoneInfo(zone_name))
    return LocalClock(day=local.date(), time=local.time())


def due_cutoff(clock: LocalClock, every: dt.timedelta) -> dt.time:
    """Reminder times up to this are due: now, or the rest of the day at the day's last run."""
    if (dt.datetime.combine(clock.day, clock.time) + every).date() != clock.day:
        return dt.time.max
    return clock.time


def in_quiet_hours(moment: dt.time, start: dt.time | None, end: dt.time | None) -> bool:
    """Whether a wall-clock time falls in [start, end); a range may cross midnight."""
    if start is None or end is None or start == end:
        return False
    if start < end:
        return start <= moment < end
    return moment >= start or moment < end


@dataclass(frozen=True)
class FatigueDecision:
    skip: bool
    open_alert: bool


def fatigue_decision(*, ignored: int, limit: int, last_was_fatigue_skip: bool) -> FatigueDecision:
    """After `limit` reminders in a row with no session, remind every other planned day.

    `ignored` counts sent session reminders since the patient's last logged session. Once it
    reaches the limit, days alternate: skip after a sent reminder, send after a skipped one. The
    first skip of a streak asks for the therapist's `inactive` alert.
    """
    if limit <= 0 or ignored < limit or last_was_fatigue_skip:
        return FatigueDecision(skip=False, open_alert=False)
    return FatigueDecision(skip=True, open_alert=ignored == limit)


# --- dispatch -------------------------------------------------------------------------------


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
    logger.info("Reminder dispatch %s", result.as_dict())
    return result


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
            _without_jit()
            rows = _candidates(clause, after_id, batch_size)
            if rows:
                _create_batch(kind, rows, clocks, result, publisher)
        if len(rows) < batch_size:
            return
        after_id = rows[-1]["pk"]


def _without_jit() -> None:
    # PostgreSQL's JIT compiles the candidate query (its cost estimate is high: many subplans)
    # and spends seconds doing so for a query that runs in milliseconds.
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL jit = off")


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
        from .tasks import enqueue_reminder_sends, sends_run_in_process

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


# --- sending --------------------------------------------------------------------------------


class ReminderBusy(Exception):
    """Another sender holds the row's lease; try again in `retry_in` seconds."""

    def __init__(self, retry_in: float) -> None:
        super().__init__(f"Reminder claimed by another sender; retry in {retry_in:.1f} s")
        self.retry_in = retry_in


def send_lease() -> dt.timedelta:
    return dt.timedelta(seconds=settings.STRIDE_REMINDER_SEND_TIME_LIMIT) + LEASE_MARGIN


def reminder_content(reminder: Reminder) -> ReminderContent:
    """The patient's name and today's exercises with dosage, from their active programs."""
    entries = list(
        PrescribedExercise.objects.filter(
            prescription__patient_id=reminder.patient_id,
            prescription__status=Prescription.Status.ACTIVE,
            active=True,
        )
        .select_related("exercise", "prescription")
        .order_by("prescription__start_date", "prescription_id", "order", "id")
    )
    program_names = tuple(dict.fromkeys(entry.prescription.name for entry in entries))
    patient = reminder.patient
    return ReminderContent(
        reminder_id=reminder.pk,
        kind=reminder.kind,
        local_date=reminder.local_date,
        first_name=patient.first_name,
        clinic_name=patient.clinic.name,
        program_names=program_names,
        exercises=tuple(
            ExerciseLine(
                name=entry.exercise.name,
                sets=entry.sets,
                reps=entry.reps,
                hold_seconds=entry.hold_seconds,
                per_side=entry.exercise.per_side,
                notes=entry.notes,
            )
            for entry in entries
        ),
    )


def _skip_reason_at_send(reminder: Reminder, now: dt.datetime) -> str | None:
    patient = reminder.patient
    if patient.status != Patient.Status.ACTIVE:
        return SkipReason.DISCHARGED
    if not patient.reminders_enabled:
        return SkipReason.DISABLED
    if patient.local_date(now) != reminder.local_date:
        return SkipReason.EXPIRED
    days = [reminder.local_date]
    if reminder.kind == MISSED:
        days.append(reminder.local_date - ONE_DAY)  # a late offline upload for yesterday
    if SessionLog.objects.filter(patient=patient, local_date__in=days).exists():
        return SkipReason.LOGGED
    if not Prescription.objects.filter(patient=patient, status=Prescription.Status.ACTIVE).exists():
        return SkipReason.PAUSED
    return None


def _finish(reminder: Reminder, **fields: Any) -> None:
    """Record the outcome if the claim is still ours.

    Every claim increments `attempts`, so the value read after claiming is a fencing token: a
    sender whose lease ran out (and was claimed again) cannot overwrite the new holder's row.
    """
    for attempt in range(3):
        try:
            updated = Reminder.objects.filter(
                pk=reminder.pk, status=SENDING, attempts=reminder.attempts
            ).update(**fields)
            break
        except (OperationalError, InterfaceError):
            # A delivered message must not stay "sending" for a database blip: it would be
            # re-sent after the lease. Reconnect and try again before giving up.
            if attempt == 2:
                raise
            connection.close()
            time.sleep(0.5 * (attempt + 1))
    if not updated:
        logger.warning("Reminder %s: claim lost before recording %s.", reminder.pk, fields)


def reminder_send(*, reminder_id: int, now: dt.datetime | None = None) -> str:
    """Deliver one reminder at most once; records status, attempts, last error, sent time.

    Returns the row's status after this call. Raises `DeliveryError` after a failed attempt
    that may be retried (the row is back to pending) and `ReminderBusy` while another sender
    holds the lease. Deliberately not one transaction: the claim must be committed, and so
    visible to every other worker, before the slow external send starts.
    """
    lease = send_lease()
    claimed = (
        Reminder.objects.filter(pk=reminder_id)
        .filter(Q(status=PENDING) | Q(status=SENDING, claimed_at__lt=Now() - lease))
        .update(status=SENDING, claimed_at=Now(), attempts=F("attempts") + 1)
    )
    if not claimed:
        state = (
            Reminder.objects.filter(pk=reminder_id)
            .annotate(db_now=Now())
            .values("status", "claimed_at", "db_now")
            .first()
        )
        if state is None:
            return "missing"
        if state["status"] == SENDING:
            remaining = (state["claimed_at"] + lease - state["db_now"]).total_seconds()
            raise ReminderBusy(retry_in=max(1.0, remaining + 0.5))
        return state["status"]  # sent, failed or skipped: nothing left to do

    reminder = Reminder.objects.select_related("patient__clinic").get(pk=reminder_id)
    if reason := _skip_reason_at_send(reminder, now or timezone.now()):
        _finish(reminder, status=SKIPPED, skip_reason=reason)
        return SKIPPED
    message = build_reminder_message(reminder_content(reminder))
    try:
        channel_for(reminder.channel).send(reminder, message)
    except Exception as exc:  # includes the soft time limit: release the claim for a retry
        error = exc if isinstance(exc, DeliveryError) else DeliveryError(repr(exc))
        final = error.permanent or reminder.attempts >= settings.STRIDE_REMINDER_MAX_ATTEMPTS
        _finish(reminder, status=FAILED if final else PENDING, last_error=str(error)[:2000])
        if final:
            logger.warning("Reminder %s failed for good: %s", reminder.pk, error)
            return FAILED
        if error is exc:
            raise
        raise error from exc
    _finish(reminder, status=SENT, sent_at=timezone.now(), last_error="")
    return SENT
