"""Who may use the dashboard: clinic staff (therapists and clinic admins), each scoped to
their own clinic. Patients use the app; a patient's login here gets 403."""

import zoneinfo
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from clinic.models import Clinic, Practitioner
from patients.models import Patient

View = Callable[..., HttpResponse]


class StaffRequest(HttpRequest):
    """An `HttpRequest` that went through `practitioner_required`."""

    practitioner: Practitioner
    clinic: Clinic


def practitioner_for(request: HttpRequest) -> Practitioner | None:
    user = request.user
    if not user.is_authenticated:
        return None
    if get_user_model().practitioner.is_cached(user):  # loaded with it (StaffModelBackend)
        return getattr(user, "practitioner", None)
    return Practitioner.objects.select_related("clinic", "user").filter(user_id=user.pk).first()


def practitioner_required(view: View) -> View:
    """Login required (anonymous → login page); non-staff users get 403.

    Sets `request.practitioner` and `request.clinic` for the view.
    """

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        practitioner = practitioner_for(request)
        if practitioner is None:
            return render(request, "dashboard/forbidden.html", status=403)
        request.practitioner = practitioner  # type: ignore[attr-defined]
        request.clinic = practitioner.clinic  # type: ignore[attr-defined]
        # Times on the pages read in the clinic's zone (dates of sessions are already local).
        with timezone.override(zoneinfo.ZoneInfo(practitioner.clinic.timezone)):
            return view(request, *args, **kwargs)

    return login_required(wrapper)


def clinic_patient(request: StaffRequest, patient_id: int) -> Patient:
    """The patient if they belong to the caller's clinic; another clinic's patient is a 404."""
    patient = get_object_or_404(
        Patient.objects.select_related("therapist__user"),
        pk=patient_id,
        clinic_id=request.clinic.pk,
    )
    patient.clinic = request.clinic  # the same row, loaded with the practitioner
    return patient
