"""Alert rules and the two blessed writes on alerts: opening one and acknowledging one."""

import datetime as dt
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Avg, Case, F, When
from django.utils import timezone

from patients.models import Patient

from .models import Alert, Prescription, SessionLog

BASELINE_DAYS = 7


def alert_open(
    *,
    patient: Patient,
    kind: str,
    severity: str,
    message: str,
    details: dict[str, Any] | None = None,
) -> Alert | None:
    """Open an alert unless one of the same kind is already open; returns the new alert or None.

    The partial unique index (patient, kind) over open alerts decides under concurrency.
    """
    if Alert.objects.filter(patient=patient, kind=kind, acknowledged_at__isnull=True).exists():
        return None
    try:
        with transaction.atomic():
            return Alert.objects.create(
                clinic_id=patient.clinic_id,
                patient=patient,
                kind=kind,
                severity=severity,
                message=message[:300],
                details=details or {},
            )
    except IntegrityError:
        return None


@transaction.atomic
def alert_acknowledge(*, alert: Alert, by: AbstractBaseUser, note: str = "") -> Alert:
    """Mark an alert as seen by a practitioner, with their note; a new one may then open."""
    alert = Alert.objects.select_for_update().get(pk=alert.pk)
    if alert.acknowledged_at is not None:
        raise ValidationError({"alert": ["This alert was already acknowledged."]})
    alert.acknowledged_at = timezone.now()
    alert.acknowledged_by = by
    alert.acknowledgement_note = note
    alert.save(update_fields=["acknowledged_at", "acknowledged_by", "acknowledgement_note"])
    return alert


def session_pain_value() -> Case:
    """Pain that represents a session: after exercise if given, else before."""
    return Case(When(pain_after__isnull=False, then=F("pain_after")), default=F("pain_before"))


def pain_baseline(
    prescription: Prescription, *, exclude_session_id: int | None = None
) -> float | None:
    """Mean session pain over the first week of the program (None without data)."""
    sessions = SessionLog.objects.filter(
        prescription=prescription,
        local_date__lt=prescription.start_date + dt.timedelta(days=BASELINE_DAYS),
    )
    if exclude_session_id is not None:
        sessions = sessions.exclude(pk=exclude_session_id)
    value = sessions.aggregate(baseline=Avg(session_pain_value()))["baseline"]
    return float(value) if value is not None else None


def alerts_evaluate_session(*, session_id: int) -> list[str]:
    """Run the per-session rules (pain spike) for one logged session; returns opened kinds."""
    session = (
        SessionLog.objects.select_related("patient__clinic", "prescription")
        .filter(pk=session_id)
        .first()
    )
    if session is None or session.pain_after is None:
        return []
    patient = session.patient
    clinic = patient.clinic
    absolute = patient.pain_spike_absolute or clinic.pain_spike_absolute
    baseline = pain_baseline(session.prescription, exclude_session_id=session.pk)
    reasons = []
    if session.pain_after >= absolute:
        reasons.append(f"pain {session.pain_after}/10 after exercise (limit {absolute})")
    if baseline is not None and session.pain_after >= baseline + clinic.pain_spike_over_baseline:
        reasons.append(
            f"pain {session.pain_after}/10 is {session.pain_after - baseline:.1f} above "
            f"the baseline of {baseline:.1f}"
        )
    if not reasons:
        return []
    alert = alert_open(
        patient=patient,
        kind=Alert.Kind.PAIN_SPIKE,
        severity=Alert.Severity.WARNING,
        message="Pain spike: " + "; ".join(reasons),
        details={
            "session_id": session.pk,
            "pain_after": session.pain_after,
            "baseline": baseline,
            "local_date": session.local_date.isoformat(),
        },
    )
    return [alert.kind] if alert else []
