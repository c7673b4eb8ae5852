"""Who may call what. Every queryset is also scoped to the caller in `get_queryset`."""

from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from clinic.models import Practitioner
from patients.models import Patient


def caller_practitioner(request: Request) -> Practitioner | None:
    user = request.user
    if not user or not user.is_authenticated:
        return None
    try:
        return user.practitioner
    except Practitioner.DoesNotExist:
        return None


def caller_patient(request: Request) -> Patient | None:
    user = request.user
    if not user or not user.is_authenticated:
        return None
    try:
        return user.patient
    except Patient.DoesNotExist:
        return None


class IsPatient(BasePermission):
    """The caller is a patient who has claimed their account (and is active)."""

    message = "This endpoint is for patients."

    def has_permission(self, request: Request, view: APIView) -> bool:
        patient = caller_patient(request)
        return patient is not None and patient.status == Patient.Status.ACTIVE


class IsPractitioner(BasePermission):
    """The caller is clinic staff: a therapist or a clinic admin."""

    message = "This endpoint is for clinic staff."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return caller_practitioner(request) is not None


class IsClinicAdmin(BasePermission):
    message = "This endpoint is for clinic admins."

    def has_permission(self, request: Request, view: APIView) -> bool:
        practitioner = caller_practitioner(request)
        return practitioner is not None and practitioner.is_admin


class SameClinic(BasePermission):
    """Object-level: the object belongs to the caller's clinic (querysets already scope)."""

    def has_object_permission(self, request: Request, view: APIView, obj: object) -> bool:
        practitioner = caller_practitioner(request)
        clinic_id = getattr(obj, "clinic_id", None)
        if clinic_id is None and hasattr(obj, "patient"):
            clinic_id = obj.patient.clinic_id
        return practitioner is not None and clinic_id == practitioner.clinic_id
