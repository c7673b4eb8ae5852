"""Alert rules and the two blessed writes on alerts: opening one and acknowledging one."""

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from patients import instruments
from patients.models import MeasureResponse, Patient

from .adherence import last_session_dates, recent_adherence
from .models import Alert, Prescription, SessionLog
from .pain import pain_baseline


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


@dataclass(frozen=True, slots=True)
class PainSpikeRule:
    """When a session's pain after exercise is a spike: at or above the absolute limit (the
    patient's, else the clinic's), or the clinic's margin above the program's first-week
    baseline (None before there is one)."""

    absolute: int
    over_baseline: int
    baseline: float | None

    @classmethod
    def of(cls, patient: Patient, clinic: Any, baseline: float | None) -> "PainSpikeRule":
        return cls(
            absolute=patient.pain_spike_absolute or clinic.pain_spike_absolute,
            over_baseline=clinic.pain_spike_over_baseline,
            baseline=baseline,
        )

    def reasons(self, pain_after: int | None) -> list[str]:
        """Why this pain is a spike; empty when it is not (or was not given)."""
        if pain_after is None:
            return []
        reasons = []
        if pain_after >= self.absolute:
            reasons.append(f"pain {pain_after}/10 after exercise (limit {self.absolute})")
        if self.baseline is not None and pain_after >= self.baseline + self.over_baseline:
            reasons.append(
                f"pain {pain_after}/10 is {pain_after - self.baseline:.1f} above "
                f"the baseline of {self.baseline:.1f}"
            )
        return reasons


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
    baseline = pain_baseline(session.prescription, exclude_session_id=session.pk)
    reasons = PainSpikeRule.of(patient, patient.clinic, baseline).reasons(session.pain_after)
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


# --- time-based rules: the nightly sweep ---------------------------------------------------


@dataclass(frozen=True)
class SweepResult:
    prescriptions_checked: int
    opened: dict[str, int]


def _inactive_reason(
    prescription: Prescription, last_session_on: dt.date | None, today: dt.date
) -> tuple[int, dt.date] | None:
    patient = prescription.patient
    limit = patient.inactive_after_days or patient.clinic.inactive_after_days
    since = max(filter(None, [last_session_on, prescription.start_date]))
    idle_days = (today - since).days
    return (idle_days, since) if idle_days >= limit else None


def alerts_sweep(*, batch_size: int = 1000) -> SweepResult:
    """Open `inactive` and `low_adherence` alerts for active programs; idempotent.

    A fixed number of queries per batch of programs, plus one insert per alert opened.
    """
    opened: dict[str, int] = defaultdict(int)
    checked = 0
    last_pk = 0
    programs = (
        Prescription.objects.filter(
            status=Prescription.Status.ACTIVE, patient__status=Patient.Status.ACTIVE
        )
        .select_related("patient__clinic")
        .order_by("pk")
    )
    while batch := list(programs.filter(pk__gt=last_pk)[:batch_size]):
        last_pk = batch[-1].pk
        checked += len(batch)
        patient_ids = {p.patient_id for p in batch}
        already_open = set(
            Alert.objects.filter(
                patient_id__in=patient_ids,
                acknowledged_at__isnull=True,
                kind__in=[Alert.Kind.INACTIVE, Alert.Kind.LOW_ADHERENCE],
            ).values_list("patient_id", "kind")
        )
        last_sessions = last_session_dates(patient_ids)
        today = {p.pk: p.patient.local_date() for p in batch}
        by_window: dict[int, list[Prescription]] = defaultdict(list)
        for prescription in batch:
            by_window[prescription.patient.clinic.adherence_window_days].append(prescription)
        windows = {}
        for days, group in by_window.items():
            windows.update(recent_adherence(group, days=days, today_by_prescription=today))

        for prescription in batch:
            patient = prescription.patient
            clinic = patient.clinic
            local_today = today[prescription.pk]
            inactive = _inactive_reason(prescription, last_sessions.get(patient.pk), local_today)
            if inactive and (patient.pk, Alert.Kind.INACTIVE) not in already_open:
                idle_days, since = inactive
                if alert_open(
                    patient=patient,
                    kind=Alert.Kind.INACTIVE,
                    severity=Alert.Severity.WARNING,
                    message=f"No session logged for {idle_days} days",
                    details={"idle_days": idle_days, "since": since.isoformat()},
                ):
                    opened[Alert.Kind.INACTIVE] += 1

            threshold = float(
                patient.adherence_alert_below
                if patient.adherence_alert_below is not None
                else clinic.adherence_alert_below
            )
            window = windows[prescription.pk]
            ratio = window.ratio
            program_days = (local_today - prescription.start_date).days + 1
            if (
                ratio is not None
                and ratio < threshold
                and program_days >= clinic.adherence_window_days
                and (patient.pk, Alert.Kind.LOW_ADHERENCE) not in already_open
                and alert_open(
                    patient=patient,
                    kind=Alert.Kind.LOW_ADHERENCE,
                    severity=Alert.Severity.WARNING,
                    message=(
                        f"Adherence {ratio:.0%} over the last {clinic.adherence_window_days} days "
                        f"(alert below {threshold:.0%})"
                    ),
                    details={
                        "ratio": round(ratio, 3),
                        "sessions_done": window.sessions_done,
                        "sessions_planned": window.sessions_planned,
                        "threshold": threshold,
                    },
                )
            ):
                opened[Alert.Kind.LOW_ADHERENCE] += 1
    return SweepResult(prescriptions_checked=checked, opened=dict(opened))


