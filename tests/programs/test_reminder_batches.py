"""Sending reminders in batches: one claim, a fixed number of queries, one outcome per send."""

import datetime as dt
import time
import uuid
from collections import Counter

import pytest
from django.core import mail
from django.db import connection
from django.db.models import F

from patients import services as patient_services
from programs import reminders, services
from programs.delivery import DeliveryError
from programs.models import Reminder
from programs.reminders import SkipReason, dispatch_due_reminders, reminders_send, sending
from programs.tasks import enqueue_reminder_sends, send_reminder_task, send_reminders_task
from tests import factories

pytestmark = pytest.mark.django_db

DISPATCH_AT = dt.datetime(2026, 6, 10, 22, 30, tzinfo=dt.UTC)  # 18:30 in New York
SEND_AT = DISPATCH_AT + dt.timedelta(minutes=1)


@pytest.fixture
def due_reminders(clinic, therapist, exercises):
    """`count` patients due at 18:30 New York time on 10 June 2026 (or, `today`, due now, for
    the tasks, which send at the real time); their pending reminder ids, in order."""

    def make(count: int, *, today: bool = False) -> list[int]:
        for n in range(count):
            patient = factories.create_patient(
                clinic=clinic,
                therapist=therapist,
                timezone_name="UTC" if today else "America/New_York",
                reminder_time=dt.time(0, 0) if today else dt.time(18, 0),
                email=f"patient{n}@example.org",
            )
            factories.assign_custom_program(
                patient=patient,
                prescriber=therapist,
                exercises=exercises,
                start_date=dt.date(2026, 1, 1),
            )
        dispatch_due_reminders(now=None if today else DISPATCH_AT)
        return list(Reminder.objects.order_by("pk").values_list("pk", flat=True))

    return make


class ScriptedChannel:
    """Stands in for the provider: records each send; `fail` and `before_send` script it."""

    calls: Counter = Counter()
    fail: dict[int, int] = {}  # reminder id -> failures left
    before_send = None

    def send(self, reminder, message):
        type(self).calls[reminder.pk] += 1
        if type(self).before_send:
            type(self).before_send(reminder)
        if type(self).fail.get(reminder.pk):
            type(self).fail[reminder.pk] -= 1
            raise DeliveryError("provider timed out")


@pytest.fixture
def channel(monkeypatch):
    ScriptedChannel.calls = Counter()
    ScriptedChannel.fail = {}
    ScriptedChannel.before_send = None
    monkeypatch.setattr(sending, "channel_for", lambda name: ScriptedChannel())
    return ScriptedChannel


def states(*reminder_ids: int) -> list[tuple[str, int]]:
    by_id = {r.pk: (r.status, r.attempts) for r in Reminder.objects.filter(pk__in=reminder_ids)}
    return [by_id[pk] for pk in reminder_ids]


# --- one batch ------------------------------------------------------------------------------


def test_a_batch_sends_each_reminder_once_and_reports_each_outcome(due_reminders, clinic):
    ids = due_reminders(3)
    logged = Reminder.objects.get(pk=ids[1]).patient
    services.session_record(
        patient=logged, client_id=uuid.uuid4(), performed_at=SEND_AT, pain_after=2
    )

    result = reminders_send(reminder_ids=ids, now=SEND_AT)
    again = reminders_send(reminder_ids=ids, now=SEND_AT)

    assert result.statuses == {ids[0]: "sent", ids[1]: "skipped", ids[2]: "sent"}
    assert again.statuses == result.statuses  # nothing claimable: nothing sent twice
    assert sorted(email.to[0] for email in mail.outbox) == [
        "patient0@example.org",
        "patient2@example.org",
    ]
    assert states(*ids) == [("sent", 1), ("skipped", 1), ("sent", 1)]
    assert Reminder.objects.get(pk=ids[1]).skip_reason == SkipReason.LOGGED
    assert all(email.extra_headers["X-Stride-Idempotency-Key"] for email in mail.outbox)


