"""Adherence: sessions done ÷ sessions planned, on the patient's local dates.

Planned sessions come from the prescription's history (`PrescriptionPeriod`): each day of an
open phase period plans `sessions_per_week / 7` sessions, paused days plan none, days before the
start or after completion plan none. Done sessions are counted per local date in SQL (one
GROUP BY) and only on planned days. A window's ratio is capped at 1: extra sessions on one day
do not make up for missed days elsewhere beyond the plan.

Today counts only once a session is logged today, so a morning view does not show a patient as
behind for a day that is not over.
"""

import datetime as dt
import itertools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, F, Max, Q

from .models import ExerciseLog, Prescription, PrescriptionPeriod, SessionLog

ONE_DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class AdherenceWindow:
    start: dt.date
    end: dt.date  # exclusive
    sessions_planned: float
    sessions_done: int

    @property
    def ratio(self) -> float | None:
        if self.sessions_planned <= 0:
            return None
        return min(1.0, self.sessions_done / self.sessions_planned)


@dataclass(frozen=True)
class WeekAdherence(AdherenceWindow):
    iso_week: str = ""
    complete: bool = True
    on_track: bool | None = None


@dataclass(frozen=True)
class DayPlan:
    day: dt.date
    planned: float
    done: int


@dataclass(frozen=True)
class PhaseAdherence:
    phase_id: int | None
    phase_name: str
    window: AdherenceWindow


@dataclass(frozen=True)
class PrescriptionAdherence:
    prescription_id: int
    today: dt.date
    on_track_threshold: float
    overall: AdherenceWindow
    recent: AdherenceWindow
    current_phase: AdherenceWindow | None
    phases: list[PhaseAdherence] = field(default_factory=list)
    weeks: list[WeekAdherence] = field(default_factory=list)
    days: list[DayPlan] = field(default_factory=list)
    current_streak_weeks: int = 0
    longest_streak_weeks: int = 0
    exercise_completion: float | None = None

    @property
    def on_track(self) -> bool | None:
        ratio = self.recent.ratio
        return None if ratio is None else ratio >= self.on_track_threshold


@dataclass(frozen=True)
class Schedule:
    """What a prescription plans each day, from its periods (no database access)."""

    start_date: dt.date
    completed_on: dt.date | None
    phases: Sequence[tuple[dt.date, dt.date | None, float, int | None]]  # start, end, spw, id
    pauses: Sequence[tuple[dt.date, dt.date | None]]

    @classmethod
    def from_periods(
        cls, prescription: Prescription, periods: Iterable[PrescriptionPeriod]
    ) -> "Schedule":
        return cls.from_rows(
            start_date=prescription.start_date,
            completed_on=prescription.completed_on,
            sessions_per_week=prescription.sessions_per_week,
            periods=[
                (p.kind, p.started_on, p.ended_on, p.sessions_per_week, p.phase_id) for p in periods
            ],
        )

    @classmethod
    def from_rows(
        cls,
        *,
        start_date: dt.date,
        completed_on: dt.date | None,
        sessions_per_week: int,
        periods: Iterable[Sequence[Any]],
    ) -> "Schedule":
        """From period values: (kind, started_on, ended_on, sessions_per_week, phase_id)."""
        phases, pauses = [], []
        for kind, started_on, ended_on, period_per_week, phase_id in periods:
            if kind == PrescriptionPeriod.Kind.PAUSE:
                pauses.append((started_on, ended_on))
            else:
                per_week = period_per_week or sessions_per_week
                phases.append((started_on, ended_on, per_week, phase_id))
        return cls(start_date, completed_on, phases, pauses)

    def planned_on(self, day: dt.date) -> float:
        if day < self.start_date or (self.completed_on and day >= self.completed_on):
            return 0.0
        for start, end in self.pauses:
            if start <= day and (end is None or day < end):
                return 0.0
        for start, end, per_week, _ in self.phases:
            if start <= day and (end is None or day < end):
                return per_week / 7
        return 0.0

    def boundaries(self) -> set[dt.date]:
        """Days on which what is planned may change (the plan is constant between them)."""
        days = {self.start_date}
        if self.completed_on:
            days.add(self.completed_on)
        for start, end in self.pauses:
            days.add(start)
            if end is not None:
                days.add(end)
        for start, end, _, _ in self.phases:
            days.add(start)
            if end is not None:
                days.add(end)
        return days

    def phase_on(self, day: dt.date) -> int | None:
        for start, end, _, phase_id in self.phases:
            if start <= day and (end is None or day < end):
                return phase_id
        return None


def _dates(start: dt.date, end: dt.date) -> Iterable[dt.date]:
    day = start
    while day < end:
        yield day
        day += ONE_DAY


