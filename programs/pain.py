"""Pain trend of a program: daily values, 7-day rolling mean, baseline and its MCID.

A session's pain is the pain after exercise when given, else the pain before. The baseline is
the mean over the program's first 7 days; the change that matters (NPRS MCID) is 2 points or
30% of the baseline, whichever is smaller.
"""

import dataclasses
import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Avg, Case, Count, F, When

from patients import instruments

from .models import Prescription, SessionLog

BASELINE_DAYS = 7
ROLLING_DAYS = 7
TREND_DAYS = 14
TREND_STEP = 1.0  # points between the two halves of the trend window that count as a change

DailyPain = tuple[dt.date, float, int]  # local date, mean session pain, sessions that day


def session_pain_value() -> Case:
    """Pain that represents a session: after exercise if given, else before."""
    return Case(When(pain_after__isnull=False, then=F("pain_after")), default=F("pain_before"))


def pain_baseline(
    prescription: Prescription, *, exclude_session_id: int | None = None
) -> float | None:
    """Mean session pain over the first week of the program, in SQL (None without data)."""
    sessions = SessionLog.objects.filter(
        prescription=prescription,
        local_date__lt=prescription.start_date + dt.timedelta(days=BASELINE_DAYS),
    )
    if exclude_session_id is not None:
        sessions = sessions.exclude(pk=exclude_session_id)
    value = sessions.aggregate(baseline=Avg(session_pain_value()))["baseline"]
    return float(value) if value is not None else None


def first_week_baseline(start_date: dt.date, days: list[DailyPain]) -> float | None:
    """The session-weighted mean pain of the program's first 7 days (daily series)."""
    first_week = [(v, n) for d, v, n in days if (d - start_date).days < BASELINE_DAYS]
    if not first_week:
        return None
    return sum(v * n for v, n in first_week) / sum(n for _, n in first_week)


def has_a_week_of_history(start_date: dt.date, days: list[DailyPain]) -> bool:
    return bool(days) and (days[-1][0] - start_date).days >= BASELINE_DAYS


def pain_change_from_baseline(start_date: dt.date, days: list[DailyPain]) -> float | None:
    """Current 7-day mean minus the first-week baseline, as `pain_trend` computes them.

    None until the program has pain data in its first week and at least a week of history.
    """
    baseline = first_week_baseline(start_date, days)
    if baseline is None or not has_a_week_of_history(start_date, days):
        return None
    # Days are distinct and sorted: the last ROLLING_DAYS entries hold the last window.
    current = rolling_means(days[-ROLLING_DAYS:], ROLLING_DAYS)[-1]
    return round(current - baseline, 2)


@dataclass(frozen=True)
class PainDay:
    day: dt.date
    before: float | None
    after: float | None
    value: float
    sessions: int
    rolling_mean: float


@dataclass(frozen=True)
class PainTrend:
    days: list[PainDay] = field(default_factory=list)
    baseline: float | None = None
    latest: float | None = None
    current: float | None = None  # the 7-day rolling mean on the last day with data
    change_from_baseline: float | None = None
    mcid_threshold: float | None = None
    mcid_improved: bool = False
    mcid_worsened: bool = False
    direction: str | None = None  # improving, worsening, stable; None without enough data


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 2)


def rolling_means(days: list[DailyPain], window: int) -> list[float]:
    """Session-weighted mean over the calendar days [day - window + 1, day]."""
    means = []
    for index, (day, _, _) in enumerate(days):
        total = count = 0.0
        for other_day, value, sessions in reversed(days[: index + 1]):
            if (day - other_day).days >= window:
                break
            total += value * sessions
            count += sessions
        means.append(total / count)
    return means


def trend_direction(days: list[DailyPain], today: dt.date) -> str | None:
    """Compare the mean of the last 7 days with the 7 before; lower pain is improving."""
    recent = [v for d, v, _ in days if 0 <= (today - d).days < TREND_DAYS // 2]
    earlier = [v for d, v, _ in days if TREND_DAYS // 2 <= (today - d).days < TREND_DAYS]
    if not recent or not earlier:
        return None
    step = sum(recent) / len(recent) - sum(earlier) / len(earlier)
    if step <= -TREND_STEP:
        return "improving"
    if step >= TREND_STEP:
        return "worsening"
    return "stable"


def pain_trend(prescription: Prescription, *, today: dt.date | None = None) -> PainTrend:
    """The pain trend of one program from one GROUP BY query."""
    today = today or prescription.patient.local_date()
    rows = list(
        SessionLog.objects.filter(prescription=prescription)
        .exclude(pain_before__isnull=True, pain_after__isnull=True)
        .values("local_date")
        .annotate(
            before=Avg("pain_before"),
            after=Avg("pain_after"),
            value=Avg(session_pain_value()),
            sessions=Count("id"),
        )
        .order_by("local_date")
    )
    if not rows:
        return PainTrend()
    series = [(row["local_date"], float(row["value"]), row["sessions"]) for row in rows]
    means = rolling_means(series, ROLLING_DAYS)
    days = [
        PainDay(
            day=row["local_date"],
            before=_round(row["before"]),
            after=_round(row["after"]),
            value=round(float(row["value"]), 2),
            sessions=row["sessions"],
            rolling_mean=round(mean, 2),
        )
        for row, mean in zip(rows, means, strict=True)
    ]
    baseline = first_week_baseline(prescription.start_date, series)
    current = means[-1]
    trend = PainTrend(
        days=days,
        baseline=_round(baseline),
        latest=days[-1].value,
        current=round(current, 2),
        direction=trend_direction(series, today),
    )
    if baseline is None or not has_a_week_of_history(prescription.start_date, series):
        return trend
    change = instruments.score_change("nprs", round(baseline, 2), round(current, 2))
    return dataclasses.replace(
        trend,
        change_from_baseline=round(current - baseline, 2),
        mcid_threshold=change.threshold,
        mcid_improved=change.meaningful and change.improved,
        mcid_worsened=change.meaningful and not change.improved,
    )
