"""Program builder: assign a protocol from a phase, or build a custom program from the library."""

from dataclasses import dataclass
from itertools import groupby
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render

from patients.models import Patient
from programs.models import Exercise, Prescription, Protocol, ProtocolPhase
from programs.selectors import OPEN_STATUSES
from programs.services import (
    ExerciseChoice,
    phase_exercise_choices,
    precaution_conflicts,
    precautions_in_force,
    program_assign,
)

from ..access import StaffRequest, clinic_patient, practitioner_required
from ..forms import (
    AssignProtocolForm,
    CustomExerciseRowForm,
    CustomProgramForm,
    apply_service_errors,
)
from .actions import conflict_messages, patient_url
from .patient import precaution_labels


@dataclass(frozen=True)
class PreviewItem:
    exercise: Exercise
    sets: int
    reps: int
    hold_seconds: int
    conflicts: list[str]


@dataclass(frozen=True)
class PhasePreview:
    phase: ProtocolPhase
    items: list[PreviewItem]
    precautions: list[str]

    @property
    def has_conflicts(self) -> bool:
        return any(item.conflicts for item in self.items)


def phase_preview(patient: Patient, phase: ProtocolPhase) -> PhasePreview:
    choices = phase_exercise_choices(phase)
    in_force = precautions_in_force(patient, phase)
    conflicts = precaution_conflicts([choice.exercise for choice in choices], in_force)
    return PhasePreview(
        phase=phase,
        items=[
            PreviewItem(
                exercise=choice.exercise,
                sets=choice.sets,
                reps=choice.reps,
                hold_seconds=choice.hold_seconds,
                conflicts=precaution_labels(conflicts.get(choice.exercise.slug, [])),
            )
            for choice in choices
        ],
        precautions=precaution_labels(in_force),
    )


def phase_for(protocol: Protocol | None, phase: ProtocolPhase | None) -> ProtocolPhase | None:
    """The chosen phase when it belongs to the protocol, else the protocol's first phase."""
    if protocol is None:
        return None
    if phase is not None and phase.protocol_id == protocol.pk:
        return phase
    return protocol.phases.order_by("order").first()


def _assign_protocol(
    request: StaffRequest, patient: Patient, form: AssignProtocolForm
) -> Prescription | None:
    if not form.is_valid():
        return None
    data = form.cleaned_data
    phase = phase_for(data["protocol"], data["phase"])
    if phase is None:
        form.add_error("protocol", "This protocol has no phases.")
        return None
    if not data["allow_precaution_override"]:
        exercises = [choice.exercise for choice in phase_exercise_choices(phase)]
        if warnings := conflict_messages(exercises, precautions_in_force(patient, phase)):
            for warning in warnings:
                form.add_error(None, warning)
            return None
    try:
        return program_assign(
            patient=patient,
            prescriber=request.practitioner,
            protocol=data["protocol"],
            phase=phase,
            start_date=data["start_date"],
            sessions_per_week=data["sessions_per_week"],
            allow_precaution_override=data["allow_precaution_override"],
            override_reason=data["override_reason"],
        )
    except ValidationError as error:
        apply_service_errors(form, error)
        return None


def _assign_custom(
    request: StaffRequest,
    patient: Patient,
    form: CustomProgramForm,
    rows: list[CustomExerciseRowForm],
) -> Prescription | None:
    valid = form.is_valid()
    valid = all([row.is_valid() for row in rows]) and valid
    chosen = [row for row in rows if row.is_valid() and row.cleaned_data.get("include")]
    if not chosen:
        form.add_error(None, "Tick at least one exercise for the program.")
    if not valid or not chosen:
        return None
    data = form.cleaned_data
    choices = [
        ExerciseChoice(
            exercise=row.exercise,
            sets=row.cleaned_data["sets"],
            reps=row.cleaned_data["reps"],
            hold_seconds=row.cleaned_data["hold_seconds"],
        )
        for row in chosen
    ]
    if not data["allow_precaution_override"]:
        in_force = precautions_in_force(patient, None)
        if warnings := conflict_messages([choice.exercise for choice in choices], in_force):
            for warning in warnings:
                form.add_error(None, warning)
            return None
    try:
        return program_assign(
            patient=patient,
            prescriber=request.practitioner,
            exercises=choices,
            name=data["name"],
            start_date=data["start_date"],
            sessions_per_week=data["sessions_per_week"],
            allow_precaution_override=data["allow_precaution_override"],
            override_reason=data["override_reason"],
        )
    except ValidationError as error:
        apply_service_errors(form, error)
        return None


@practitioner_required
def assign_program(request: StaffRequest, patient_id: int) -> HttpResponse:
    patient = clinic_patient(request, patient_id)
    today = patient.local_date()
    library = list(Exercise.objects.filter(is_active=True).order_by("category", "name"))
    suggested = Protocol.objects.filter(is_active=True, condition=patient.condition).first()
    protocol_form = AssignProtocolForm(
        initial={"start_date": today, "protocol": suggested.pk if suggested else None}
    )
    custom_form = CustomProgramForm(initial={"start_date": today})
    rows = [CustomExerciseRowForm(exercise=exercise) for exercise in library]
    mode = request.POST.get("mode", "protocol")

    if request.method == "POST":
        if mode == "custom":
            custom_form = CustomProgramForm(request.POST)
            rows = [CustomExerciseRowForm(request.POST, exercise=exercise) for exercise in library]
            prescription = _assign_custom(request, patient, custom_form, rows)
        else:
            protocol_form = AssignProtocolForm(request.POST)
            if "preview" in request.POST:
                protocol_form.is_valid()
                prescription = None
            else:
                prescription = _assign_protocol(request, patient, protocol_form)
        if prescription is not None:
            messages.success(request, f"{prescription.name} assigned to {patient.full_name}.")
            return redirect(patient_url(patient, "program"))

    if protocol_form.is_bound:
        chosen = getattr(protocol_form, "cleaned_data", {})
        preview_phase = phase_for(chosen.get("protocol"), chosen.get("phase"))
    else:
        preview_phase = phase_for(suggested, None)
    patient_conflicts = precaution_conflicts(library, precautions_in_force(patient, None))
    custom_rows = [
        (row, precaution_labels(patient_conflicts.get(row.exercise.slug, []))) for row in rows
    ]
    grouped = [
        (category, list(items))
        for category, items in groupby(
            custom_rows, key=lambda pair: pair[0].exercise.get_category_display()
        )
    ]
    context: dict[str, Any] = {
        "patient": patient,
        "mode": mode,
        "protocol_form": protocol_form,
        "custom_form": custom_form,
        "custom_groups": grouped,
        "preview": phase_preview(patient, preview_phase) if preview_phase else None,
        "precautions": precaution_labels(precautions_in_force(patient, None)),
        "open_programs": list(
            patient.prescriptions.filter(status__in=OPEN_STATUSES).select_related("current_phase")
        ),
    }
    return render(request, "dashboard/assign.html", context)
