"""Creating a patient record and editing it."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from patients.services import patient_create, patient_update

from ..access import StaffRequest, clinic_patient, practitioner_required
from ..forms import PatientForm, apply_service_errors
from .actions import patient_url


@practitioner_required
def patient_new(request: StaffRequest) -> HttpResponse:
    initial = {"therapist": request.practitioner.pk, "timezone": request.clinic.timezone}
    form = PatientForm(request.POST or None, clinic=request.clinic, creating=True, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        try:
            patient = patient_create(
                clinic=request.clinic,
                therapist=data.pop("therapist"),
                timezone_name=data.pop("timezone"),
                # None applies the defaults for the condition and surgical approach.
                precaution_tags=data.pop("precaution_tags") or None,
                **data,
            )
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            messages.success(
                request,
                f"{patient.full_name} added. Invite code for their app: {patient.invite_code}",
            )
            return redirect(reverse("dashboard:assign", args=[patient.pk]))
    return render(request, "dashboard/patient_form.html", {"form": form, "patient": None})


@practitioner_required
def patient_edit(request: StaffRequest, patient_id: int) -> HttpResponse:
    patient = clinic_patient(request, patient_id)
    fields = PatientForm.base_fields
    initial = {name: getattr(patient, name) for name in fields if name != "therapist"}
    initial["therapist"] = patient.therapist_id
    form = PatientForm(request.POST or None, clinic=request.clinic, initial=initial)
    if request.method == "POST" and form.is_valid():
        changes = {name: form.cleaned_data[name] for name in form.changed_data}
        if not changes:
            messages.info(request, "Nothing changed.")
            return redirect(patient_url(patient))
        try:
            patient_update(patient=patient, **changes)
        except ValidationError as error:
            apply_service_errors(form, error)
            patient.refresh_from_db()
        else:
            messages.success(request, "Patient details saved.")
            return redirect(patient_url(patient))
    return render(request, "dashboard/patient_form.html", {"form": form, "patient": patient})
