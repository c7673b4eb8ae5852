"""Reads for the dashboard and the API's progress endpoints; plain data out."""

import datetime as dt
import zoneinfo
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.models import (
    Avg,
    Case,
    Count,
    IntegerField,
    Prefetch,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import TruncWeek
from django.utils import timezone

from clinic.models import Clinic
from patients.models import Patient
from patients.selectors import MeasureSeries, measure_series

from . import row_cache
from .adherence import (
    PrescriptionAdherence,
    Schedule,
    prescription_adherence,
    program_sessions_by_day,
    recent_adherence,
)
from .models import (
    Alert,
    ExerciseLog,
    PrescribedExercise,
    Prescription,
    PrescriptionPeriod,
    ProtocolPhase,
    SessionLog,
)
from .overview import (
    OPEN_STATUSES,
    SEVERITY_RANK,
    ProgramColumns,
    local_dates,
    overview_figures,
    overview_heads,
)
from .pain import (
    PainTrend,
    pain_change_from_baseline,
    pain_trend,
    session_pain_value,
)
from .readiness import PhaseReadiness, phase_readiness


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
class PatientPrograms:
    current: Prescription | None  # as `current_prescription` chooses it
    others: list[Prescription]  # newest first
    phases: list[ProtocolPhase]  # the current program's protocol phases, in order


def patient_programs(patient: Patient) -> PatientPrograms:
    """The patient's programs and the current one's protocol phases, in two queries.

    The current program's `current_phase` is the one from `phases` (not read twice); the other
    programs' phases are not loaded. A patient has a handful of programs, so all are read.
    """
    programs = list(Prescription.objects.filter(patient=patient).order_by("-start_date", "-id"))
    current = next((rx for rx in programs if rx.status in OPEN_STATUSES), None) or next(
        iter(programs), None
    )
    for program in programs:
        program.patient = patient
    phases: list[ProtocolPhase] = []
    if current is not None and current.protocol_id:
        phases = list(
            ProtocolPhase.objects.filter(protocol_id=current.protocol_id).order_by("order")
        )
        for phase in phases:
            if phase.pk == current.current_phase_id:
                current.current_phase = phase
    return PatientPrograms(
        current=current,
        others=[program for program in programs if program is not current],
        phases=phases,
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
    prescription.patient = patient  # the caller's instance, with its clinic: no re-read
    # The plan and the sessions per day are read once, for adherence and for readiness.
    periods = list(
        PrescriptionPeriod.objects.filter(prescription=prescription)
        .select_related("phase")
        .order_by("started_on", "id")
    )
    schedule = Schedule.from_periods(prescription, periods)
    done_by_day = program_sessions_by_day(prescription, today=today)
    phases = [p for p in periods if p.kind == PrescriptionPeriod.Kind.PHASE]
    phase_names = {p.phase_id: p.phase.name for p in phases if p.phase_id}
    return PatientProgress(
        patient=patient,
        today=today,
        prescription=prescription,
        adherence=prescription_adherence(
            prescription,
            today=today,
            phase_names=phase_names,
            schedule=schedule,
            done_by_day=done_by_day,
        ),
        pain=pain_trend(prescription, today=today),
        readiness=phase_readiness(
            prescription, today=today, schedule=schedule, done_by_day=done_by_day
        ),
        measures=measure_series(patient),
        open_alerts=open_alerts,
        alerts=alerts,
        phase_changes=[
            PhaseChange(day=p.started_on, phase_name=p.phase.name) for p in phases[1:] if p.phase
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


# The ordering key of the patient list's pages, and the time zone that dates a kept row
# (`row_cache`). Everything else a row shows comes from the cache or from `overview_heads`,
# by id.
PATIENT_LIST_PAGE_FIELDS = ("id", "last_name", "first_name", "timezone")

ListRow = dict[str, Any]


def patient_list_page(patients: QuerySet[Patient]) -> QuerySet[Patient]:
    """`patients` as plain rows holding the list's ordering key (`patient_list_rows` reads the
    rest for one page of them)."""
    return patients.values(*PATIENT_LIST_PAGE_FIELDS)


def patient_list_rows(
    clinic: Clinic,
    page: Sequence[Mapping[str, Any]],
    *,
    render: Callable[[ListRow], Any] | None = None,
) -> list[Any]:
    """The patient list's rows for a page of `patient_list_page` rows: plain data, or what
    `render` makes of each (the API's JSON-ready row).

    Rendered rows still current in the cache come from it (`row_cache`: one cache read for
    the page, under the rendering's name); the others are computed in three queries whatever
    their number (`programs.overview`: the patients with the program shown, last session and
    open alerts; their sessions of the last days; the open programs' phase and pause
    history), then kept as rendered. Plain rows are computed every time.
    """
    today_by_zone = local_dates(row["timezone"] for row in page)
    stamps = {
        row["id"]: (today_by_zone[row["timezone"]], clinic.adherence_window_days) for row in page
    }
    kept, tokens = row_cache.rows_cached(render, stamps) if render else ({}, None)
    fresh = _list_rows(clinic, [pk for pk in stamps if pk not in kept])
    if render:
        fresh = {pk: render(row) for pk, row in fresh.items()}
        row_cache.rows_keep(render, fresh, stamps, tokens)
    # A patient deleted between the page query and these reads is left out of the page.
    rows = (kept[pk] if pk in kept else fresh.get(pk) for pk in stamps)
    return [row for row in rows if row is not None]


def _list_rows(clinic: Clinic, patient_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    heads = overview_heads(patient_ids)
    figures = overview_figures(clinic, heads)
    rows = {}
    for patient_id, head in heads.items():
        row_figures = figures[patient_id]
        rows[patient_id] = {
            "patient": {
                "id": patient_id,
                "first_name": head.first_name,
                "last_name": head.last_name,
                "full_name": f"{head.first_name} {head.last_name}".strip(),
                "condition": head.condition,
                "side": head.side,
                "status": head.status,
                "therapist": {
                    "id": head.therapist_id,
                    "display_name": head.therapist_name,
                    "title": head.therapist_title,
                    "role": head.therapist_role,
                },
            },
            "prescription": None if head.program is None else _program(head.program),
            "weeks_since_start": row_figures.weeks_since_start,
            "adherence_recent": row_figures.adherence_recent,
            "last_session_on": row_figures.last_session_on,
            "latest_pain": row_figures.latest_pain,
            "pain_direction": row_figures.pain_direction,
            "open_alerts": row_figures.open_alerts,
            "top_severity": row_figures.top_severity,
        }
    return rows


def _program(program: ProgramColumns) -> dict[str, Any]:
    return {
        "id": program.id,
        "name": program.name,
        "protocol": None
        if program.protocol_id is None
        else {
            "id": program.protocol_id,
            "slug": program.protocol_slug,
            "name": program.protocol_name,
        },
        "current_phase": None
        if program.phase_id is None
        else {"id": program.phase_id, "order": program.phase_order, "name": program.phase_name},
        "status": program.status,
        "start_date": program.start_date,
        "phase_started_on": program.phase_started_on,
        "sessions_per_week": program.sessions_per_week,
        "paused_on": program.paused_on,
        "completed_on": program.completed_on,
    }


# Long texts of the protocol and phase that no overview column shows (one row per patient).
OVERVIEW_UNUSED_TEXT = (
    "protocol__description",
    "current_phase__goals",
    "current_phase__precautions",
    "current_phase__precaution_tags",
)


def clinic_overview(
    clinic: Clinic, *, patients: Iterable[Patient] | QuerySet[Patient] | None = None
) -> list[OverviewRow]:
    """One row per patient with adherence, last session, pain and alerts.

    Four queries whatever the number of patients (after the patients' own): the three of
    `programs.overview`, and the programs shown as model instances.
    """
    if patients is None:
        patients = Patient.objects.filter(clinic=clinic).select_related("therapist__user")
    patients = list(patients)
    heads = overview_heads([p.pk for p in patients])
    figures = overview_figures(clinic, heads)
    prescriptions = (
        Prescription.objects.filter(
            pk__in=[head.program.id for head in heads.values() if head.program is not None]
        )
        .select_related("current_phase", "protocol")
        .defer(*OVERVIEW_UNUSED_TEXT)
    )
    programs = {prescription.pk: prescription for prescription in prescriptions}
    rows = []
    # A patient deleted between these reads is left out; a program, shown as none.
    for patient in (patient for patient in patients if patient.pk in heads):
        program = heads[patient.pk].program
        row_figures = figures[patient.pk]
        prescription = programs.get(program.id) if program is not None else None
        rows.append(
            OverviewRow(
                patient=patient,
                prescription=prescription,
                weeks_since_start=row_figures.weeks_since_start if prescription else None,
                adherence_recent=row_figures.adherence_recent if prescription else None,
                last_session_on=row_figures.last_session_on,
                latest_pain=row_figures.latest_pain,
                pain_direction=row_figures.pain_direction,
                open_alerts=row_figures.open_alerts,
                top_severity=row_figures.top_severity,
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


# --- the patient's app ----------------------------------------------------------------------


@dataclass(frozen=True)
class ProgramPlan:
    prescription: Prescription
    exercises: list[PrescribedExercise]
    sessions_today: int

    @property
    def planned_today(self) -> bool:
        """A paused program plans nothing; an active one plans today's session."""
        return self.prescription.status == Prescription.Status.ACTIVE

    @property
    def logged_today(self) -> bool:
        return self.sessions_today > 0


@dataclass(frozen=True)
class TodayPlan:
    patient: Patient
    today: dt.date
    programs: list[ProgramPlan]

    @property
    def sessions_today(self) -> int:
        return sum(program.sessions_today for program in self.programs)

    @property
    def logged_today(self) -> bool:
        return self.sessions_today > 0


def patient_today_plan(patient: Patient, *, today: dt.date | None = None) -> TodayPlan:
    """Today's plan in the patient's time zone: open programs, their active exercises, and the
    sessions already logged today. Three queries whatever the number of programs/exercises.
    """
    today = today or patient.local_date()
    prescriptions = list(
        Prescription.objects.filter(patient=patient, status__in=OPEN_STATUSES)
        .select_related("current_phase", "protocol", "prescriber__user")
        .prefetch_related(
            Prefetch(
                "exercises",
                queryset=PrescribedExercise.objects.filter(active=True)
                .select_related("exercise")
                .order_by("order", "id"),
                to_attr="active_exercises",
            )
        )
        .order_by("-start_date", "-id")
    )
    sessions_today = dict(
        SessionLog.objects.filter(patient=patient, local_date=today)
        .values_list("prescription_id")
        .annotate(sessions=Count("id"))
        .order_by()
    )
    return TodayPlan(
        patient=patient,
        today=today,
        programs=[
            ProgramPlan(
                prescription=prescription,
                exercises=prescription.active_exercises,
                sessions_today=sessions_today.get(prescription.pk, 0),
            )
            for prescription in prescriptions
        ],
    )


# What a session's entries show: their own columns and the exercise's slug and name (the
# exercise's instructions and cues are long texts that no session answer reads).
SESSION_ENTRY_FIELDS = (
    "id",
    "session_id",
    "prescribed_exercise_id",
    "sets_done",
    "reps_done",
    "hold_seconds_done",
    "completed",
    "skipped_reason",
    "prescribed_exercise__id",
    "prescribed_exercise__exercise_id",
    "prescribed_exercise__exercise__id",
    "prescribed_exercise__exercise__slug",
    "prescribed_exercise__exercise__name",
)


def session_entries() -> QuerySet[ExerciseLog]:
    """Exercise entries with their exercise, in id (logged) order, for prefetching."""
    return (
        ExerciseLog.objects.select_related("prescribed_exercise__exercise")
        .only(*SESSION_ENTRY_FIELDS)
        .order_by("id")
    )


def patient_sessions(patient: Patient) -> QuerySet[SessionLog]:
    """A patient's sessions with their exercise entries, in a fixed number of queries."""
    return SessionLog.objects.filter(patient=patient).prefetch_related(
        Prefetch("entries", queryset=session_entries())
    )


def clinic_open_alert_counts(clinic: Clinic) -> dict[str, int]:
    """Open alerts of a clinic per severity (every severity present, most urgent first)."""
    counts = dict(
        Alert.objects.filter(clinic=clinic, acknowledged_at__isnull=True)
        .values_list("severity")
        .annotate(open=Count("id"))
        .order_by()
    )
    return {severity: counts.get(severity, 0) for severity in SEVERITY_RANK}


# --- clinic analytics -----------------------------------------------------------------------


@dataclass(frozen=True)
class AlertWeek:
    week_start: dt.date  # Monday, in the clinic's time zone
    by_kind: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.by_kind.values())


@dataclass(frozen=True)
class ClinicAnalytics:
    today: dt.date
    adherence_window_days: int
    on_track_threshold: float
    alert_below: float
    active_patients: int
    adherence_recent: list[float]  # one ratio per active patient with sessions planned
    pain_change_by_protocol: dict[str, list[float]]  # NPRS points: 7-day mean now − baseline
    alert_weeks: list[AlertWeek]
    open_alerts: int


def clinic_analytics(
    clinic: Clinic, *, weeks: int = 12, today: dt.date | None = None
) -> ClinicAnalytics:
    """Adherence distribution, pain change by protocol and alerts opened per week.

    A fixed number of queries whatever the size of the clinic: per-day pain comes from one
    GROUP BY over the clinic's sessions; baseline and rolling mean are computed in Python.
    Pain change counts one value per program (any status) with a week of pain history.
    """
    zone = zoneinfo.ZoneInfo(clinic.timezone)
    today = today or timezone.now().astimezone(zone).date()

    newest_active: dict[int, Prescription] = {}
    for prescription in (
        Prescription.objects.filter(
            patient__clinic=clinic,
            patient__status=Patient.Status.ACTIVE,
            status=Prescription.Status.ACTIVE,
        )
        .select_related("patient")
        .order_by("patient_id", "-start_date", "-id")
    ):
        newest_active.setdefault(prescription.patient_id, prescription)
    programs = list(newest_active.values())
    windows = recent_adherence(
        programs,
        days=clinic.adherence_window_days,
        today_by_prescription={p.pk: p.patient.local_date() for p in programs},
    )
    ratios = sorted(w.ratio for w in windows.values() if w.ratio is not None)

    prescriptions = {
        p.pk: p
        for p in Prescription.objects.filter(patient__clinic=clinic).select_related("protocol")
    }
    pain_days: dict[int, list[tuple[dt.date, float, int]]] = defaultdict(list)
    for prescription_id, day, value, sessions in (
        SessionLog.objects.filter(patient__clinic=clinic)
        .exclude(pain_before__isnull=True, pain_after__isnull=True)
        .values_list("prescription_id", "local_date")
        .annotate(value=Avg(session_pain_value()), sessions=Count("id"))
        .order_by("prescription_id", "local_date")
    ):
        pain_days[prescription_id].append((day, float(value), sessions))
    pain_changes: dict[str, list[float]] = defaultdict(list)
    for prescription_id, days in pain_days.items():
        prescription = prescriptions[prescription_id]
        change = pain_change_from_baseline(prescription.start_date, days)
        if change is not None:
            label = prescription.protocol.name if prescription.protocol else "Custom programs"
            pain_changes[label].append(change)

    first_monday = today - dt.timedelta(days=today.weekday(), weeks=weeks - 1)
    since = dt.datetime.combine(first_monday, dt.time.min, tzinfo=zone)
    counts: dict[dt.date, dict[str, int]] = defaultdict(dict)
    for week, kind, opened in (
        Alert.objects.filter(clinic=clinic, opened_at__gte=since)
        .annotate(week=TruncWeek("opened_at", tzinfo=zone))
        .values_list("week", "kind")
        .annotate(opened=Count("id"))
        .order_by()
    ):
        counts[week.date() if isinstance(week, dt.datetime) else week][kind] = opened

    return ClinicAnalytics(
        today=today,
        adherence_window_days=clinic.adherence_window_days,
        on_track_threshold=float(clinic.adherence_on_track),
        alert_below=float(clinic.adherence_alert_below),
        active_patients=Patient.objects.filter(clinic=clinic, status=Patient.Status.ACTIVE).count(),
        adherence_recent=ratios,
        pain_change_by_protocol=dict(sorted(pain_changes.items())),
        alert_weeks=[
            AlertWeek(week_start=monday, by_kind=counts.get(monday, {}))
            for monday in (first_monday + dt.timedelta(weeks=i) for i in range(weeks))
        ],
        open_alerts=Alert.objects.filter(clinic=clinic, acknowledged_at__isnull=True).count(),
    )