def window_from_days(
    schedule: Schedule,
    done_by_day: dict[dt.date, int],
    start: dt.date,
    end: dt.date,
    today: dt.date,
) -> AdherenceWindow:
    """Planned and done over [start, end), counting today only once a session is logged.

    Planned sessions are summed per stretch of days with the same plan (between the
    schedule's boundaries), not day by day: a list page computes this for 50 patients per
    request, the patient page for every week of a program. Per-day plans are multiples of
    1/7, so the sum rounded to 4 places is the same whichever order it is added in.
    """
    stop = min(end, today + ONE_DAY)
    if start <= today < stop and not done_by_day.get(today):
        stop = today  # today is the window's last day, and nothing is logged yet
    days = (stop - start).days
    if days <= 0:
        return AdherenceWindow(start=start, end=end, sessions_planned=0.0, sessions_done=0)
    edges = sorted({start, stop, *(day for day in schedule.boundaries() if start < day < stop)})
    planned = 0.0
    planned_stretches = []  # [first, after) with sessions planned
    for first, after in itertools.pairwise(edges):
        per_day = schedule.planned_on(first)
        planned += per_day * (after - first).days
        if per_day > 0:
            planned_stretches.append((first, after))
    # Sessions count on planned days only; walk whichever is shorter, the days or the log.
    if len(done_by_day) < days:
        logged = [(day, n) for day, n in done_by_day.items() if start <= day < stop]
    else:
        logged = [(day, done_by_day[day]) for day in _dates(start, stop) if day in done_by_day]
    done = 0
    for day, n in logged:
        for first, after in planned_stretches:
            if first <= day < after:
                done += n
                break
    return AdherenceWindow(
        start=start, end=end, sessions_planned=round(planned, 4), sessions_done=done
    )


def sessions_by_day(
    prescription_ids: Sequence[int], start: dt.date, end: dt.date
) -> dict[int, dict[dt.date, int]]:
    """Sessions per (prescription, local date) in one GROUP BY query."""
    rows = (
        SessionLog.objects.filter(
            prescription_id__in=prescription_ids, local_date__gte=start, local_date__lt=end
        )
        .values_list("prescription_id", "local_date")
        .annotate(sessions=Count("id"))
        .order_by()
    )
    result: dict[int, dict[dt.date, int]] = defaultdict(dict)
    for prescription_id, day, sessions in rows:
        result[prescription_id][day] = sessions
    return result


def schedules_for(prescriptions: Sequence[Prescription]) -> dict[int, Schedule]:
    """Schedules of many prescriptions from one query over their periods."""
    periods: dict[int, list[PrescriptionPeriod]] = defaultdict(list)
    for period in PrescriptionPeriod.objects.filter(
        prescription__in=[p.pk for p in prescriptions]
    ).order_by("started_on", "id"):
        periods[period.prescription_id].append(period)
    return {p.pk: Schedule.from_periods(p, periods[p.pk]) for p in prescriptions}


def adherence_between(
    prescription: Prescription, start: dt.date, end: dt.date, *, today: dt.date | None = None
) -> AdherenceWindow:
    today = today or prescription.patient.local_date()
    schedule = schedules_for([prescription])[prescription.pk]
    done = sessions_by_day([prescription.pk], start, end).get(prescription.pk, {})
    return window_from_days(schedule, done, start, end, today)


def recent_adherence(
    prescriptions: Sequence[Prescription], *, days: int, today_by_prescription: dict[int, dt.date]
) -> dict[int, AdherenceWindow]:
    """Adherence over the last `days` days for many prescriptions in two queries."""
    if not prescriptions:
        return {}
    schedules = schedules_for(prescriptions)
    earliest = min(today_by_prescription.values()) - dt.timedelta(days=days - 1)
    latest = max(today_by_prescription.values()) + ONE_DAY
    done = sessions_by_day([p.pk for p in prescriptions], earliest, latest)
    windows = {}
    for prescription in prescriptions:
        today = today_by_prescription[prescription.pk]
        start = today - dt.timedelta(days=days - 1)
        windows[prescription.pk] = window_from_days(
            schedules[prescription.pk], done.get(prescription.pk, {}), start, today + ONE_DAY, today
        )
    return windows


def iso_weeks(
    schedule: Schedule,
    done_by_day: dict[dt.date, int],
    first: dt.date,
    last: dt.date,
    today: dt.date,
    on_track_threshold: float,
) -> list[WeekAdherence]:
    """ISO weeks (Monday to Sunday) from `first` to `last`; a week still running is incomplete."""
    weeks = []
    monday = first - dt.timedelta(days=first.weekday())
    while monday <= last:
        sunday_end = monday + dt.timedelta(days=7)
        window = window_from_days(schedule, done_by_day, monday, sunday_end, today)
        complete = sunday_end <= today
        ratio = window.ratio
        year, week, _ = monday.isocalendar()
        weeks.append(
            WeekAdherence(
                start=monday,
                end=sunday_end,
                sessions_planned=window.sessions_planned,
                sessions_done=window.sessions_done,
                iso_week=f"{year}-W{week:02d}",
                complete=complete,
                on_track=None if ratio is None else ratio >= on_track_threshold,
            )
        )
        monday = sunday_end
    return weeks


