"""The patient page's computed parts, cached per patient under a version of the data.

Adherence, the pain trend, readiness and the three charts (with their data tables) cost most
of the page: a dozen queries over a year of sessions and ~50 ms of Python. They change only
when the patient's data does, so `page_progress` keeps them in Django's cache (Redis when
configured) under a key derived from the data itself, never from a write having remembered to
invalidate it:

- read fresh on every view (small rows the page shows anyway): the patient (time zone), the
  clinic's adherence settings, the open or last program (status, dates, phase, sessions per
  week, `updated_at`), its current phase's progression criteria, the protocol's phases
  (names, order) and every alert of the patient (kind, message, when opened: the pain chart
  marks them; acknowledging one changes only the alerts list, which is not cached);
- one aggregate query over the rows that grow (`data_version`): sessions (count, newest id,
  and a checksum of the pain scores so an edit in the admin shows at once), outcome measures
  (count, newest id, checksum of the scores), prescribed exercises (count, newest id,
  removals) and program periods (count, newest id, closed ones);
- the patient's local date (a new day moves "today" in adherence and readiness);
- a fingerprint of the code that computes and draws them (a deploy never serves old shapes).

What the version cannot see is an admin edit of a past row's timestamps or of an exercise
entry's completion (entries are otherwise only written with their session): `CACHE_SECONDS`
bounds that. It also bounds how long an erased patient's charts stay in the cache (no key
reaches them once the data changed). A cache that is down costs the computation, not the page.
"""

import dataclasses
import datetime as dt
import hashlib
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import NamedTuple

from django.core.cache import cache as django_cache
from django.db import connection
from django.template.loader import get_template, render_to_string
from django.utils.safestring import SafeString, mark_safe

from patients import instruments
from patients import selectors as patient_selectors
from patients.models import MeasureResponse, Patient
from programs import adherence as adherence_module
from programs import pain as pain_module
from programs import readiness as readiness_module
from programs import selectors as program_selectors
from programs.adherence import PrescriptionAdherence
from programs.models import (
    Alert,
    PrescribedExercise,
    Prescription,
    PrescriptionPeriod,
    ProtocolPhase,
    SessionLog,
)
from programs.pain import PainTrend
from programs.readiness import Criterion, PhaseReadiness
from programs.selectors import PatientProgress, patient_progress

from . import charts
from .charts import common as charts_common
from .charts import outcomes as charts_outcomes
from .charts import patient as charts_patient

CACHE_SECONDS = 10 * 60
CHART_CARDS_TEMPLATE = "dashboard/_chart_cards.html"

logger = logging.getLogger("stride.dashboard")


@dataclass(frozen=True)
class PageProgress:
    """What the patient page shows of `patient_progress`, ready to render.

    `adherence` and `pain` keep their summary numbers only: the day-by-day series are in the
    charts (`charts_html`, the figures and their data tables, rendered).
    """

    today: dt.date
    adherence: PrescriptionAdherence | None
    pain: PainTrend
    has_pain_days: bool
    readiness: PhaseReadiness | None
    criteria: list[tuple[Criterion, str, str]]  # criterion, measured, required (as text)
    charts_html: SafeString


def criterion_text(criterion: Criterion) -> tuple[str, str]:
    """(measured, required) as a therapist reads them."""
    measured, required = criterion.measured, criterion.required
    if criterion.key == "min_adherence":
        shown = "no sessions planned" if measured is None else charts_common.percent(measured)
        return shown, charts_common.percent(float(required))
    if criterion.key == "min_weeks":
        return f"{measured:g} weeks", f"{required:g} weeks"
    if criterion.key == "max_pain" and isinstance(measured, int | float):
        return f"{measured:g}/10", f"≤ {required:g}/10"
    if measured is None:
        return "not measured yet", f"{required:.1f}"
    if isinstance(measured, int | float):
        return f"{measured:.1f}", f"{required:.1f}"
    return str(measured), str(required)


def progress_charts(progress: PatientProgress) -> list[charts.Chart]:
    zone = progress.patient.tzinfo
    built = [
        charts.Chart(
            "chart-pain",
            charts.pain_trend_figure(
                progress.pain,
                phase_changes=progress.phase_changes,
                alerts=progress.alerts,
                zone=zone,
            ),
            charts.pain_trend_table(progress.pain),
        )
    ]
    if progress.adherence is not None:
        built.append(
            charts.Chart(
                "chart-adherence",
                charts.adherence_figure(progress.adherence),
                charts.adherence_table(progress.adherence),
            )
        )
    built.append(
        charts.Chart(
            "chart-outcomes",
            charts.outcome_scores_figure(progress.measures, zone=zone),
            charts.outcome_scores_table(progress.measures, zone=zone),
        )
    )
    return built


def page_progress_from(progress: PatientProgress) -> PageProgress:
    readiness = progress.readiness
    adherence = progress.adherence
    return PageProgress(
        today=progress.today,
        adherence=dataclasses.replace(adherence, phases=[], weeks=[], days=[])
        if adherence
        else None,
        pain=dataclasses.replace(progress.pain, days=[]),
        has_pain_days=bool(progress.pain.days),
        readiness=readiness,
        criteria=[(c, *criterion_text(c)) for c in readiness.criteria] if readiness else [],
        charts_html=mark_safe(  # noqa: S308 (rendered by our own template, autoescaped)
            render_to_string(CHART_CARDS_TEMPLATE, {"charts": progress_charts(progress)})
        ),
    )


