"""Sending reminders: claim a batch of rows, re-check them, deliver each, record each outcome.

A batch costs a fixed number of queries whatever its size (claim, load with the send-time
checks, content, skips), plus one short UPDATE per delivery to record its outcome right after
the send.
"""

import datetime as dt
import logging
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Exists, OuterRef
from django.utils import timezone

from patients.models import Patient

from ..delivery import (
    Channel,
    DeliveryError,
    ExerciseLine,
    ReminderContent,
    build_reminder_message,
    channel_for,
)
from ..models import PrescribedExercise, Prescription, Reminder, SessionLog
from .claims import (
    MISSING,
    claim,
    finish,
    finish_skipped,
    quick_commits,
    release,
    send_lease,
    unclaimed_states,
)
from .rules import SkipReason

logger = logging.getLogger("stride.reminders")

ONE_DAY = dt.timedelta(days=1)
# A batch starts new sends only in the first half of its time limit; the rows it has not
# started by then go back to pending. The send in progress keeps the rest, up to the soft limit.
SEND_WINDOW = 0.5
MISSED = Reminder.Kind.MISSED
PENDING = Reminder.Status.PENDING
SENT = Reminder.Status.SENT
SKIPPED = Reminder.Status.SKIPPED
FAILED = Reminder.Status.FAILED


class ReminderBusy(Exception):
    """Another sender holds the row's lease; try again in `retry_in` seconds."""

    def __init__(self, retry_in: float) -> None:
        super().__init__(f"Reminder claimed by another sender; retry in {retry_in:.1f} s")
        self.retry_in = retry_in


@dataclass
class BatchSendResult:
    """What one `reminders_send` did with each id it was given."""

    # id -> status after this call: sent, skipped, failed, pending (see `retry`/`released`),
    # sending (see `busy`) or "missing" (no such row).
    statuses: dict[int, str] = field(default_factory=dict)
    # Attempts that failed and may be retried: the rows are pending again, with the error.
    retry: dict[int, DeliveryError] = field(default_factory=dict)
    # Rows held by another live sender: seconds until its lease ends.
    busy: dict[int, float] = field(default_factory=dict)
    # Claimed but not started before the batch's send window closed: pending again, the
    # attempt not counted. Send them again at once.
    released: list[int] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        counted: dict[str, int] = defaultdict(int)
        for status in self.statuses.values():
            counted[status] += 1
        return dict(counted)


# --- content --------------------------------------------------------------------------------


ProgramLine = tuple[str, ExerciseLine]  # program name, exercise with dosage


def _active_exercises(patient_ids: Iterable[int]) -> dict[int, list[ProgramLine]]:
    """Each patient's active exercises in their programs' order (one query, no models)."""
    by_patient: dict[int, list[ProgramLine]] = defaultdict(list)
    rows = (
        PrescribedExercise.objects.filter(
            prescription__patient_id__in=list(patient_ids),
            prescription__status=Prescription.Status.ACTIVE,
            active=True,
        )
        .order_by("prescription__start_date", "prescription_id", "order", "id")
        .values_list(
            "prescription__patient_id",
            "prescription__name",
            "exercise__name",
            "sets",
            "reps",
            "hold_seconds",
            "exercise__per_side",
            "notes",
        )
    )
    for patient_id, program, name, sets, reps, hold_seconds, per_side, notes in rows:
        line = ExerciseLine(name, sets, reps, hold_seconds, per_side, notes)
        by_patient[patient_id].append((program, line))
    return by_patient


def _content(reminder: Reminder, lines: list[ProgramLine]) -> ReminderContent:
    patient = reminder.patient
    return ReminderContent(
        reminder_id=reminder.pk,
        kind=reminder.kind,
        local_date=reminder.local_date,
        first_name=patient.first_name,
        clinic_name=patient.clinic.name,
        program_names=tuple(dict.fromkeys(program for program, _ in lines)),
        exercises=tuple(line for _, line in lines),
    )


def reminder_content(reminder: Reminder) -> ReminderContent:
    """The patient's name and today's exercises with dosage, from their active programs."""
    return _content(reminder, _active_exercises([reminder.patient_id])[reminder.patient_id])


# --- load and check ------------------------------------------------------------------------


def _claimed_reminders(tokens: dict[int, int]) -> list[Reminder]:
    """The claimed rows with patient and clinic and the send-time checks, in one query."""
    reminders = list(
        Reminder.objects.select_related("patient__clinic")
        .annotate(
            logged_that_day=Exists(
                SessionLog.objects.filter(
                    patient=OuterRef("patient_id"), local_date=OuterRef("local_date")
                )
            ),
            has_active_program=Exists(
                Prescription.objects.filter(
                    patient=OuterRef("patient_id"), status=Prescription.Status.ACTIVE
                )
            ),
        )
        .filter(pk__in=list(tokens))
        .order_by("pk")
    )
    for reminder in reminders:
        # What we claimed, not what a row read later might say: the token fences our writes.
        reminder.attempts = tokens[reminder.pk]
    return reminders


def _logged_the_day_before(reminders: list[Reminder]) -> set[tuple[int, dt.date]]:
    """(patient, day) pairs with a session the day before a missed-session nudge (≤ 1 query)."""
    missed = [reminder for reminder in reminders if reminder.kind == MISSED]
    if not missed:
        return set()
    return set(
        SessionLog.objects.filter(
            patient_id__in={reminder.patient_id for reminder in missed},
            local_date__in={reminder.local_date - ONE_DAY for reminder in missed},
        ).values_list("patient_id", "local_date")
    )


