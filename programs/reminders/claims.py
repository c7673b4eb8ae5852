"""The claim on reminder rows, and the fenced writes that record what became of them.

A sender claims rows with one conditional UPDATE … RETURNING; each claim increments the row's
`attempts`, and the value it returns is the sender's fencing token: every later write names it,
so a sender whose lease ran out (and whose rows were claimed again) changes nothing.
"""

import datetime as dt
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import reduce
from operator import or_
from typing import Any

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection
from django.db.models import Case, F, Q, Value, When
from django.db.models.functions import Now
from django.utils import timezone

from ..models import Reminder

logger = logging.getLogger("stride.reminders")

LEASE_MARGIN = dt.timedelta(seconds=2)
PENDING = Reminder.Status.PENDING
SENDING = Reminder.Status.SENDING
SKIPPED = Reminder.Status.SKIPPED
MISSING = "missing"


def send_lease() -> dt.timedelta:
    return dt.timedelta(seconds=settings.STRIDE_REMINDER_SEND_TIME_LIMIT) + LEASE_MARGIN


def claim(reminder_ids: Sequence[int], lease: dt.timedelta) -> dict[int, int]:
    """Claim the claimable rows in one UPDATE … RETURNING: id -> attempts, the fencing token.

    Claimable: pending, or "sending" with an expired lease (its sender is certainly dead).
    PostgreSQL measures the lease on its own clock, so workers' clocks do not matter; the
    embedded SQLite mode runs on one machine, whose clock is the database's.
    """
    meta = Reminder._meta
    table, pk = meta.db_table, meta.pk.column
    status, claimed_at, attempts = (
        meta.get_field(name).column for name in ("status", "claimed_at", "attempts")
    )
    if connection.vendor == "postgresql":
        now_sql = "now()"
        expired_sql = "now() - %s"
        ids_sql = "= ANY(%s)"
        now_params: list[Any] = []
        expired_params: list[Any] = [lease]
        ids_params: list[Any] = [list(reminder_ids)]
    else:
        now = timezone.now()
        now_sql, expired_sql = "%s", "%s"
        ids_sql = f"IN ({', '.join(['%s'] * len(reminder_ids))})"
        now_params = [connection.ops.adapt_datetimefield_value(now)]
        expired_params = [connection.ops.adapt_datetimefield_value(now - lease)]
        ids_params = list(reminder_ids)
    sql = f"""
        UPDATE {table}
        SET {status} = %s, {claimed_at} = {now_sql}, {attempts} = {attempts} + 1
        WHERE {pk} {ids_sql}
          AND ({status} = %s OR ({status} = %s AND {claimed_at} < {expired_sql}))
        RETURNING {pk}, {attempts}
    """  # noqa: S608 - identifiers come from the model, values are parameters
    params = [SENDING, *now_params, *ids_params, PENDING, SENDING, *expired_params]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return dict(cursor.fetchall())


def unclaimed_states(
    reminder_ids: list[int], lease: dt.timedelta
) -> dict[int, tuple[str, float | None]]:
    """Why rows were not ours to claim: id -> (status, seconds until the holder's lease ends).

    Status "sending": another sender holds it; "missing": no such row; otherwise it is done.
    """
    states = {
        pk: (status, claimed_at, db_now)
        for pk, status, claimed_at, db_now in Reminder.objects.filter(pk__in=reminder_ids)
        .annotate(db_now=Now())
        .values_list("pk", "status", "claimed_at", "db_now")
    }
    unclaimed: dict[int, tuple[str, float | None]] = {}
    for pk in reminder_ids:
        if pk not in states:
            unclaimed[pk] = (MISSING, None)
            continue
        status, claimed_at, db_now = states[pk]
        busy_for = None
        if status == SENDING:
            remaining = (claimed_at + lease - db_now).total_seconds()
            busy_for = max(1.0, remaining + 0.5)
        unclaimed[pk] = (status, busy_for)
    return unclaimed