def streaks(weeks: Sequence[WeekAdherence]) -> tuple[int, int]:
    """(current, longest) runs of complete on-plan weeks; weeks with nothing planned are skipped.

    The current week extends the current streak once it is already on plan.
    """
    longest = run = 0
    for week in weeks:
        if week.on_track is None or not week.complete:
            continue
        run = run + 1 if week.on_track else 0
        longest = max(longest, run)
    current = run
    if weeks and not weeks[-1].complete and weeks[-1].on_track:
        current += 1
        longest = max(longest, current)
    return current, longest


def exercise_completion(prescription: Prescription, start: dt.date, end: dt.date) -> float | None:
    """Entries done ÷ entries prescribed over the sessions in [start, end), in two queries.

    An exercise counts as prescribed for a session when it was in the program at that moment.
    """
    sessions = SessionLog.objects.filter(
        prescription=prescription, local_date__gte=start, local_date__lt=end
    )
    in_program_then = Q(prescription__exercises__added_at__lte=F("performed_at")) & (
        Q(prescription__exercises__removed_at__isnull=True)
        | Q(prescription__exercises__removed_at__gt=F("performed_at"))
    )
    prescribed = sessions.aggregate(n=Count("prescription__exercises", filter=in_program_then))["n"]
    if not prescribed:
        return None
    done = ExerciseLog.objects.filter(session__in=sessions, completed=True).count()
    return min(1.0, done / prescribed)


def program_sessions_by_day(prescription: Prescription, *, today: dt.date) -> dict[dt.date, int]:
    """Sessions per local date from the program's start to today (or its completion)."""
    end = min(today, prescription.completed_on or today) + ONE_DAY
    return sessions_by_day([prescription.pk], prescription.start_date, end).get(prescription.pk, {})


def prescription_adherence(
    prescription: Prescription,
    *,
    today: dt.date | None = None,
    on_track_threshold: float | None = None,
    recent_days: int | None = None,
    phase_names: dict[int, str] | None = None,
    schedule: Schedule | None = None,
    done_by_day: dict[dt.date, int] | None = None,
) -> PrescriptionAdherence:
    """Everything about one program's adherence, from a handful of queries.

    `schedule` and `done_by_day` (`program_sessions_by_day`) save their queries when the
    caller has read them already.
    """
    clinic = prescription.patient.clinic
    today = today or prescription.patient.local_date()
    threshold = float(
        on_track_threshold if on_track_threshold is not None else clinic.adherence_on_track
    )
    recent_days = recent_days or clinic.adherence_window_days
    if schedule is None:
        schedule = schedules_for([prescription])[prescription.pk]
    end = min(today, prescription.completed_on or today) + ONE_DAY
    done = (
        done_by_day
        if done_by_day is not None
        else program_sessions_by_day(prescription, today=today)
    )

    overall = window_from_days(schedule, done, prescription.start_date, end, today)
    recent_start = max(prescription.start_date, today - dt.timedelta(days=recent_days - 1))
    recent = window_from_days(schedule, done, recent_start, today + ONE_DAY, today)

    phases = []
    current_phase = None
    for start, stop, _, phase_id in schedule.phases:
        window = window_from_days(schedule, done, start, stop or end, today)
        name = (phase_names or {}).get(phase_id or 0, "") or "Program"
        phases.append(PhaseAdherence(phase_id=phase_id, phase_name=name, window=window))
        if stop is None:
            current_phase = window

    weeks = iso_weeks(schedule, done, prescription.start_date, end - ONE_DAY, today, threshold)
    current_streak, longest_streak = streaks(weeks)
    days = [
        DayPlan(day=day, planned=schedule.planned_on(day), done=done.get(day, 0))
        for day in _dates(prescription.start_date, end)
    ]
    return PrescriptionAdherence(
        prescription_id=prescription.pk,
        today=today,
        on_track_threshold=threshold,
        overall=overall,
        recent=recent,
        current_phase=current_phase,
        phases=phases,
        weeks=weeks,
        days=days,
        current_streak_weeks=current_streak,
        longest_streak_weeks=longest_streak,
        exercise_completion=exercise_completion(prescription, prescription.start_date, end),
    )


def last_session_dates(patient_ids: Iterable[int]) -> dict[int, dt.date]:
    """Local date of each patient's latest session, in one query."""
    return dict(
        SessionLog.objects.filter(patient_id__in=list(patient_ids))
        .values_list("patient_id")
        .annotate(last=Max("local_date"))
        .order_by()
    )
