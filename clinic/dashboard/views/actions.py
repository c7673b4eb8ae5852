"""What a therapist does from the patient page. POST only; each calls one service.

A service's ValidationError becomes a message (or the form's errors), never a 500.
"""

import csv
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from patients.models import Patient
from patients.services import patient_invite_regenerate, patient_update_reminders
from programs.alerts import alert_acknowledge
from programs.exports import patient_session_rows
from programs.models import Alert, Exercise, PrescribedExercise, Prescription
from programs.services import (
    ExerciseChoice,
    patient_discharge,
    phase_advance,
    phase_exercise_choices,
    precaution_conflicts,
    precautions_in_force,
    prescription_add_exercise,
    prescription_remove_exercise,
    prescription_update_dosage,
    program_complete,
    program_pause,
    program_resume,
)

from ..access import StaffRequest, clinic_patient, practitioner_required
from ..forms import (
    AcknowledgeForm,
    AddExerciseForm,
    AdvancePhaseForm,
    DosageForm,
    OnDateForm,
    ReminderForm,
    apply_service_errors,
)
from .patient import precaution_labels, render_patient_page


def patient_url(patient: Patient, section: str = "") -> str:
    url = reverse("dashboard:patient", args=[patient.pk])
    return f"{url}#{section}" if section else url


def run_service(request: StaffRequest, call: Callable[[], Any], success: str) -> bool:
    """Call a service; its ValidationError becomes error messages. True when it succeeded."""
    try:
        call()
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
        return False
    messages.success(request, success)
    return True


def form_errors_to_messages(request: StaffRequest, form: Any) -> None:
    for field, errors in form.errors.items():
        label = ""
        if field in form.fields:
            label = form.fields[field].label or field.replace("_", " ")
        for error in errors:
            messages.error(request, f"{str(label).capitalize()}: {error}" if label else error)


def conflict_messages(exercises: list[Exercise], precautions: set[str]) -> list[str]:
    conflicts = precaution_conflicts(exercises, precautions)
    names = {exercise.slug: exercise.name for exercise in exercises}
    return [
        f"{names[slug]} conflicts with the patient's precautions: "
        f"{'; '.join(precaution_labels(tags))}. Tick the override and give a reason to go ahead."
        for slug, tags in sorted(conflicts.items())
    ]


def _prescription(patient: Patient, prescription_id: int) -> Prescription:
    return get_object_or_404(
        Prescription.objects.select_related("protocol", "current_phase", "patient"),
        pk=prescription_id,
        patient=patient,
    )


def _prescribed_exercise(prescription: Prescription, item_id: int) -> PrescribedExercise:
    return get_object_or_404(
        PrescribedExercise.objects.select_related("exercise"), pk=item_id, prescription=prescription
    )


# --- alerts --------------------------------------------------------------------------------


@require_POST
@practitioner_required
def acknowledge_alert(request: StaffRequest, patient_id: int, alert_id: int) -> HttpResponse:
    patient = clinic_patient(request, patient_id)
    alert = get_object_or_404(Alert, pk=alert_id, patient=patient)
    form = AcknowledgeForm(request.POST)
    if not form.is_valid():
        form_errors_to_messages(request, form)
    else:
        run_service(
            request,
            lambda: alert_acknowledge(alert=alert, by=request.user, note=form.cleaned_data["note"]),
            f"{alert.get_kind_display()} alert acknowledged.",
        )
    return redirect(patient_url(patient, "alerts"))


# --- the program ---------------------------------------------------------------------------


@require_POST
@practitioner_required
def advance_phase(request: StaffRequest, patient_id: int, prescription_id: int) -> HttpResponse:
    patient = clinic_patient(request, patient_id)
    prescription = _prescription(patient, prescription_id)
    phases = prescription.protocol.phases.all() if prescription.protocol_id else None
    form = AdvancePhaseForm(request.POST, phases=phases)
    if not form.is_valid():
        return render_patient_page(request, patient, advance=form)
    data = form.cleaned_data
    to_phase = data["to_phase"]
    if to_phase is None and prescription.protocol_id and prescription.current_phase:
        to_phase = (
            prescription.protocol.phases.filter(order__gt=prescription.current_phase.order)
            .order_by("order")
            .first()
        )
    if to_phase is not None and not data["allow_precaution_override"]:
        exercises = [choice.exercise for choice in phase_exercise_choices(to_phase)]
        if warnings := conflict_messages(exercises, precautions_in_force(patient, to_phase)):
            for warning in warnings:
                form.add_error(None, warning)
            return render_patient_page(request, patient, advance=form)
    try:
        phase_advance(
            prescription=prescription,
            to_phase=to_phase,
            on_date=data["on_date"],
            allow_precaution_override=data["allow_precaution_override"],
            override_reason=data["override_reason"],
        )
    except ValidationError as error:
        apply_service_errors(form, error)
        return render_patient_page(request, patient, advance=form)
    prescription.refresh_from_db(fields=["current_phase"])
    messages.success(request, f"Moved to phase “{prescription.current_phase.name}”.")
    return redirect(patient_url(patient, "program"))