# --- red flags and outcome scores ------------------------------------------------------------


def alert_open_or_update(
    *,
    patient: Patient,
    kind: str,
    severity: str,
    message: str,
    details: dict[str, Any],
) -> tuple[Alert, bool]:
    """Open an alert, or bring the open one of that kind up to date; returns (alert, opened).

    For findings that must never be swallowed by an older open alert (a new red flag while
    yesterday's is unacknowledged): the open alert takes the new message and details, and
    keeps the more severe of the two severities.
    """
    open_alerts = Alert.objects.select_for_update().filter(
        patient=patient, kind=kind, acknowledged_at__isnull=True
    )
    for _ in range(3):
        if alert := alert_open(
            patient=patient, kind=kind, severity=severity, message=message, details=details
        ):
            return alert, True
        # One is open (or was, if acknowledged meanwhile: then try opening again).
        if (alert := open_alerts.first()) is not None:
            break
    else:
        raise RuntimeError(f"Could not open or find an open {kind} alert for {patient.pk}.")
    rank = {Alert.Severity.URGENT: 0, Alert.Severity.WARNING: 1, Alert.Severity.INFO: 2}
    alert.severity = min(alert.severity, severity, key=rank.__getitem__)
    alert.message = message[:300]
    alert.details = {**alert.details, **details}
    alert.save(update_fields=["severity", "message", "details"])
    return alert, False


def alerts_evaluate_measure(*, measure_id: int) -> list[str]:
    """Open `score_decline` when a score is worse than the first or the previous one by the MCID.

    Compares with the patient's first and previous responses to the same instrument (by
    `taken_at`); returns the kinds opened (idempotent: one open alert per kind).
    """
    measure = MeasureResponse.objects.select_related("patient").filter(pk=measure_id).first()
    if measure is None:
        return []
    same_instrument = MeasureResponse.objects.filter(
        patient_id=measure.patient_id, instrument=measure.instrument
    ).exclude(pk=measure.pk)
    earlier = same_instrument.filter(
        Q(taken_at__lt=measure.taken_at) | Q(taken_at=measure.taken_at, pk__lt=measure.pk)
    )
    first = earlier.order_by("taken_at", "id").first()
    previous = earlier.order_by("-taken_at", "-id").first()
    current = float(measure.score)
    compared = []
    for label, other in (("first", first), ("previous", previous)):
        if other is None or (label == "previous" and first is not None and other.pk == first.pk):
            continue
        if instruments.is_worse_by_mcid(measure.instrument, float(other.score), current):
            compared.append((label, other))
    if not compared:
        return []
    definition = instruments.get_instrument(measure.instrument)
    reasons = [
        f"{float(other.score):g} ({label}, {other.taken_at:%Y-%m-%d})" for label, other in compared
    ]
    alert = alert_open(
        patient=measure.patient,
        kind=Alert.Kind.SCORE_DECLINE,
        severity=Alert.Severity.WARNING,
        message=(
            f"{definition.name} score {current:g} is worse by at least the MCID "
            f"({definition.mcid:g}) than " + " and ".join(reasons)
        ),
        details={
            "measure_id": measure.pk,
            "instrument": measure.instrument,
            "score": current,
            "mcid": definition.mcid,
            **{f"{label}_score": float(other.score) for label, other in compared},
            **{f"{label}_measure_id": other.pk for label, other in compared},
        },
    )
    return [alert.kind] if alert else []
