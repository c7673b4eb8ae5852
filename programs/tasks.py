from celery import shared_task

from . import alerts


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
