"""patients/: the clinic's patient list, records, discharge, invites, and each patient's
sessions, outcome measures, check-ins and progress."""

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from api.v1.common_serializers import (
    CheckInOutputSerializer,
    MeasureResponseOutputSerializer,
    SessionLogOutputSerializer,
)
from api.v1.filters import CheckInFilter, MeasureFilter, PatientFilter, SessionFilter
from patients import services as patient_services
from patients.models import CheckIn, MeasureResponse, Patient
from programs import selectors as program_selectors
from programs import services as program_services
from programs.models import SessionLog

from .base import (
    CREATE_ERRORS,
    LIST_ERRORS,
    OBJECT_READ_ERRORS,
    WRITE_ERRORS,
    PatientNestedViewSet,
    StaffViewSet,
)
from .patient_serializers import (
    InviteSerializer,
    PatientCreateSerializer,
    PatientRowSerializer,
    PatientSerializer,
    PatientUpdateSerializer,
)
from .progress_serializers import PatientProgressSerializer

TAG = ["patients (staff)"]


@extend_schema_view(
    list=extend_schema(
        tags=TAG,
        summary="The clinic's patients with adherence, last session, pain and open alerts",
        description=(
            "Every patient of the caller's clinic (therapists see the whole clinic, not only "
            "their own caseload), alphabetically, cursor-paginated. Adherence is over the "
            "clinic's adherence window."
        ),
        responses={200: PatientRowSerializer(many=True), **LIST_ERRORS},
    ),
    retrieve=extend_schema(
        tags=TAG,
        summary="A patient's record",
        responses={200: PatientSerializer, **OBJECT_READ_ERRORS},
    ),
)
class PatientViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, StaffViewSet):
    serializer_class = PatientSerializer
    filterset_class = PatientFilter
    cursor_ordering = ("last_name", "first_name", "id")

    def get_queryset(self) -> QuerySet[Patient]:
        if self.schema_only:
            return Patient.objects.none()
        return self.clinic_patients().select_related("therapist__user")

    def filter_queryset(self, queryset: QuerySet[Patient]) -> QuerySet[Patient]:
        # django-filter builds the FilterSet and its form (deep copies of every filter) on each
        # request, a tenth of the list's CPU: skip it when the query names none of its filters
        # (every PatientFilter parameter is named after its filter; none has a default).
        if self.filterset_class.base_filters.keys().isdisjoint(self.request.query_params):
            return queryset
        return super().filter_queryset(queryset)

    def list(self, request: Request, *args, **kwargs) -> Response:
        page = self.paginate_queryset(
            program_selectors.patient_list_page(self.filter_queryset(self.clinic_patients()))
        )
        rows = program_selectors.patient_list_rows(
            self.clinic, page, render=PatientRowSerializer.render_row
        )
        return self.get_paginated_response(rows)

    @extend_schema(
        tags=TAG,
        summary="Create a patient (the response carries the invite code for their app)",
        request=PatientCreateSerializer,
        responses={201: PatientSerializer, **CREATE_ERRORS},
    )
    def create(self, request: Request) -> Response:
        serializer = PatientCreateSerializer(data=request.data, context={"clinic": self.clinic})
        serializer.is_valid(raise_exception=True)
        fields = dict(serializer.validated_data)
        patient = patient_services.patient_create(
            clinic=self.clinic,
            therapist=fields.pop("therapist", self.practitioner),
            timezone_name=fields.pop("timezone", None),
            **fields,
        )
        return Response(
            PatientSerializer(self.get_queryset().get(pk=patient.pk)).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(
        tags=TAG,
        summary="Change a patient's record",
        request=PatientUpdateSerializer,
        responses={200: PatientSerializer, **WRITE_ERRORS},
    )
    def partial_update(self, request: Request, pk: int) -> Response:
        patient = self.get_object()
        serializer = PatientUpdateSerializer(
            data=request.data, partial=True, context={"clinic": self.clinic}
        )
        serializer.is_valid(raise_exception=True)
        changes = dict(serializer.validated_data)
        patient_services.patient_update(patient=patient, **changes)
        return Response(PatientSerializer(self.get_queryset().get(pk=patient.pk)).data)

    @extend_schema(
        tags=TAG,
        summary="Discharge a patient: completes their programs and stops reminders",
        request=None,
        responses={200: PatientSerializer, **WRITE_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def discharge(self, request: Request, pk: int) -> Response:
        patient = program_services.patient_discharge(patient=self.get_object())
        return Response(PatientSerializer(self.get_queryset().get(pk=patient.pk)).data)

    @extend_schema(
        tags=TAG,
        summary="Issue a new invite code (the previous one stops working)",
        description="400 once the patient has claimed their account.",
        request=None,
        responses={200: InviteSerializer, **WRITE_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def invite(self, request: Request, pk: int) -> Response:
        patient = patient_services.patient_invite_regenerate(patient=self.get_object())
        return Response(InviteSerializer(patient).data)

    @extend_schema(
        tags=TAG,
        summary="A patient's progress: adherence, pain trend, readiness, outcome scores, alerts",
        responses={200: PatientProgressSerializer, **OBJECT_READ_ERRORS},
    )
    @action(detail=True, methods=["get"])
    def progress(self, request: Request, pk: int) -> Response:
        progress = program_selectors.patient_progress(self.get_object())
        return Response(PatientProgressSerializer(progress).data)


@extend_schema_view(
    list=extend_schema(
        tags=TAG,
        summary="A patient's logged sessions with their exercise entries, newest first",
        responses={200: SessionLogOutputSerializer(many=True), **LIST_ERRORS},
    )
)
class PatientSessionViewSet(mixins.ListModelMixin, PatientNestedViewSet):
    serializer_class = SessionLogOutputSerializer
    filterset_class = SessionFilter
    cursor_ordering = ("-performed_at", "-id")

    def get_queryset(self) -> QuerySet[SessionLog]:
        if self.schema_only:
            return SessionLog.objects.none()
        return program_selectors.patient_sessions(self.patient)


@extend_schema_view(
    list=extend_schema(
        tags=TAG,
        summary="A patient's outcome-measure responses, newest first",
        responses={200: MeasureResponseOutputSerializer(many=True), **LIST_ERRORS},
    )
)
class PatientMeasureViewSet(mixins.ListModelMixin, PatientNestedViewSet):
    serializer_class = MeasureResponseOutputSerializer
    filterset_class = MeasureFilter
    cursor_ordering = ("-taken_at", "-id")

    def get_queryset(self) -> QuerySet[MeasureResponse]:
        if self.schema_only:
            return MeasureResponse.objects.none()
        return MeasureResponse.objects.filter(patient=self.patient).select_related("patient")


@extend_schema_view(
    list=extend_schema(
        tags=TAG,
        summary="A patient's symptom check-ins, newest first",
        responses={200: CheckInOutputSerializer(many=True), **LIST_ERRORS},
    )
)
class PatientCheckInViewSet(mixins.ListModelMixin, PatientNestedViewSet):
    serializer_class = CheckInOutputSerializer
    filterset_class = CheckInFilter
    cursor_ordering = ("-created_at", "-id")

    def get_queryset(self) -> QuerySet[CheckIn]:
        if self.schema_only:
            return CheckIn.objects.none()
        return CheckIn.objects.filter(patient=self.patient)
