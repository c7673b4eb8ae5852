"""The patient page and its printable report: progress charts, program, sessions, alerts."""

import datetime as dt
import html
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_GET

from patients.models import Patient
from patients.precautions import PRECAUTION_LABELS
from programs.models import (
    Alert,
    Exercise,
    PrescribedExercise,
    Prescription,
    ProtocolPhase,
    SessionLog,
)
from programs.selectors import (
    SEVERITY_RANK,
    patient_programs,
    patient_progress,
    patient_sessions,
)
from programs.services import precaution_conflicts, precautions_in_force

from ..access import StaffRequest, clinic_patient, practitioner_required
from ..charts.common import day_label
from ..forms import (
    AddExerciseForm,
    AdvancePhaseForm,
    DosageForm,
    ReminderForm,
    blank_fields_html,
    fields_html,
    phase_label,
)
from ..progress_cache import criterion_text, data_version, page_progress, progress_charts
from .common import PageLinks, page_links

SESSIONS_PER_PAGE = 15
WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True)
class ExerciseRow:
    item: PrescribedExercise
    form_html: SafeString  # the dosage form's fields
    conflicts: list[str]  # precaution labels this exercise breaks today


# The page's forms are blank on almost every view: their markup is rendered once per distinct
# content (forms.blank_fields_html); a submitted form with errors is rendered as it stands.
DOSAGE_FIELDS = "dashboard/_dosage_fields.html"
ADVANCE_FIELDS = "dashboard/_advance_fields.html"
ADD_EXERCISE_FIELDS = "dashboard/_add_exercise_fields.html"
REMINDER_FIELDS = "dashboard/_reminder_fields.html"


def dosage_fields(item: PrescribedExercise, submitted: DosageForm | None) -> SafeString:
    if submitted is not None:
        return fields_html(DOSAGE_FIELDS, submitted)
    prefix = f"dosage-{item.pk}"
    initial = {
        "sets": item.sets,
        "reps": item.reps,
        "hold_seconds": item.hold_seconds,
        "notes": item.notes,
    }
    return blank_fields_html(
        DOSAGE_FIELDS,
        (prefix, *initial.values()),
        lambda: DosageForm(initial=initial, prefix=prefix),
    )


def advance_fields(
    phases: list[ProtocolPhase], prompt: str | None, submitted: AdvancePhaseForm | None
) -> SafeString:
    """The phase change form: `phases` to choose from, `prompt` as the empty choice's label
    (None: "The next phase")."""
    if submitted is not None:
        to_phase = submitted.fields["to_phase"]
        if prompt:
            to_phase.empty_label = prompt
        to_phase.widget.choices = to_phase.choices
        return fields_html(ADVANCE_FIELDS, submitted)
    options = tuple((phase.pk, phase_label(phase)) for phase in phases)

    def build() -> AdvancePhaseForm:
        form = AdvancePhaseForm()
        to_phase = form.fields["to_phase"]
        if prompt:
            to_phase.empty_label = prompt
        # The options from the phases just read, not from a query.
        to_phase.widget.choices = [("", to_phase.empty_label), *options]
        return form

    return blank_fields_html(ADVANCE_FIELDS, (prompt, options), build)


def add_exercise_fields(
    library: list[Exercise],
    label: Callable[[Exercise], str],
    submitted: AddExerciseForm | None,
) -> SafeString:
    """The add-an-exercise form: `library` to choose from, each option labelled by `label`."""
    if submitted is not None:
        submitted.fields["exercise"].label_from_instance = label
        return fields_html(ADD_EXERCISE_FIELDS, submitted)
    options = tuple((exercise.pk, label(exercise)) for exercise in library)

    def build() -> AddExerciseForm:
        form = AddExerciseForm(exercises=Exercise.objects.none())
        choose = form.fields["exercise"]
        # The options from the library just read, not from a query.
        choose.widget.choices = [("", choose.empty_label), *options]
        return form

    return blank_fields_html(ADD_EXERCISE_FIELDS, options, build)


