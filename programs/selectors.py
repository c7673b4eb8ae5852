"""Reads for the dashboard and the API's progress endpoints; plain data out."""

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import (
    Avg,
    Case,
    Count,
    IntegerField,
    OuterRef,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.utils import timezone

from clinic.models import Clinic
from patients.models import Patient
from patients.selectors import MeasureSeries, measure_series

from .adherence import PrescriptionAdherence, prescription_adherence, recent_adherence
from .alerts import session_pain_value
from .models import Alert, Prescription, PrescriptionPeriod, SessionLog
from .pain import TREND_DAYS, PainTrend, pain_trend, trend_direction
from .readiness import PhaseReadiness, phase_readiness

SEVERITY_RANK = {Alert.Severity.URGENT: 0, Alert.Severity.WARNING: 1, Alert.Severity.INFO: 2}
OPEN_STATUSES = (Prescription.Status.ACTIVE, Prescription.Status.PAUSED)


def current_prescription(patient: Patient) -> Prescription | None:
    """The open program (active or paused, newest first), else the last completed one."""
    programs = Prescription.objects.filter(patient=patient).select_related(
        "current_phase", "protocol", "prescriber__user"
    )
    return (
        programs.filter(status__in=OPEN_STATUSES).order_by("-start_date", "-id").first()
        or programs.order_by("-start_date", "-id").first()
    )


@dataclass(frozen=True)
class PhaseChange:
    day: dt.date
    phase_name: str


@dataclass(frozen=True)
class PatientProgress:
    patient: Patient
    today: dt.date
    prescription: Prescription | None
    adherence: PrescriptionAdherence | None
    pain: PainTrend
    readiness: PhaseReadiness | None
    measures: list[MeasureSeries]
    open_alerts: list[Alert]
    alerts: list[Alert] = field(default_factory=list)
    phase_changes: list[PhaseChange] = field(default_factory=list)


def patient_progress(patient: Patient, *, today: dt.date | None = None) -> PatientProgress:
    """Adherence, pain trend, readiness, outcome scores and alerts of one patient."""
    today = today or patient.local_date()
    prescription = current_prescription(patient)
    alerts = list(patient.alerts.select_related("acknowledged_by").order_by("-opened_at"))
    open_alerts = sorted(
        (alert for alert in alerts if alert.is_open),
        key=lambda alert: (SEVERITY_RANK[alert.severity], -alert.opened_at.timestamp()),
    )
    if prescription is None:
        return PatientProgress(
            patient=patient,
            today=today,
            prescription=None,
            adherence=None,
            pain=PainTrend(),
            readiness=None,
            measures=measure_series(patient),
            open_alerts=open_alerts,
            alerts=alerts,
        )
    periods = list(
        PrescriptionPeriod.objects.filter(
            prescription=prescription, kind=PrescriptionPeriod.Kind.PHASE
        )
        .select_related("phase")
        .order_by("started_on", "id")
    )
    phase_names = {p.phase_id: p.phase.name for p in periods if p.phase_id}
    return PatientProgress(
        patient=patient,
        today=today,
        prescription=prescription,
        adherence=prescription_adherence(prescription, today=today, phase_names=phase_names),
        pain=pain_trend(prescription, today=today),
        readiness=phase_readiness(prescription, today=today),
        measures=measure_series(patient),
        open_alerts=open_alerts,
        alerts=alerts,
        phase_changes=[
            PhaseChange(day=p.started_on, phase_name=p.phase.name) for p in periods[1:] if p.phase
        ],
    )


@dataclass(frozen=True)
class OverviewRow:
    patient: Patient
    prescription: Prescription | None
    weeks_since_start: int | None
    adherence_recent: float | None
    last_session_on: dt.date | None
    latest_pain: int | None
    pain_direction: str | None
    open_alerts: int
    top_severity: str | None

    @property
    def name(self) -> str:
        return self.patient.full_name

    @property
    def protocol_name(self) -> str:
        return self.prescription.name if self.prescription else ""

    @property
    def phase_name(self) -> str:
        phase = self.prescription.current_phase if self.prescription else None
        return phase.name if phase else ""


def clinic_overview(
    clinic: Clinic, *, patients: Iterable[Patient] | QuerySet[Patient] | None = None
) -> list[OverviewRow]:
    """One row per patient with adherence, last session, pain and alerts.

    A fixed number of queries whatever the number of patients (no query per patient).
    """
    if patients is None:
        patients = Patient.objects.filter(clinic=clinic).select_related("therapist__user")
    patients = list(patients)
    patient_ids = [p.pk for p in patients]
    today_by_patient = {p.pk: p.local_date() for p in patients}

    prescriptions: dict[int, Prescription] = {}
    for prescription in (
        Prescription.objects.filter(patient_id__in=patient_ids)
        .select_related("current_phase", "protocol")
        .order_by("patient_id", "-start_date", "-id")
    ):
        current = prescriptions.get(prescription.patient_id)
        if current is None or (
            current.status not in OPEN_STATUSES and prescription.status in OPEN_STATUSES
        ):
            prescriptions[prescription.patient_id] = prescription
    open_programs = [p for p in prescriptions.values() if p.status in OPEN_STATUSES]
    adherence = recent_adherence(
        open_programs,
        days=clinic.adherence_window_days,
        today_by_prescription={p.pk: today_by_patient[p.patient_id] for p in open_programs},
    )

    latest = SessionLog.objects.filter(patient_id=OuterRef("pk")).order_by("-performed_at", "-id")
    last_sessions = {
        row["pk"]: row
        for row in Patient.objects.filter(pk__in=patient_ids)
        .annotate(
            last_on=Subquery(latest.values("local_date")[:1]),
            last_pain=Subquery(latest.annotate(pain=session_pain_value()).values("pain")[:1]),
        )
        .values("pk", "last_on", "last_pain")
    }

    earliest = min(today_by_patient.values(), default=timezone.localdate()) - dt.timedelta(
        TREND_DAYS
    )
    pain_days: dict[int, list[tuple[dt.date, float, int]]] = defaultdict(list)
    for patient_id, day, value, sessions in (
        SessionLog.objects.filter(patient_id__in=patient_ids, local_date__gte=earliest)
        .exclude(pain_before__isnull=True, pain_after__isnull=True)
        .values_list("patient_id", "local_date")
        .annotate(value=Avg(session_pain_value()), sessions=Count("id"))
        .order_by("patient_id", "local_date")
    ):
        pain_days[patient_id].append((day, float(value), sessions))

    alert_counts: dict[int, dict[str, int]] = defaultdict(dict)
    for patient_id, severity, count in (
        Alert.objects.filter(patient_id__in=patient_ids, acknowledged_at__isnull=True)
        .values_list("patient_id", "severity")
        .annotate(count=Count("id"))
        .order_by()
    ):
        alert_counts[patient_id][severity] = count

    rows = []
    for patient in patients:
        prescription = prescriptions.get(patient.pk)
        today = today_by_patient[patient.pk]
        window = adherence.get(prescription.pk) if prescription else None
        severities = alert_counts.get(patient.pk, {})
        last = last_sessions.get(patient.pk, {})
        rows.append(
            OverviewRow(
                patient=patient,
                prescription=prescription,
                weeks_since_start=(today - prescription.start_date).days // 7
                if prescription
                else None,
                adherence_recent=window.ratio if window else None,
                last_session_on=last.get("last_on"),
                latest_pain=last.get("last_pain"),
                pain_direction=trend_direction(pain_days.get(patient.pk, []), today),
                open_alerts=sum(severities.values()),
                top_severity=min(severities, key=SEVERITY_RANK.__getitem__) if severities else None,
            )
        )
    return rows


def clinic_open_alerts(clinic: Clinic) -> QuerySet[Alert]:
    """Open alerts of a clinic, most urgent first (red flags lead)."""
    return (
        Alert.objects.filter(clinic=clinic, acknowledged_at__isnull=True)
        .select_related("patient")
        .annotate(
            rank=Case(
                *[When(severity=s, then=Value(r)) for s, r in SEVERITY_RANK.items()],
                output_field=IntegerField(),
            ),
            red_flag_first=Case(
                When(kind=Alert.Kind.RED_FLAG, then=Value(0)),
                default=Value(1),
                output_field=IntegerField(),
            ),
        )
        .order_by("red_flag_first", "rank", "-opened_at")
    )
