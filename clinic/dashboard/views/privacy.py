"""Clinic admins: the audit trail, a patient's FHIR record, full export and erasure."""

import json

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from api.fhir.bundle import patient_bundle
from clinic.models import AuditEvent
from programs import privacy

from ..access import StaffRequest, clinic_patient, practitioner_required
from .common import page_links

PAGE_SIZE = 50


def _admins_only(request: StaffRequest) -> HttpResponse | None:
    if not request.practitioner.is_admin:
        return render(request, "dashboard/forbidden.html", status=403)
    return None


class AuditSearchForm(forms.Form):
    patient = forms.IntegerField(required=False, min_value=1, label="Patient id")
    user = forms.IntegerField(required=False, min_value=1, label="User id")
    action = forms.ChoiceField(
        required=False, choices=[("", "Any action"), *AuditEvent.Action.choices]
    )
    since = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))


@require_GET
@practitioner_required
def audit_log(request: StaffRequest) -> HttpResponse:
    if refused := _admins_only(request):
        return refused
    form = AuditSearchForm(request.GET or None)
    events = AuditEvent.objects.filter(clinic_id=request.clinic.pk).order_by("-occurred_at", "-id")
    if form.is_valid():
        data = form.cleaned_data
        if data["patient"]:
            events = events.filter(patient_id=data["patient"])
        if data["user"]:
            events = events.filter(user_id=data["user"])
        if data["action"]:
            events = events.filter(action=data["action"])
        if data["since"]:
            events = events.filter(occurred_at__date__gte=data["since"])
        if data["until"]:
            events = events.filter(occurred_at__date__lte=data["until"])
    page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "dashboard/audit.html",
        {"form": form, "page": page, "page_links": page_links(request, page, "page")},
    )


@require_GET
@practitioner_required
def patient_fhir(request: StaffRequest, patient_id: int) -> HttpResponse:
    patient = clinic_patient(request, patient_id)
    response = HttpResponse(
        json.dumps(patient_bundle(patient), indent=2), content_type="application/fhir+json"
    )
    response["Content-Disposition"] = f'attachment; filename="patient-{patient.pk}-fhir.json"'
    return response


@require_GET
@practitioner_required
def patient_export(request: StaffRequest, patient_id: int) -> HttpResponse:
    patient = clinic_patient(request, patient_id)  # another clinic's patient: 404 first
    if refused := _admins_only(request):
        return refused
    response = HttpResponse(privacy.patient_export_archive(patient), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="patient-{patient.pk}.zip"'
    return response


class EraseForm(forms.Form):
    confirm = forms.CharField(max_length=210, label="Type the patient's full name to confirm")

    def __init__(self, *args: object, expected: str, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.expected = expected

    def clean_confirm(self) -> str:
        value = self.cleaned_data["confirm"]
        if value != self.expected:
            raise forms.ValidationError("This is not the patient's full name.")
        return value


@require_http_methods(["GET", "POST"])
@practitioner_required
def patient_erase(request: StaffRequest, patient_id: int) -> HttpResponse:
    patient = clinic_patient(request, patient_id)  # another clinic's patient: 404 first
    if refused := _admins_only(request):
        return refused
    form = EraseForm(request.POST or None, expected=patient.full_name)
    if request.method == "POST" and patient.erased_at is None and form.is_valid():
        result = privacy.patient_erase(patient=patient)
        messages.success(
            request,
            f"Personal data erased; {result.sessions_aggregated} sessions kept as "
            "de-identified weekly totals.",
        )
        return redirect("dashboard:patient", patient_id=patient.pk)
    return render(request, "dashboard/erase.html", {"patient": patient, "form": form})
