from functools import cached_property

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from rest_framework import viewsets
from rest_framework.permissions import IsAuthenticated

from api.permissions import IsPractitioner, SameClinic, caller_practitioner
from api.throttles import WriteThrottle
from api.v1.common_serializers import error_responses
from clinic.models import Clinic, Practitioner
from patients.models import Patient

from .pagination import KeysetCursorPagination

READ_ERRORS = error_responses(401, 403)
OBJECT_READ_ERRORS = error_responses(401, 403, 404)
LIST_ERRORS = error_responses(400, 401, 403, 404)  # 400: a bad filter; 404: a bad cursor
WRITE_ERRORS = error_responses(400, 401, 403, 404, 413, 429)
CREATE_ERRORS = error_responses(400, 401, 403, 413, 429)
DELETE_ERRORS = error_responses(400, 401, 403, 404, 429)


class StaffViewSet(viewsets.GenericViewSet):
    """Clinic staff only; every queryset is scoped to the caller's clinic."""

    permission_classes = [IsAuthenticated, IsPractitioner, SameClinic]
    throttle_classes = [WriteThrottle]
    pagination_class = KeysetCursorPagination
    lookup_value_converter = "int"

    @cached_property
    def practitioner(self) -> Practitioner:
        practitioner = caller_practitioner(self.request)
        assert practitioner is not None  # IsPractitioner ran first
        return practitioner

    @cached_property
    def clinic(self) -> Clinic:
        return self.practitioner.clinic  # loaded with the user (api.authentication)

    def clinic_patients(self) -> QuerySet[Patient]:
        return Patient.objects.filter(clinic_id=self.practitioner.clinic_id)

    @property
    def schema_only(self) -> bool:
        return getattr(self, "swagger_fake_view", False)


class PatientNestedViewSet(StaffViewSet):
    """Routes under patients/{patient_pk}/: another clinic's patient answers 404."""

    @cached_property
    def patient(self) -> Patient:
        patient = get_object_or_404(self.clinic_patients(), pk=self.kwargs["patient_pk"])
        self.check_object_permissions(self.request, patient)
        return patient
