import logging
from collections.abc import Sequence

from celery import Task, shared_task
from celery.exceptions import Reject
from celery.utils import uuid
from celery.utils.time import get_exponential_backoff_interval
from django.conf import settings

from . import alerts, digest, reminders
from .delivery import DeliveryError


@shared_task(acks_late=True, max_retries=3, default_retry_delay=30, queue="alerts")
def evaluate_session_alerts_task(session_id: int) -> list[str]:
    """Open the alerts a newly logged session calls for (pain spike); idempotent."""
    return alerts.alerts_evaluate_session(session_id=session_id)


@shared_task(acks_late=True, queue="alerts", time_limit=1800, soft_time_limit=1700)
def sweep_alerts_task() -> dict[str, int]:
    """Nightly: open `inactive` and `low_adherence` alerts for active programs; idempotent."""
    return alerts.alerts_sweep().opened


@shared_task(acks_late=True, max_retries=3, default_retry_delay=30, queue="alerts")
def evaluate_measure_alerts_task(measure_id: int) -> list[str]:
    """Open `score_decline` when a new outcome score fell by the MCID; idempotent."""
    return alerts.alerts_evaluate_measure(measure_id=measure_id)


logger = logging.getLogger("stride.reminders")
PUBLISH_BATCH = 1000  # Redis commands per pipeline round trip when enqueueing sends
RETRY_BACKOFF_MAX = 300  # seconds


# --- reminders ------------------------------------------------------------------------------


@shared_task(acks_late=True, ignore_result=True, time_limit=270, soft_time_limit=240)
def dispatch_due_reminders_task() -> dict:
    """Create today's due reminder rows and enqueue their sends (beat, every 5 minutes)."""
    return reminders.dispatch_due_reminders().as_dict()


# Both send tasks: acknowledged after the work, redelivered if the worker dies; the time limit
# is for a whole batch (the claim's lease is this plus a margin, `reminders.send_lease`); the
# rows' `attempts` (STRIDE_REMINDER_MAX_ATTEMPTS) end the retries, not the message: they also
# count attempts cut short by a killed worker, which a message header cannot.
SEND_TASK_OPTIONS = {
    "bind": True,
    "acks_late": True,
    "reject_on_worker_lost": True,
    "ignore_result": True,
    "time_limit": settings.STRIDE_REMINDER_SEND_TIME_LIMIT,
    "soft_time_limit": settings.STRIDE_REMINDER_SEND_TIME_LIMIT * 0.8,
    "max_retries": None,
}


@shared_task(**SEND_TASK_OPTIONS)
def send_reminders_task(self, reminder_ids: list[int]) -> dict[str, int]:
    """Deliver a batch of reminders, each at most once; queues again only the ones to retry.

    Failed attempts are retried with exponential backoff and jitter, reminders held by another
    sender once its lease ends, reminders the batch had no time for at once.
    """
    result = reminders.reminders_send(reminder_ids=reminder_ids)
    if result.released:
        _send_again(self, result.released, countdown=0)
    if result.busy and not self.request.is_eager:
        # In-process, the next dispatch re-enqueues them once the lease has ended.
        _send_again(self, sorted(result.busy), countdown=max(result.busy.values()))
    if result.retry:
        backoff = get_exponential_backoff_interval(
            factor=1, retries=self.request.retries, maximum=RETRY_BACKOFF_MAX, full_jitter=True
        )
        _send_again(self, sorted(result.retry), countdown=backoff)
    return result.counts()


def _send_again(task: Task, reminder_ids: list[int], countdown: float) -> None:
    retries = task.request.retries + 1
    if task.request.is_eager:  # in-process retries run at once, like Celery's own
        task.apply(args=(reminder_ids,), retries=retries, throw=True)
        return
    try:
        task.apply_async(args=(reminder_ids,), countdown=countdown, retries=retries)
    except Exception as exc:
        # The broker is unreachable: put this whole message back (or leave it unacknowledged
        # until Redis restores it) rather than leave these rows to the stuck-row sweep. Rows
        # already sent, skipped or failed make their ids no-ops when it comes back.
        raise Reject(exc, requeue=True) from exc


@shared_task(
    **SEND_TASK_OPTIONS,
    autoretry_for=(DeliveryError,),
    retry_backoff=True,
    retry_backoff_max=RETRY_BACKOFF_MAX,
    retry_jitter=True,
)
def send_reminder_task(self, reminder_id: int) -> str:
    """Deliver one reminder; idempotent (claims the row first), retried with backoff.

    Superseded by `send_reminders_task`; kept for messages queued before the switch.
    """
    try:
        return reminders.reminder_send(reminder_id=reminder_id)
    except reminders.ReminderBusy as busy:
        if self.request.is_eager:
            return "busy"  # in-process: the next dispatch re-enqueues it once the lease ends
        # Another sender holds the lease (or held it and died): wait it out and claim again.
        raise self.retry(countdown=busy.retry_in) from busy


def sends_run_in_process() -> bool:
    return bool(send_reminders_task.app.conf.task_always_eager)


def _batches(reminder_ids: Sequence[int]) -> list[list[int]]:
    size = settings.STRIDE_REMINDER_SEND_BATCH_SIZE
    ids = list(reminder_ids)
    return [ids[start : start + size] for start in range(0, len(ids), size)]


def enqueue_reminder_sends(reminder_ids: Sequence[int]) -> None:
    """Queue one `send_reminders_task` per batch of ids, pipelined to the broker.

    `send_task` in a loop costs a Redis round trip and a client per message; kombu's
    `Producer.batch` pipelines the LPUSHes, and building messages with Celery's own
    `as_task_v2`/`send_task_message` skips per-call option resolution.
    """
    app = send_reminders_task.app
    if sends_run_in_process():
        for batch in _batches(reminder_ids):
            try:
                send_reminders_task.apply(args=(batch,), throw=True)
            except Exception:
                # Rows keep their status and error, and the next dispatch re-enqueues them.
                # One bad batch must not stop the others.
                logger.exception("Reminders %s not sent in-process.", batch)
        return
    name = send_reminders_task.name
    queue = app.amqp.router.route({}, name, args=([],), kwargs={})["queue"]
    with app.producer_or_acquire() as producer:
        producer.maybe_declare(queue)
        with producer.batch(max_size=PUBLISH_BATCH):
            for batch in _batches(reminder_ids):
                message = app.amqp.as_task_v2(
                    uuid(),
                    name,
                    args=(batch,),
                    kwargs={},
                    ignore_result=True,
                    argsrepr=f"([{len(batch)} reminders],)",
                    kwargsrepr="{}",
                )
                app.amqp.send_task_message(
                    producer, name, message, queue=queue, declare=[], retry=False
                )


# --- therapist digest -----------------------------------------------------------------------


@shared_task(acks_late=True, ignore_result=True)
def send_therapist_digests_task() -> int:
    """Queue one weekly digest per therapist with active patients (beat, Mondays)."""
    practitioner_ids = digest.digest_recipients()
    for practitioner_id in practitioner_ids:
        send_therapist_digest_task.delay(practitioner_id)
    return len(practitioner_ids)


@shared_task(
    acks_late=True,
    ignore_result=True,
    autoretry_for=(digest.DigestNotSent,),
    retry_backoff=True,
    max_retries=5,
)
def send_therapist_digest_task(practitioner_id: int) -> bool:
    """E-mail one therapist this week's digest (at most once per ISO week)."""
    return digest.therapist_digest_send(practitioner_id=practitioner_id)