def _program_action(
    service: Callable[..., Prescription], success: str
) -> Callable[..., HttpResponse]:
    @require_POST
    @practitioner_required
    def view(request: StaffRequest, patient_id: int, prescription_id: int) -> HttpResponse:
        patient = clinic_patient(request, patient_id)
        prescription = _prescription(patient, prescription_id)
        form = OnDateForm(request.POST)
        if not form.is_valid():
            form_errors_to_messages(request, form)
        else:
            run_service(
                request,
                lambda: service(prescription=prescription, on_date=form.cleaned_data["on_date"]),
                success,
            )
        return redirect(patient_url(patient, "program"))

    view.__name__ = service.__name__
    return view


pause_program = _program_action(program_pause, "Program paused: no sessions are planned.")
resume_program = _program_action(program_resume, "Program resumed.")
complete_program = _program_action(program_complete, "Program completed.")


@require_POST
@practitioner_required
def update_dosage(
    request: StaffRequest, patient_id: int, prescription_id: int, item_id: int
) -> HttpResponse:
    patient = clinic_patient(request, patient_id)
    item = _prescribed_exercise(_prescription(patient, prescription_id), item_id)
    form = DosageForm(request.POST, prefix=f"dosage-{item.pk}")
    if not form.is_valid():
        return render_patient_page(request, patient, **{f"dosage-{item.pk}": form})
    run_service(
        request,
        lambda: prescription_update_dosage(prescribed_exercise=item, **form.cleaned_data),
        f"{item.exercise.name}: dosage saved.",
    )
    return redirect(patient_url(patient, "program"))


@require_POST
@practitioner_required
def remove_exercise(
    request: StaffRequest, patient_id: int, prescription_id: int, item_id: int
) -> HttpResponse:
    patient = clinic_patient(request, patient_id)
    item = _prescribed_exercise(_prescription(patient, prescription_id), item_id)
    run_service(
        request,
        lambda: prescription_remove_exercise(prescribed_exercise=item),
        f"{item.exercise.name} removed from the program.",
    )
    return redirect(patient_url(patient, "program"))


@require_POST
@practitioner_required
def add_exercise(request: StaffRequest, patient_id: int, prescription_id: int) -> HttpResponse:
    patient = clinic_patient(request, patient_id)
    prescription = _prescription(patient, prescription_id)
    form = AddExerciseForm(request.POST)
    if not form.is_valid():
        return render_patient_page(request, patient, add_exercise=form)
    data = form.cleaned_data
    exercise: Exercise = data["exercise"]
    if not data["allow_precaution_override"]:
        in_force = precautions_in_force(patient, prescription.current_phase)
        if warnings := conflict_messages([exercise], in_force):
            for warning in warnings:
                form.add_error(None, warning)
            return render_patient_page(request, patient, add_exercise=form)
    choice = ExerciseChoice(
        exercise=exercise,
        sets=data["sets"] or exercise.default_sets,
        reps=data["reps"] or exercise.default_reps,
        hold_seconds=exercise.default_hold_seconds
        if data["hold_seconds"] is None
        else data["hold_seconds"],
    )
    try:
        prescription_add_exercise(
            prescription=prescription,
            choice=choice,
            allow_precaution_override=data["allow_precaution_override"],
            override_reason=data["override_reason"],
        )
    except ValidationError as error:
        apply_service_errors(form, error)
        return render_patient_page(request, patient, add_exercise=form)
    messages.success(request, f"{exercise.name} added to the program.")
    return redirect(patient_url(patient, "program"))


# --- the patient record ----------------------------------------------------------------------


@require_POST
@practitioner_required
def update_reminders(request: StaffRequest, patient_id: int) -> HttpResponse:
    patient = clinic_patient(request, patient_id)
    form = ReminderForm(request.POST)
    if form.is_valid():
        try:
            patient_update_reminders(patient=patient, **form.preferences())
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            messages.success(request, "Reminder preferences saved.")
            return redirect(patient_url(patient, "reminders"))
    patient.refresh_from_db()  # a failed update may have set attributes on the instance
    return render_patient_page(request, patient, reminders=form)


@require_POST
@practitioner_required
def regenerate_invite(request: StaffRequest, patient_id: int) -> HttpResponse:
    patient = clinic_patient(request, patient_id)
    if run_service(
        request, lambda: patient_invite_regenerate(patient=patient), "New invite code created."
    ):
        messages.info(request, f"Invite code for {patient.full_name}: {patient.invite_code}")
    return redirect(patient_url(patient))


@require_POST
@practitioner_required
def discharge_patient(request: StaffRequest, patient_id: int) -> HttpResponse:
    patient = clinic_patient(request, patient_id)
    run_service(
        request,
        lambda: patient_discharge(patient=patient),
        f"{patient.full_name} discharged: programs completed, reminders off.",
    )
    return redirect(patient_url(patient))


# --- export --------------------------------------------------------------------------------


class _Echo:
    """A file-like object whose write returns the line: csv.writer then yields lines."""

    def write(self, value: str) -> str:
        return value


@require_GET
@practitioner_required
def export_sessions(request: StaffRequest, patient_id: int) -> StreamingHttpResponse:
    patient = clinic_patient(request, patient_id)
    writer = csv.writer(_Echo())
    response = StreamingHttpResponse(
        (writer.writerow(row) for row in patient_session_rows(patient)),
        content_type="text/csv; charset=utf-8",
    )
    # No name in the file name: downloads folders leak.
    filename = f"stride-sessions-patient-{patient.pk}-{timezone.localdate():%Y%m%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response
