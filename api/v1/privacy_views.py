"""Clinic admins: the audit trail, and a patient's data rights (export everything, erase)."""

from django.db.models import QuerySet
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from api.pagination import CursorPagination
from api.permissions import IsClinicAdmin
from api.v1.common_serializers import error_responses
from api.v1.therapist.base import StaffViewSet
from clinic.models import AuditEvent
from patients.models import Patient
from programs import privacy

TAG = ["privacy and audit (clinic admins)"]


class AuditEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = [
            "id", "occurred_at", "user_id", "role", "patient_id", "action", "object_type",
            "object_id", "method", "path", "status_code", "ip_address", "user_agent",
            "request_id",
        ]  # fmt: skip
        read_only_fields = fields


class AuditEventFilter(filters.FilterSet):
    patient = filters.NumberFilter(field_name="patient_id")
    user = filters.NumberFilter(field_name="user_id")
    action = filters.ChoiceFilter(choices=AuditEvent.Action.choices)
    since = filters.IsoDateTimeFilter(field_name="occurred_at", lookup_expr="gte")
    until = filters.IsoDateTimeFilter(field_name="occurred_at", lookup_expr="lt")

    class Meta:
        model = AuditEvent
        fields = ["patient", "user", "action", "since", "until"]


class AuditCursorPagination(CursorPagination):
    ordering = ("-occurred_at", "-id")


@extend_schema(
    tags=TAG,
    summary="Search the clinic's audit trail",
    description="Who saw or changed which patient's data, newest first. Clinic admins only.",
    responses={200: AuditEventSerializer(many=True), **error_responses(400, 401, 403, 404)},
)
class AuditEventViewSet(mixins.ListModelMixin, StaffViewSet):
    permission_classes = [IsAuthenticated, IsClinicAdmin]
    serializer_class = AuditEventSerializer
    filterset_class = AuditEventFilter
    pagination_class = AuditCursorPagination

    def get_queryset(self) -> QuerySet[AuditEvent]:
        if self.schema_only:
            return AuditEvent.objects.none()
        return AuditEvent.objects.filter(clinic_id=self.practitioner.clinic_id)


class EraseSerializer(serializers.Serializer):
    confirm = serializers.CharField(
        max_length=210,
        help_text="The patient's full name, exactly as on their record, to confirm the erasure.",
    )


class ErasureResultSerializer(serializers.Serializer):
    patient_id = serializers.IntegerField()
    sessions_aggregated = serializers.IntegerField()
    weeks_kept = serializers.IntegerField()


class PatientPrivacyViewSet(StaffViewSet):
    permission_classes = [IsAuthenticated, IsClinicAdmin]

    def get_patient(self) -> Patient:
        return get_object_or_404(self.clinic_patients(), pk=self.kwargs["pk"])

    @extend_schema(
        tags=TAG,
        summary="Export everything held about a patient (zip: record.json + sessions.csv)",
        responses={
            (200, "application/zip"): OpenApiResponse(OpenApiTypes.BINARY),
            **error_responses(401, 403, 404),
        },
    )
    def export(self, request: Request, pk: int) -> HttpResponse:
        patient = self.get_patient()
        response = HttpResponse(
            privacy.patient_export_archive(patient), content_type="application/zip"
        )
        response["Content-Disposition"] = f'attachment; filename="patient-{patient.pk}.zip"'
        return response

    @extend_schema(
        tags=TAG,
        summary="Erase a patient's personal data (irreversible)",
        description=(
            "Personal fields are removed, logs are kept only as de-identified weekly totals, "
            "the patient's login is disabled and its tokens revoked. `confirm` must be the "
            "patient's full name."
        ),
        request=EraseSerializer,
        responses={200: ErasureResultSerializer, **error_responses(400, 401, 403, 404, 429)},
    )
    def erase(self, request: Request, pk: int) -> Response:
        patient = self.get_patient()
        body = EraseSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        if patient.erased_at is None and body.validated_data["confirm"] != patient.full_name:
            raise serializers.ValidationError(
                {"confirm": ["Type the patient's full name exactly to confirm the erasure."]}
            )
        result = privacy.patient_erase(patient=patient)
        return Response(ErasureResultSerializer(result).data, status=status.HTTP_200_OK)
