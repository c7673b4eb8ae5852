"""Sending one reminder: claim the row, re-check, deliver through the channel, record."""

import datetime as dt
import logging
import time
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import InterfaceError, OperationalError, connection
from django.db.models import Exists, F, OuterRef, Q
from django.db.models.functions import Now
from django.utils import timezone

from patients.models import Patient

from ..delivery import (
    DeliveryError,
    ExerciseLine,
    ReminderContent,
    build_reminder_message,
    channel_for,
)
from ..models import PrescribedExercise, Prescription, Reminder, SessionLog
from .rules import SkipReason

logger = logging.getLogger("stride.reminders")

ONE_DAY = dt.timedelta(days=1)
LEASE_MARGIN = dt.timedelta(seconds=2)
MISSED = Reminder.Kind.MISSED
PENDING = Reminder.Status.PENDING
SENDING = Reminder.Status.SENDING
SENT = Reminder.Status.SENT
SKIPPED = Reminder.Status.SKIPPED
FAILED = Reminder.Status.FAILED


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
    if reminder.logged_that_day:
        return SkipReason.LOGGED
    if reminder.kind == MISSED:
        yesterday = reminder.local_date - ONE_DAY  # a late offline upload for yesterday
        if SessionLog.objects.filter(patient=patient, local_date=yesterday).exists():
            return SkipReason.LOGGED
    if not reminder.has_active_program:
        return SkipReason.PAUSED
    return None


def _claimed_reminder(reminder_id: int) -> Reminder:
    """The row with its patient and clinic, and the send-time checks, in one query."""
    return (
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
        .get(pk=reminder_id)
    )


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

    reminder = _claimed_reminder(reminder_id)
    if reason := _skip_reason_at_send(reminder, now or timezone.now()):
        _finish(reminder, status=SKIPPED, skip_reason=reason)
        return SKIPPED
    message = build_reminder_message(reminder_content(reminder))
    try:
        channel_for(reminder.channel).send(reminder, message)
    except Exception as exc:  # includes the soft time limit: release the claim for a retry
        if isinstance(exc, DeliveryError):
            error = exc
        else:  # a channel that is not configured will not be by the next attempt
            error = DeliveryError(repr(exc), permanent=isinstance(exc, ImproperlyConfigured))
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