def test_the_claim_takes_pending_rows_and_expired_leases_and_leaves_the_rest(
    due_reminders, channel
):
    pending, held, abandoned, sent = due_reminders(4)
    now = dt.datetime.now(dt.UTC)
    Reminder.objects.filter(pk=held).update(status="sending", claimed_at=now, attempts=1)
    Reminder.objects.filter(pk=abandoned).update(
        status="sending",
        claimed_at=now - reminders.send_lease() - dt.timedelta(seconds=5),
        attempts=1,
    )
    Reminder.objects.filter(pk=sent).update(status="sent", attempts=1)
    missing = sent + 1000

    result = reminders_send(reminder_ids=[pending, held, abandoned, sent, missing], now=SEND_AT)

    assert result.statuses == {
        pending: "sent",
        held: "sending",
        abandoned: "sent",
        sent: "sent",
        missing: "missing",
    }
    assert set(result.busy) == {held}
    assert 1 <= result.busy[held] <= reminders.send_lease().total_seconds() + 1
    assert channel.calls == Counter({pending: 1, abandoned: 1})
    assert states(pending, held, abandoned, sent) == [
        ("sent", 1),
        ("sending", 1),  # untouched: its live sender records the outcome
        ("sent", 2),  # claimed again: the dead sender's attempt counts
        ("sent", 1),
    ]


def test_a_sender_whose_claim_was_taken_over_mid_batch_does_not_overwrite_that_row(
    due_reminders, channel
):
    first, second = due_reminders(2)

    def take_over_the_second(reminder):
        if reminder.pk == first:  # meanwhile, another sender claimed the second row
            Reminder.objects.filter(pk=second).update(attempts=F("attempts") + 1)

    channel.before_send = take_over_the_second

    reminders_send(reminder_ids=[first, second], now=SEND_AT)

    assert states(first, second) == [("sent", 1), ("sending", 2)]


def test_one_failing_reminder_is_recorded_alone_and_the_others_are_sent(due_reminders, channel):
    ids = due_reminders(3)
    channel.fail = {ids[1]: 1}

    result = reminders_send(reminder_ids=ids, now=SEND_AT)

    assert result.statuses == {ids[0]: "sent", ids[1]: "pending", ids[2]: "sent"}
    assert set(result.retry) == {ids[1]}
    assert "provider timed out" in Reminder.objects.get(pk=ids[1]).last_error
    assert states(*ids) == [("sent", 1), ("pending", 1), ("sent", 1)]


def test_the_task_retries_only_the_failed_reminder_and_never_resends_the_others(
    due_reminders, channel
):
    ids = due_reminders(4, today=True)
    channel.fail = {ids[2]: 2}

    send_reminders_task.apply(args=(ids,))  # in-process, retries run at once

    assert channel.calls == Counter({ids[0]: 1, ids[1]: 1, ids[2]: 3, ids[3]: 1})
    assert states(*ids) == [("sent", 1), ("sent", 1), ("sent", 3), ("sent", 1)]
    assert Reminder.objects.get(pk=ids[2]).last_error == ""


def test_a_permanent_failure_in_a_batch_fails_that_reminder_only(due_reminders, settings):
    settings.STRIDE_REMINDER_MAX_ATTEMPTS = 2
    ids = due_reminders(2, today=True)
    no_address = Reminder.objects.get(pk=ids[0]).patient
    patient_services.patient_update(patient=no_address, email="")

    send_reminders_task.apply(args=(ids,))

    assert states(*ids) == [("failed", 1), ("sent", 1)]
    assert [email.to for email in mail.outbox] == [["patient1@example.org"]]


def test_attempts_run_out_for_the_failing_reminder_only(due_reminders, channel, settings):
    settings.STRIDE_REMINDER_MAX_ATTEMPTS = 3
    ids = due_reminders(2, today=True)
    channel.fail = {ids[0]: 10}

    send_reminders_task.apply(args=(ids,))

    assert states(*ids) == [("failed", 3), ("sent", 1)]
    assert channel.calls == Counter({ids[0]: 3, ids[1]: 1})


# --- the batch's time window ----------------------------------------------------------------