def reminder_fields(patient: Patient, submitted: ReminderForm | None) -> SafeString:
    if submitted is not None:
        return fields_html(REMINDER_FIELDS, submitted)
    initial = ReminderForm.initial_for(patient)
    key = tuple(
        (name, tuple(value) if isinstance(value, list) else value)
        for name, value in initial.items()
    )
    return blank_fields_html(REMINDER_FIELDS, key, lambda: ReminderForm(initial=initial))


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


def patient_alerts(patient: Patient) -> tuple[list[Alert], list[Alert]]:
    """(every alert, newest first; the open ones, most urgent first) as `patient_progress`."""
    alerts = list(patient.alerts.select_related("acknowledged_by").order_by("-opened_at"))
    open_alerts = sorted(
        (alert for alert in alerts if alert.is_open),
        key=lambda alert: (SEVERITY_RANK[alert.severity], -alert.opened_at.timestamp()),
    )
    return alerts, open_alerts


# The session history is built in Python, not in the template: 15 rows and ~75 exercise entries
# a page at ~35 template calls a value. `html.escape` is what autoescaping applies to a str.
def entry_html(completed: bool, name: str, summary: str) -> str:
    state, mark = ("done", "✓") if completed else ("skipped", "✗")
    return (
        f'<li class="{state}"><span aria-label="{state}">{mark}</span> {html.escape(name)} '
        f'<small class="muted">{html.escape(summary)}</small></li>'
    )


def entry_summary(completed: bool, sets: int, reps: int, hold_seconds: int, reason: str) -> str:
    """What was done ("3 × 10, 30 s"), or why not ("skipped: too sore")."""
    if not completed:
        return f"skipped: {reason}" if reason else "skipped"
    return f"{sets} × {reps}" + (f", {hold_seconds} s" if hold_seconds else "")


def _number(value: int | None) -> str:
    return "–" if value is None else str(value)


@dataclass
class SessionRow:
    """One session of the history, with its exercise entries (`<li>` each) as they are read."""

    performed_at: dt.datetime
    local_date: dt.date
    phase_name: str | None
    pain_before: int | None
    pain_after: int | None
    difficulty: int | None
    duration_minutes: int | None
    notes: str
    entries: list[str] = field(default_factory=list)
    entries_done: int = 0

    def html(self) -> str:
        """The row's `<tr>`: the date in the page's time zone (the clinic's), values escaped."""
        if self.entries:
            entries = (
                f'<details class="entries"><summary>{self.entries_done} of {len(self.entries)} '
                f"done</summary><ul>{''.join(self.entries)}</ul></details>"
            )
        else:
            entries = '<span class="muted">none logged</span>'
        performed = timezone.localtime(self.performed_at).isoformat()
        return (
            f'<tr><td><time datetime="{performed}">{day_label(self.local_date)}</time></td>'
            f"<td>{html.escape(self.phase_name or '—')}</td>"
            f'<td class="num">{_number(self.pain_before)} → '
            f"<strong>{_number(self.pain_after)}</strong></td>"
            f'<td class="num">{_number(self.difficulty)}</td>'
            f'<td class="num">{_number(self.duration_minutes)}</td>'
            f"<td>{entries}</td>"
            f'<td class="notes">{html.escape(self.notes)}</td></tr>'
        )