def _skip_reason_at_send(
    reminder: Reminder, now: dt.datetime, logged_the_day_before: set[tuple[int, dt.date]]
) -> str | None:
    patient = reminder.patient
    if patient.status != Patient.Status.ACTIVE:
        return SkipReason.DISCHARGED
    if not patient.reminders_enabled:
        return SkipReason.DISABLED
    if patient.local_date(now) != reminder.local_date:
        return SkipReason.EXPIRED
    if reminder.logged_that_day:
        return SkipReason.LOGGED
    yesterday = reminder.local_date - ONE_DAY  # a late offline upload for yesterday
    if reminder.kind == MISSED and (patient.pk, yesterday) in logged_the_day_before:
        return SkipReason.LOGGED
    if not reminder.has_active_program:
        return SkipReason.PAUSED
    return None


# --- the send -------------------------------------------------------------------------------


class _Channels:
    """One channel object per patient channel for the batch (connections reused), then closed."""

    def __init__(self) -> None:
        self._open: dict[str, Channel] = {}

    def __getitem__(self, patient_channel: str) -> Channel:
        if patient_channel not in self._open:
            self._open[patient_channel] = channel_for(patient_channel)
        return self._open[patient_channel]

    def close(self) -> None:
        for channel in self._open.values():
            close = getattr(channel, "close", None)
            if close is not None:
                try:
                    close()
                except Exception:
                    logger.exception("Closing reminder channel %r failed.", channel)


def _deliver(reminder: Reminder, lines: list[ProgramLine], channels: _Channels) -> Any:
    """Send one reminder and record the outcome; returns the status or the retryable error."""
    message = build_reminder_message(_content(reminder, lines))
    try:
        channels[reminder.channel].send(reminder, message)
    except Exception as exc:  # includes the soft time limit: release the claim for a retry
        if isinstance(exc, DeliveryError):
            error = exc
        else:  # a channel that is not configured will not be by the next attempt
            error = DeliveryError(repr(exc), permanent=isinstance(exc, ImproperlyConfigured))
            error.__cause__ = exc
        final = error.permanent or reminder.attempts >= settings.STRIDE_REMINDER_MAX_ATTEMPTS
        finish(reminder, status=FAILED if final else PENDING, last_error=str(error)[:2000])
        if final:
            logger.warning("Reminder %s failed for good: %s", reminder.pk, error)
            return FAILED
        return error
    finish(reminder, status=SENT, sent_at=timezone.now(), last_error="")
    return SENT


def reminders_send(
    *, reminder_ids: Sequence[int], now: dt.datetime | None = None
) -> BatchSendResult:
    """Deliver a batch of reminders, each at most once; records each status, attempts, error.

    Claims the batch in one committed UPDATE (visible to every other worker before the slow
    external sends start), loads it with its send-time checks and content in a fixed number of
    queries, records the skips in one UPDATE, then sends one reminder at a time and records
    its outcome right after its send. One reminder's failure touches no other row.
    """
    lease = send_lease()
    reminder_ids = list(dict.fromkeys(reminder_ids))
    result = BatchSendResult()
    if not reminder_ids:
        return result
    window_ends = time.monotonic() + settings.STRIDE_REMINDER_SEND_TIME_LIMIT * SEND_WINDOW
    tokens = claim(reminder_ids, lease)
    if unclaimed := [pk for pk in reminder_ids if pk not in tokens]:
        for pk, (status, busy_for) in unclaimed_states(unclaimed, lease).items():
            result.statuses[pk] = status
            if busy_for is not None:
                result.busy[pk] = busy_for
    if not tokens:
        return result

    reminders = _claimed_reminders(tokens)
    loaded = {reminder.pk for reminder in reminders}
    result.statuses.update(dict.fromkeys((pk for pk in tokens if pk not in loaded), MISSING))
    now = now or timezone.now()
    logged_the_day_before = _logged_the_day_before(reminders)
    skips: dict[Reminder, str] = {}
    to_send: list[Reminder] = []
    for reminder in reminders:
        if reason := _skip_reason_at_send(reminder, now, logged_the_day_before):
            skips[reminder] = reason
        else:
            to_send.append(reminder)
    with quick_commits():
        if skips:
            finish_skipped(skips)
            result.statuses.update(dict.fromkeys((reminder.pk for reminder in skips), SKIPPED))
        if to_send:
            _send_each(to_send, window_ends, result)
    return result


def _send_each(to_send: list[Reminder], window_ends: float, result: BatchSendResult) -> None:
    exercises = _active_exercises({reminder.patient_id for reminder in to_send})
    channels = _Channels()
    try:
        for position, reminder in enumerate(to_send):
            if position and time.monotonic() > window_ends:
                unstarted = to_send[position:]
                release(unstarted)
                result.released = [pending.pk for pending in unstarted]
                result.statuses.update(dict.fromkeys(result.released, PENDING))
                logger.info("Reminder batch out of time: %d released.", len(unstarted))
                break
            outcome = _deliver(reminder, exercises.get(reminder.patient_id, []), channels)
            if isinstance(outcome, DeliveryError):
                result.retry[reminder.pk] = outcome
                result.statuses[reminder.pk] = PENDING
            else:
                result.statuses[reminder.pk] = outcome
    finally:
        channels.close()


def reminder_send(*, reminder_id: int, now: dt.datetime | None = None) -> str:
    """Deliver one reminder at most once (a batch of one); records status, attempts, error.

    Returns the row's status after this call. Raises `DeliveryError` after a failed attempt
    that may be retried (the row is back to pending) and `ReminderBusy` while another sender
    holds the lease.
    """
    result = reminders_send(reminder_ids=[reminder_id], now=now)
    if reminder_id in result.retry:
        raise result.retry[reminder_id]
    if reminder_id in result.busy:
        raise ReminderBusy(retry_in=result.busy[reminder_id])
    return result.statuses[reminder_id]
