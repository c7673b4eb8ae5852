"""The patient page and its printable report: progress charts, program, sessions, alerts."""

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from patients.models import Patient
from patients.precautions import PRECAUTION_LABELS
from programs.models import Exercise, PrescribedExercise, Prescription
from programs.readiness import Criterion
from programs.selectors import PatientProgress, patient_progress, patient_sessions
from programs.services import precaution_conflicts, precautions_in_force

from .. import charts
from ..access import StaffRequest, clinic_patient, practitioner_required
from ..forms import (
    AcknowledgeForm,
    AddExerciseForm,
    AdvancePhaseForm,
    DosageForm,
    OnDateForm,
    ReminderForm,
)
from .common import page_links

SESSIONS_PER_PAGE = 15
WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True)
class ExerciseRow:
    item: PrescribedExercise
    form: DosageForm
    conflicts: list[str]  # precaution labels this exercise breaks today


@dataclass(frozen=True)
class LibraryOption:
    exercise: Exercise
    conflicts: list[str]


def precaution_labels(tags: list[str] | set[str]) -> list[str]:
    return [PRECAUTION_LABELS.get(tag, tag) for tag in sorted(tags)]


def weekdays_text(mask: int) -> str:
    days = [name for bit, name in enumerate(WEEKDAY_NAMES) if mask & (1 << bit)]
    if len(days) == 7:
        return "every day"
    if days == list(WEEKDAY_NAMES[:5]):
        return "Mon–Fri"
    return ", ".join(days) or "no days"


def age_on(born: dt.date | None, today: dt.date) -> int | None:
    if born is None:
        return None
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def criterion_text(criterion: Criterion) -> tuple[str, str]:
    """(measured, required) as a therapist reads them."""
    measured, required = criterion.measured, criterion.required
    if criterion.key == "min_adherence":
        shown = "no sessions planned" if measured is None else charts.common.percent(measured)
        return shown, charts.common.percent(float(required))
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


def patient_context(
    request: StaffRequest, patient: Patient, *, bound: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Everything the patient page shows; `bound` replaces blank forms with submitted ones."""
    bound = bound or {}
    progress = patient_progress(patient)
    prescription = progress.prescription
    phase = prescription.current_phase if prescription else None
    in_force = precautions_in_force(patient, phase)
    today = progress.today
    readiness = progress.readiness

    items: list[PrescribedExercise] = []
    phases = None
    if prescription is not None:
        items = list(
            prescription.exercises.filter(active=True)
            .select_related("exercise")
            .order_by("order", "id")
        )
        if prescription.protocol_id:
            phases = prescription.protocol.phases.exclude(pk=prescription.current_phase_id)
    item_conflicts = precaution_conflicts([item.exercise for item in items], in_force)
    exercise_rows = [
        ExerciseRow(
            item=item,
            form=bound.get(f"dosage-{item.pk}")
            or DosageForm(
                initial={
                    "sets": item.sets,
                    "reps": item.reps,
                    "hold_seconds": item.hold_seconds,
                    "notes": item.notes,
                },
                prefix=f"dosage-{item.pk}",
            ),
            conflicts=precaution_labels(item_conflicts.get(item.exercise.slug, [])),
        )
        for item in items
    ]
    in_program = {item.exercise_id for item in items}
    library = [e for e in Exercise.objects.filter(is_active=True) if e.pk not in in_program]
    library_conflicts = precaution_conflicts(library, in_force)

    add_exercise_form = bound.get("add_exercise") or AddExerciseForm(
        exercises=Exercise.objects.filter(pk__in=[e.pk for e in library])
    )
    warnings = {slug: precaution_labels(tags) for slug, tags in library_conflicts.items()}
    add_exercise_form.fields["exercise"].label_from_instance = lambda exercise: (
        f"⚠ {exercise.name} — conflicts: {'; '.join(warnings[exercise.slug])}"
        if exercise.slug in warnings
        else exercise.name
    )

    advance_form = bound.get("advance") or AdvancePhaseForm(phases=phases)
    if readiness is None or not readiness.next_phase_name:
        to_phase = advance_form.fields["to_phase"]
        to_phase.empty_label = "Choose a phase…"
        to_phase.widget.choices = to_phase.choices

    sessions = Paginator(
        patient_sessions(patient)
        .select_related("phase")
        .annotate(
            entries_total=Count("entries"),
            entries_done=Count("entries", filter=Q(entries__completed=True)),
        )
        .order_by("-performed_at", "-id"),
        SESSIONS_PER_PAGE,
    )
    return {
        "patient": patient,
        "progress": progress,
        "prescription": prescription,
        "today": today,
        "age": age_on(patient.date_of_birth, today),
        "weeks_in_program": (today - prescription.start_date).days // 7 + 1
        if prescription
        else None,
        "weeks_in_phase": (today - prescription.phase_started_on).days // 7 + 1
        if prescription
        else None,
        "precautions": precaution_labels(in_force),
        "reminder_days": weekdays_text(patient.reminder_weekdays),
        "charts": progress_charts(progress),
        "criteria": [(c, *criterion_text(c)) for c in readiness.criteria] if readiness else [],
        "exercise_rows": exercise_rows,
        "library_options": [
            LibraryOption(e, precaution_labels(library_conflicts.get(e.slug, []))) for e in library
        ],
        "other_programs": list(
            patient.prescriptions.exclude(pk=prescription.pk if prescription else None)
            .select_related("current_phase")
            .order_by("-start_date")
        ),
        "sessions": page_links(
            request, sessions.get_page(request.GET.get("sessions")), "sessions", "sessions"
        ),
        "acknowledge_form": AcknowledgeForm(),
        "advance_form": advance_form,
        "on_date_form": OnDateForm(),
        "add_exercise_form": add_exercise_form,
        "reminder_form": bound.get("reminders")
        or ReminderForm(initial=ReminderForm.initial_for(patient)),
        "program_open": prescription is not None
        and prescription.status != Prescription.Status.COMPLETED,
    }


@require_GET
@practitioner_required
def patient_detail(request: StaffRequest, patient_id: int) -> HttpResponse:
    patient = clinic_patient(request, patient_id)
    return render(request, "dashboard/patient.html", patient_context(request, patient))


def render_patient_page(request: StaffRequest, patient: Patient, **bound: Any) -> HttpResponse:
    """The patient page again, with a submitted form and its errors (a failed action)."""
    return render(request, "dashboard/patient.html", patient_context(request, patient, bound=bound))


@require_GET
@practitioner_required
def patient_report(request: StaffRequest, patient_id: int) -> HttpResponse:
    patient = clinic_patient(request, patient_id)
    progress = patient_progress(patient)
    prescription = progress.prescription
    since = progress.today - dt.timedelta(days=27)
    readiness = progress.readiness
    return render(
        request,
        "dashboard/report.html",
        {
            "patient": patient,
            "progress": progress,
            "prescription": prescription,
            "today": progress.today,
            "age": age_on(patient.date_of_birth, progress.today),
            "precautions": precaution_labels(
                precautions_in_force(patient, prescription.current_phase if prescription else None)
            ),
            "charts": progress_charts(progress),
            "criteria": [(c, *criterion_text(c)) for c in readiness.criteria] if readiness else [],
            "exercises": list(
                prescription.exercises.filter(active=True)
                .select_related("exercise")
                .order_by("order", "id")
            )
            if prescription
            else [],
            "recent_sessions": list(
                patient_sessions(patient)
                .filter(local_date__gte=since)
                .select_related("phase")
                .order_by("-performed_at")
            ),
            "since": since,
        },
    )