# --- the version ------------------------------------------------------------------------------


def _version_sql() -> str:
    sessions = SessionLog._meta.db_table
    measures = MeasureResponse._meta.db_table
    prescriptions = Prescription._meta.db_table
    exercises = PrescribedExercise._meta.db_table
    periods = PrescriptionPeriod._meta.db_table
    # One row per table, in a fixed order; the third column changes when a row is edited or
    # removed. Pain codes are 0–143 per session (11 stands for "not given").
    return f"""
        SELECT 1, COUNT(*), MAX(id),
               SUM(id * (COALESCE(pain_before, 11) * 12 + COALESCE(pain_after, 11)))
          FROM {sessions} WHERE patient_id = %(patient)s
        UNION ALL
        SELECT 2, COUNT(*), MAX(id), SUM(id * score)
          FROM {measures} WHERE patient_id = %(patient)s
        UNION ALL
        SELECT 3, COUNT(*), MAX(x.id), COUNT(x.removed_at)
          FROM {exercises} x JOIN {prescriptions} p ON p.id = x.prescription_id
         WHERE p.patient_id = %(patient)s
        UNION ALL
        SELECT 4, COUNT(*), MAX(r.id), COUNT(r.ended_on)
          FROM {periods} r JOIN {prescriptions} p ON p.id = r.prescription_id
         WHERE p.patient_id = %(patient)s
        ORDER BY 1
    """  # noqa: S608 (table names from our models; the only parameter is bound)


class DataVersion(NamedTuple):
    """(count, newest id, checksum) of each kind of the patient's growing rows."""

    sessions: tuple[int, int | None, str]
    measures: tuple[int, int | None, str]
    prescribed_exercises: tuple[int, int | None, str]
    periods: tuple[int, int | None, str]

    @property
    def session_count(self) -> int:
        return self.sessions[0]


def data_version(patient: Patient) -> DataVersion:
    """Counts, newest ids and checksums of the patient's growing rows, in one query."""
    with connection.cursor() as cursor:
        cursor.execute(_version_sql(), {"patient": patient.pk})
        # Checksums as text: Decimal and float sums compare the same in every process.
        return DataVersion(*((count, last, str(checksum)) for _, count, last, checksum in cursor))


@cache
def code_fingerprint() -> str:
    """A digest of the code and template that compute and draw the cached parts."""
    digest = hashlib.blake2b(digest_size=8)
    modules = (
        adherence_module,
        pain_module,
        readiness_module,
        program_selectors,
        patient_selectors,
        instruments,
        charts_common,
        charts_patient,
        charts_outcomes,
        sys.modules[__name__],
    )
    for module in modules:
        digest.update(Path(module.__file__ or "").read_bytes())
    for name in (CHART_CARDS_TEMPLATE, "dashboard/_chart.html"):
        digest.update(Path(get_template(name).origin.name).read_bytes())
    return digest.hexdigest()


def cache_key(
    patient: Patient,
    *,
    today: dt.date,
    prescription: Prescription | None,
    phases: Sequence[ProtocolPhase],
    alerts: Sequence[Alert],
    version: DataVersion,
) -> str:
    clinic = patient.clinic
    program = None
    if prescription is not None:
        phase = prescription.current_phase
        program = (
            prescription.pk,
            prescription.status,
            prescription.start_date,
            prescription.completed_on,
            prescription.sessions_per_week,
            prescription.phase_started_on,
            prescription.protocol_id,
            prescription.updated_at,
            phase
            and (
                phase.pk,
                phase.min_weeks,
                phase.max_pain,
                phase.pain_lookback_sessions,
                phase.min_adherence,
                phase.outcome_instrument,
                phase.outcome_min_score,
            ),
        )
    facts = (
        code_fingerprint(),
        today,
        patient.timezone,
        clinic.adherence_on_track,
        clinic.adherence_window_days,
        program,
        [(phase.pk, phase.order, phase.name) for phase in phases],
        [(alert.pk, alert.kind, alert.message, alert.opened_at) for alert in alerts],
        version,
    )
    digest = hashlib.blake2b(repr(facts).encode(), digest_size=16).hexdigest()
    return f"dashboard:patient-progress:{patient.pk}:{digest}"


def page_progress(
    patient: Patient,
    *,
    today: dt.date,
    prescription: Prescription | None,
    phases: Sequence[ProtocolPhase],
    alerts: Sequence[Alert],
    version: DataVersion,
) -> PageProgress:
    """The page's progress parts from the cache, or computed (and cached) on a change.

    `prescription`, `phases` (the program's protocol phases, in order), `alerts` and `version`
    (`data_version`) are the caller's fresh reads: they make the key. Read them before this
    runs: what it computes is then at least as new as the key it is stored under.
    """
    key = cache_key(
        patient,
        today=today,
        prescription=prescription,
        phases=phases,
        alerts=alerts,
        version=version,
    )
    try:
        cached = django_cache.get(key)
    except Exception:  # the cache only saves work: without it, compute (Redis down)
        logger.warning("Patient page cache unavailable; computing", exc_info=True)
        cached = None
    if cached is not None:
        return cached
    computed = page_progress_from(patient_progress(patient, today=today))
    try:
        django_cache.set(key, computed, CACHE_SECONDS)
    except Exception:
        logger.warning("Patient page cache unavailable; not stored", exc_info=True)
    return computed
