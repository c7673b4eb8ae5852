import logging
from collections.abc import Sequence

from celery import shared_task
from celery.utils import uuid
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


# --- reminders ------------------------------------------------------------------------------


@shared_task(acks_late=True, ignore_result=True, time_limit=270, soft_time_limit=240)
def dispatch_due_reminders_task() -> dict:
    """Create today's due reminder rows and enqueue their sends (beat, every 5 minutes)."""
    return reminders.dispatch_due_reminders().as_dict()


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    time_limit=settings.STRIDE_REMINDER_SEND_TIME_LIMIT,
    soft_time_limit=settings.STRIDE_REMINDER_SEND_TIME_LIMIT * 0.8,
    autoretry_for=(DeliveryError,),
    retry_backoff=True,
    retry_backoff_max=300,
    retry_jitter=True,
    # The row's `attempts` (STRIDE_REMINDER_MAX_ATTEMPTS) ends the retries, not the message:
    # it also counts attempts cut short by a killed worker, which a message header cannot.
    max_retries=None,
)
def send_reminder_task(self, reminder_id: int) -> str:
    """Deliver one reminder; idempotent (claims the row first), retried with backoff."""
    try:
        return reminders.reminder_send(reminder_id=reminder_id)
    except reminders.ReminderBusy as busy:
        if self.request.is_eager:
            return "busy"  # in-process: the next dispatch re-enqueues it once the lease ends
        # Another sender holds the lease (or held it and died): wait it out and claim again.
        raise self.retry(countdown=busy.retry_in) from busy


def sends_run_in_process() -> bool:
    return bool(send_reminder_task.app.conf.task_always_eager)


def enqueue_reminder_sends(reminder_ids: Sequence[int]) -> None:
    """Queue one `send_reminder_task` per id, pipelined to the broker in batches.

    `send_task` in a loop costs a Redis round trip and a client per message (~2,000/s); kombu's
    `Producer.batch` pipelines the LPUSHes, and building messages with Celery's own
    `as_task_v2`/`send_task_message` skips per-call option resolution (~15,000/s).
    """
    app = send_reminder_task.app
    if sends_run_in_process():
        for reminder_id in reminder_ids:
            try:
                send_reminder_task.apply(args=(reminder_id,), throw=False)
            except Exception:
                # In-process retries run at once and the last one raises; the row keeps its
                # status and error, and the next dispatch re-enqueues it. One bad reminder
                # must not stop the others.
                logger.exception("Reminder %s not sent in-process.", reminder_id)
        return
    name = send_reminder_task.name
    queue = app.amqp.router.route({}, name, args=(0,), kwargs={})["queue"]
    with app.producer_or_acquire() as producer:
        producer.maybe_declare(queue)
        with producer.batch(max_size=PUBLISH_BATCH):
            for reminder_id in reminder_ids:
                message = app.amqp.as_task_v2(
                    uuid(),
                    name,
                    args=(reminder_id,),
                    kwargs={},
                    ignore_result=True,
                    argsrepr=f"({reminder_id},)",
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
