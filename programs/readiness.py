"""Phase readiness: each progression criterion of the current phase, met or not, with the value.

Advancing stays the therapist's decision; this only shows why a patient is or is not ready.
"""

import datetime as dt
from dataclasses import dataclass, field

from patients import instruments
from patients.selectors import latest_measure

from .adherence import Schedule, adherence_between, window_from_days
from .models import Prescription, SessionLog
from .pain import session_pain_value


@dataclass(frozen=True)
class Criterion:
    key: str
    label: str
    met: bool
    measured: float | str | None
    required: float | str


@dataclass(frozen=True)
class PhaseReadiness:
    phase_id: int
    phase_name: str
    next_phase_name: str | None
    weeks_in_phase: float
    criteria: list[Criterion] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return all(criterion.met for criterion in self.criteria)


def phase_readiness(
    prescription: Prescription,
    *,
    today: dt.date | None = None,
    schedule: Schedule | None = None,
    done_by_day: dict[dt.date, int] | None = None,
) -> PhaseReadiness | None:
    """Evaluate the current phase's criteria; None for a custom program or a closed one.

    `schedule` and `done_by_day` (`program_sessions_by_day`, as for the program's adherence)
    save re-reading them for the adherence criterion.
    """
    phase = prescription.current_phase
    if phase is None or prescription.status == Prescription.Status.COMPLETED:
        return None
    patient = prescription.patient
    today = today or patient.local_date()
    weeks_in_phase = round((today - prescription.phase_started_on).days / 7, 1)
    next_phase = (
        prescription.protocol.phases.filter(order__gt=phase.order).order_by("order").first()
        if prescription.protocol_id
        else None
    )
    criteria = [
        Criterion(
            key="min_weeks",
            label=f"At least {phase.min_weeks} weeks in this phase",
            met=weeks_in_phase >= phase.min_weeks,
            measured=weeks_in_phase,
            required=phase.min_weeks,
        )
    ]
    if phase.max_pain is not None:
        lookback = phase.pain_lookback_sessions
        recent = list(
            SessionLog.objects.filter(
                prescription=prescription, local_date__gte=prescription.phase_started_on
            )
            .exclude(pain_before__isnull=True, pain_after__isnull=True)
            .annotate(pain=session_pain_value())
            .order_by("-performed_at")
            .values_list("pain", flat=True)[:lookback]
        )
        worst = max(recent) if recent else None
        criteria.append(
            Criterion(
                key="max_pain",
                label=f"Pain at or below {phase.max_pain}/10 over the last {lookback} sessions",
                met=len(recent) == lookback and worst is not None and worst <= phase.max_pain,
                measured=worst
                if len(recent) == lookback
                else f"{len(recent)} of {lookback} sessions",
                required=phase.max_pain,
            )
        )
    if phase.min_adherence is not None:
        start, end = prescription.phase_started_on, today + dt.timedelta(days=1)
        if schedule is not None and done_by_day is not None:
            window = window_from_days(schedule, done_by_day, start, end, today)
        else:
            window = adherence_between(prescription, start, end, today=today)
        ratio = window.ratio
        criteria.append(
            Criterion(
                key="min_adherence",
                label=f"Adherence in this phase at least {float(phase.min_adherence):.0%}",
                met=ratio is not None and ratio >= float(phase.min_adherence),
                measured=None if ratio is None else round(ratio, 3),
                required=float(phase.min_adherence),
            )
        )
    if phase.outcome_instrument and phase.outcome_min_score is not None:
        definition = instruments.get_instrument(phase.outcome_instrument)
        response = latest_measure(patient, phase.outcome_instrument)
        score = None if response is None else float(response.score)
        required = float(phase.outcome_min_score)
        comparison = "at least" if definition.higher_is_better else "at most"
        criteria.append(
            Criterion(
                key="outcome_score",
                label=f"{definition.name} score {comparison} {required:g}",
                met=score is not None
                and (score >= required if definition.higher_is_better else score <= required),
                measured=score,
                required=required,
            )
        )
    return PhaseReadiness(
        phase_id=phase.pk,
        phase_name=phase.name,
        next_phase_name=next_phase.name if next_phase else None,
        weeks_in_phase=weeks_in_phase,
        criteria=criteria,
    )