def test_rows_not_started_before_the_window_closes_go_back_to_pending(
    due_reminders, channel, settings
):
    settings.STRIDE_REMINDER_SEND_TIME_LIMIT = 1  # sends start only in the first 0.5 s
    ids = due_reminders(3)
    channel.before_send = lambda reminder: time.sleep(0.6)

    result = reminders_send(reminder_ids=ids, now=SEND_AT)

    assert result.released == ids[1:]
    assert channel.calls == Counter({ids[0]: 1})
    assert states(*ids) == [("sent", 1), ("pending", 0), ("pending", 0)]  # attempt undone
    assert not Reminder.objects.filter(pk__in=ids[1:], claimed_at__isnull=False).exists()


def test_the_task_sends_the_released_rows_again_at_once(due_reminders, channel, settings):
    settings.STRIDE_REMINDER_SEND_TIME_LIMIT = 1
    ids = due_reminders(3, today=True)
    channel.before_send = lambda reminder: time.sleep(0.6)

    send_reminders_task.apply(args=(ids,))

    assert channel.calls == Counter(dict.fromkeys(ids, 1))
    assert states(*ids) == [("sent", 1)] * 3


# --- queries --------------------------------------------------------------------------------


@pytest.mark.parametrize("count", [3, 30])
def test_a_batch_costs_three_queries_plus_one_update_per_delivery(
    count, due_reminders, channel, django_assert_max_num_queries
):
    ids = due_reminders(count)
    # Claim, rows with patients, clinics and send-time checks, exercises; then one UPDATE
    # per delivery (its outcome, recorded right after the send).
    with django_assert_max_num_queries(3 + count):
        result = reminders_send(reminder_ids=ids, now=SEND_AT)
    assert result.counts() == {"sent": count}


@pytest.mark.parametrize("count", [4, 40])
def test_skips_cost_one_update_whatever_their_number(
    count, due_reminders, channel, django_assert_max_num_queries
):
    ids = due_reminders(count)
    discharged = ids[: count // 2]
    for reminder in Reminder.objects.filter(pk__in=discharged).select_related("patient"):
        services.patient_discharge(patient=reminder.patient)
    sent = count - len(discharged)
    # Claim, rows, skips (one UPDATE), exercises, one UPDATE per delivery.
    with django_assert_max_num_queries(4 + sent):
        result = reminders_send(reminder_ids=ids, now=SEND_AT)
    assert result.counts() == {"skipped": len(discharged), "sent": sent}
    assert set(
        Reminder.objects.filter(pk__in=discharged).values_list("skip_reason", flat=True)
    ) == {SkipReason.DISCHARGED}


# --- enqueueing and the tasks ---------------------------------------------------------------


def test_in_process_enqueueing_sends_every_batch(due_reminders, channel, settings):
    settings.STRIDE_REMINDER_SEND_BATCH_SIZE = 2
    ids = due_reminders(5, today=True)

    enqueue_reminder_sends(ids)

    assert channel.calls == Counter(dict.fromkeys(ids, 1))
    assert states(*ids) == [("sent", 1)] * 5


@pytest.mark.parametrize("task", [send_reminders_task, send_reminder_task])
def test_the_send_tasks_are_configured_for_redelivery_and_bounded_time(task):
    assert task.acks_late
    assert task.reject_on_worker_lost
    # The lease outlives the hard limit: after it, the holder is certainly dead.
    assert task.time_limit == reminders.send_lease().total_seconds() - 2
    assert task.soft_time_limit < task.time_limit


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_outcomes_commit_without_waiting_for_the_disk_and_the_connection_is_reset(
    due_reminders, channel
):
    ids = due_reminders(2)
    # Outside a test transaction the dispatch's on-commit sends ran in-process already.
    Reminder.objects.update(status="pending", skip_reason="", attempts=0, claimed_at=None)
    seen = []

    def read_the_setting(reminder):
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            seen.append(cursor.fetchone()[0])

    channel.before_send = read_the_setting

    reminders_send(reminder_ids=ids, now=SEND_AT)

    assert seen == ["off", "off"]
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone()[0] == "on"
    assert states(*ids) == [("sent", 1), ("sent", 1)]