def fenced(reminders: Iterable[Reminder]) -> Q:
    """Rows still held by our claim: each id with the attempts value it was claimed with."""
    by_token: dict[int, list[int]] = defaultdict(list)
    for reminder in reminders:
        by_token[reminder.attempts].append(reminder.pk)
    return Q(status=SENDING) & reduce(
        or_, (Q(pk__in=ids, attempts=token) for token, ids in by_token.items())
    )


@contextmanager
def quick_commits() -> Iterator[None]:
    """While sending a batch, commits on this connection do not wait for the WAL flush.

    PostgreSQL only, and only outside a caller's transaction (which decides for itself). A
    recorded outcome is visible to every other session at once; only a crash of PostgreSQL
    itself can lose the last fraction of a second of them (3 × wal_writer_delay at most). A lost
    "sent" mark leaves the row "sending": after its lease the reminder is sent again with the
    same idempotency key (`delivery.idempotency_key`), which providers use to drop the copy —
    the window a worker dying between the provider's answer and the mark already has. A lost
    skip or failure is decided again after the lease. The claim itself commits synchronously.
    """
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO OFF")
    try:
        yield
    finally:
        try:
            with connection.cursor() as cursor:
                cursor.execute("RESET synchronous_commit")
        except DatabaseError:
            connection.close()  # never hand a connection with async commits to other work


def _with_reconnects(update: Callable[[], int]) -> int:
    for attempt in range(3):
        try:
            return update()
        except (OperationalError, InterfaceError):
            # A delivered message must not stay "sending" for a database blip: it would be
            # re-sent after the lease. Reconnect and try again before giving up.
            if attempt == 2 or connection.in_atomic_block:
                raise
            connection.close()
            time.sleep(0.5 * (attempt + 1))
    raise AssertionError("unreachable")


def finish(reminder: Reminder, **fields: Any) -> None:
    """Record one outcome if the claim is still ours.

    Every claim increments `attempts`, so the value read after claiming is a fencing token: a
    sender whose lease ran out (and was claimed again) cannot overwrite the new holder's row.
    The statement is written out rather than built by the ORM: it runs once per delivery, and
    building it through a queryset costs more CPU than PostgreSQL spends running it.
    """
    meta = Reminder._meta
    assignments, params = [], []
    for name, value in fields.items():
        model_field = meta.get_field(name)
        assignments.append(f"{model_field.column} = %s")
        params.append(model_field.get_db_prep_save(value, connection))
    sql = f"""
        UPDATE {meta.db_table} SET {", ".join(assignments)}
        WHERE {meta.pk.column} = %s AND {meta.get_field("status").column} = %s
          AND {meta.get_field("attempts").column} = %s
    """  # noqa: S608 - identifiers come from the model, values are parameters
    params += [reminder.pk, SENDING, reminder.attempts]

    def update() -> int:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.rowcount

    if not _with_reconnects(update):
        logger.warning("Reminder %s: claim lost before recording %s.", reminder.pk, fields)


def finish_skipped(skips: dict[Reminder, str]) -> None:
    """Record every skip of the batch in one UPDATE (nothing was sent, so no hurry)."""
    by_reason: dict[str, list[int]] = defaultdict(list)
    for reminder, reason in skips.items():
        by_reason[reason].append(reminder.pk)
    reason_of_row = Case(
        *(When(pk__in=ids, then=Value(reason)) for reason, ids in by_reason.items()),
        default=F("skip_reason"),
    )
    rows = Reminder.objects.filter(fenced(skips))
    _with_reconnects(lambda: rows.update(status=SKIPPED, skip_reason=reason_of_row))


def release(reminders: list[Reminder]) -> None:
    """Give unstarted rows back (pending, lease and attempt undone) for another send."""
    Reminder.objects.filter(fenced(reminders)).update(
        status=PENDING, claimed_at=None, attempts=F("attempts") - 1
    )