def session_history(request: StaffRequest, patient: Patient, *, count: int) -> PageLinks:
    """One page of sessions, newest first, with their exercise entries: `<tr>` rows.

    One query: the page's session ids on the (patient, -performed_at, -id) index, and those
    sessions joined with their entries (no aggregate over the whole history, no model instances
    to build). `count` is the patient's number of sessions (`DataVersion.session_count`,
    already counted).
    """
    newest_first = ("-performed_at", "-id")
    paginator = Paginator(
        SessionLog.objects.filter(patient=patient).order_by(*newest_first).values("id"),
        SESSIONS_PER_PAGE,
    )
    paginator.count = count  # a cached property: no second COUNT(*)
    page = paginator.get_page(request.GET.get("sessions"))
    rows: dict[int, SessionRow] = {}
    for session_id, *session, entry_name, completed, sets, reps, hold_seconds, reason in (
        SessionLog.objects.filter(pk__in=page.object_list)
        .order_by(*newest_first, "entries__id")
        .values_list(
            "id",
            "performed_at",
            "local_date",
            "phase__name",
            "pain_before",
            "pain_after",
            "difficulty",
            "duration_minutes",
            "notes",
            "entries__prescribed_exercise__exercise__name",
            "entries__completed",
            "entries__sets_done",
            "entries__reps_done",
            "entries__hold_seconds_done",
            "entries__skipped_reason",
        )
    ):
        row = rows.get(session_id)
        if row is None:
            row = rows[session_id] = SessionRow(*session)
        if completed is None:  # a session without entries (the outer join's empty side)
            continue
        summary = entry_summary(completed, sets, reps, hold_seconds, reason)
        row.entries.append(entry_html(completed, entry_name, summary))
        row.entries_done += completed
    page.object_list = [
        mark_safe(row.html())  # noqa: S308 (every value escaped)
        for row in rows.values()
    ]
    return page_links(request, page, "sessions", "sessions")


def patient_context(
    request: StaffRequest, patient: Patient, *, bound: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Everything the patient page shows; `bound` replaces blank forms with submitted ones."""
    bound = bound or {}
    # Fresh reads first: they are part of the progress cache key (see progress_cache).
    today = patient.local_date()
    programs = patient_programs(patient)
    prescription, protocol_phases = programs.current, programs.phases
    alerts, open_alerts = patient_alerts(patient)
    version = data_version(patient)
    progress = page_progress(
        patient,
        today=today,
        prescription=prescription,
        phases=protocol_phases,
        alerts=alerts,
        version=version,
    )
    phase = prescription.current_phase if prescription else None
    in_force = precautions_in_force(patient, phase)
    readiness = progress.readiness

    items: list[PrescribedExercise] = []
    if prescription is not None:
        items = list(
            prescription.exercises.filter(active=True)
            .select_related("exercise")
            .order_by("order", "id")
        )
    item_conflicts = precaution_conflicts([item.exercise for item in items], in_force)
    exercise_rows = [
        ExerciseRow(
            item=item,
            form_html=dosage_fields(item, bound.get(f"dosage-{item.pk}")),
            conflicts=precaution_labels(item_conflicts.get(item.exercise.slug, [])),
        )
        for item in items
    ]
    in_program = {item.exercise_id for item in items}
    library = list(
        Exercise.objects.filter(is_active=True)
        .exclude(pk__in=in_program)
        .only("slug", "name", "precaution_tags")
    )
    library_conflicts = precaution_conflicts(library, in_force)
    warnings = {slug: precaution_labels(tags) for slug, tags in library_conflicts.items()}

    def exercise_label(exercise: Exercise) -> str:
        if exercise.slug in warnings:
            return f"⚠ {exercise.name} — conflicts: {'; '.join(warnings[exercise.slug])}"
        return exercise.name

    advance_to = [
        phase
        for phase in protocol_phases
        if prescription is not None and phase.pk != prescription.current_phase_id
    ]
    phase_prompt = None if readiness and readiness.next_phase_name else "Choose a phase…"
    return {
        "patient": patient,
        "progress": progress,
        "adherence": progress.adherence,
        "pain": progress.pain,
        "readiness": readiness,
        "alerts": alerts,
        "open_alerts": open_alerts,
        "acknowledged_alerts": len(alerts) > len(open_alerts),
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
        "criteria": progress.criteria,
        "exercise_rows": exercise_rows,
        "other_programs": programs.others,
        "sessions": session_history(request, patient, count=version.session_count),
        "advance_fields": advance_fields(advance_to, phase_prompt, bound.get("advance")),
        "add_exercise_fields": add_exercise_fields(
            library, exercise_label, bound.get("add_exercise")
        ),
        "reminder_fields": reminder_fields(patient, bound.get("reminders")),
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
