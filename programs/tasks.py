from celery import shared_task

from . import alerts


@shared_task(acks_late=True, max_retries=3, default_retry_delay=30, queue="alerts")
def evaluate_session_alerts_task(session_id: int) -> list[str]:
    """Open the alerts a newly logged session calls for (pain spike); idempotent."""
    return alerts.alerts_evaluate_session(session_id=session_id)
