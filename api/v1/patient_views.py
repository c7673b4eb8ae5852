"""The patient's own endpoints (`me/...`, `instruments/`). Thin: validate, call a service or a
selector, render. Everything is scoped to the calling patient; other rows answer 404.
"""

import uuid
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Prefetch, QuerySet, prefetch_related_objects
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.errors import django_validation_error_to_drf, error_fields
from api.permissions import IsPatient, caller_patient
from api.throttles import SessionWriteThrottle, SyncThrottle, WriteThrottle
from clinic import answers
from patients import instruments, red_flags
from patients import services as patient_services
from patients.models import CheckIn, MeasureResponse, Patient
from programs import selectors as program_selectors
from programs import services as program_services
from programs.models import SessionLog

from .common_serializers import (
    CheckInOutputSerializer,
    InstrumentSerializer,
    MeasureResponseOutputSerializer,
    ProgressSerializer,
    RedFlagSerializer,
    SessionLogOutputSerializer,
    error_responses,
    progress_summary,
)
from .filters import CheckInFilter, MeasureFilter, SessionFilter
from .patient_serializers import (
    CHECKIN_EXAMPLES,
    MEASURE_EXAMPLES,
    SESSION_EXAMPLES,
    SYNC_EXAMPLES,
    CheckInInputSerializer,
    CheckInResultSerializer,
    MeasureInputSerializer,
    MeSerializer,
    PlanSerializer,
    ReminderPreferencesSerializer,
    SessionInputSerializer,
    SyncInputSerializer,
    SyncResultSerializer,
)
from .therapist.pagination import KeysetCursorPagination

PATIENT_ERRORS = (401, 403)


class PatientEndpoint:
    """The caller is an active patient who has claimed their account."""

    permission_classes = [IsAuthenticated, IsPatient]
    request: Request
    # Throttles for the writing actions of a viewset; other actions keep the class defaults.
    action_throttles: dict[str, type] = {}

    def get_throttles(self) -> list[Any]:
        if throttle := self.action_throttles.get(getattr(self, "action", None) or ""):
            return [throttle()]
        return super().get_throttles()  # type: ignore[misc]

    @property
    def patient(self) -> Patient:
        patient = caller_patient(self.request)
        assert patient is not None  # IsPatient has checked
        return patient


def _fake_view(view: Any) -> bool:
    """drf-spectacular builds views without a caller while generating the schema."""
    return getattr(view, "swagger_fake_view", False)


# --- me ---------------------------------------------------------------------------------------


class MeView(PatientEndpoint, APIView):
    throttle_classes = [WriteThrottle]

    def _render(self, patient: Patient) -> Response:
        patient = Patient.objects.select_related("clinic", "therapist__user").get(pk=patient.pk)
        return Response(MeSerializer(patient).data)

    @extend_schema(
        tags=["me"],
        operation_id="me_retrieve",
        summary="The patient's profile, clinic, therapist and reminder preferences",
        responses={200: MeSerializer, **error_responses(*PATIENT_ERRORS)},
    )
    def get(self, request: Request) -> Response:
        return self._render(self.patient)

    @extend_schema(
        tags=["me"],
        operation_id="me_partial_update",
        summary="Change reminder preferences and time zone",
        description="Only the fields listed can change; any other field answers 400. Weekdays "
        "are ISO 8601 numbers (1 = Monday … 7 = Sunday).",
        request=ReminderPreferencesSerializer,
        responses={200: MeSerializer, **error_responses(400, *PATIENT_ERRORS, 429)},
    )
    def patch(self, request: Request) -> Response:
        serializer = ReminderPreferencesSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        patient = patient_services.patient_update_reminders(
            patient=self.patient, **serializer.to_service_kwargs()
        )
        return self._render(patient)


class PlanView(PatientEndpoint, APIView):
    @extend_schema(
        tags=["me"],
        operation_id="me_plan",
        summary="Today's plan in the patient's time zone",
        description="Open programs (active or paused) with the current phase and the active "
        "exercises with their dosage, instructions and cues, and whether a session is "
        "already logged today.",
        responses={200: PlanSerializer, **error_responses(*PATIENT_ERRORS)},
    )
    def get(self, request: Request) -> Response:
        plan = program_selectors.patient_today_plan(self.patient)
        return Response(PlanSerializer(plan).data)


class ProgressView(PatientEndpoint, APIView):
    @extend_schema(
        tags=["me"],
        operation_id="me_progress",
        summary="Adherence and pain summary for the progress screen",
        responses={200: ProgressSerializer, **error_responses(*PATIENT_ERRORS)},
    )
    def get(self, request: Request) -> Response:
        progress = program_selectors.patient_progress(self.patient)
        return Response(ProgressSerializer(progress_summary(progress)).data)


# --- sessions ---------------------------------------------------------------------------------


def _with_entries(sessions: list[SessionLog]) -> list[SessionLog]:
    """Load the entries of sessions a service returned, in one query."""
    prefetch_related_objects(
        sessions, Prefetch("entries", queryset=program_selectors.session_entries())
    )
    return sessions


def _body_client_id(body: Any) -> uuid.UUID | None:
    raw = body.get("client_id") if isinstance(body, dict) else None
    try:
        return uuid.UUID(str(raw))
    except ValueError:
        return None


def _session_answer(patient: Patient, client_id: uuid.UUID) -> dict[str, Any]:
    return {"kind": answers.SESSION_UPLOAD, "owner_id": patient.pk, "client_id": client_id}


def _sync_client_id(raw: Any) -> str | None:
    value = raw.get("client_id") if isinstance(raw, dict) else None
    return value if isinstance(value, str) and len(value) <= 64 else None


@extend_schema_view(
    list=extend_schema(
        tags=["me"],
        operation_id="me_sessions_list",
        summary="The patient's sessions, newest first (cursor-paginated)",
        responses={
            200: SessionLogOutputSerializer(many=True),
            **error_responses(400, 401, 403, 404),
        },
    ),
    retrieve=extend_schema(
        tags=["me"],
        operation_id="me_sessions_retrieve",
        summary="One of the patient's sessions",
        responses={200: SessionLogOutputSerializer, **error_responses(401, 403, 404)},
    ),
)
class SessionViewSet(
    PatientEndpoint, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    serializer_class = SessionLogOutputSerializer
    filterset_class = SessionFilter
    pagination_class = KeysetCursorPagination
    cursor_ordering = ("-performed_at", "-id")
    lookup_value_regex = r"\d+"
    action_throttles = {"create": SessionWriteThrottle, "sync": SyncThrottle}

    def get_queryset(self) -> QuerySet[SessionLog]:
        if _fake_view(self):
            return SessionLog.objects.none()
        return program_selectors.patient_sessions(self.patient)

    def throttle_prefetch(self, request: Request) -> str | None:
        """The cache key `create` reads first (a retry's kept answer), for the throttle to
        fetch in its own round trip (`api.throttles`)."""
        if self.action != "create" or not (client_id := _body_client_id(request.data)):
            return None
        return answers.answer_key(**_session_answer(self.patient, client_id))

    @extend_schema(
        tags=["me"],
        operation_id="me_sessions_create",
        summary="Log a session",
        description="Idempotent on `client_id`: a new session answers 201; a retried upload "
        "with a known `client_id` answers 200 with the stored session and stores nothing. "
        "Exercise entries must belong to the patient's program; if anything is invalid, "
        "nothing is stored.",
        request=SessionInputSerializer,
        examples=SESSION_EXAMPLES,
        responses={
            201: OpenApiResponse(SessionLogOutputSerializer, description="Stored."),
            200: OpenApiResponse(
                SessionLogOutputSerializer, description="Already stored (same client_id)."
            ),
            **error_responses(400, 401, 403, 413, 429),
        },
    )
    def create(self, request: Request) -> Response:
        patient = self.patient
        client_id = _body_client_id(request.data)
        # A retry within the hour is answered with the first answer, kept in the cache: no
        # validation and no query. The answer to a known client_id is the stored session
        # whatever the retry carries. The throttle has read it already (`throttle_prefetch`).
        if client_id and (
            kept := answers.answer_stored(
                **_session_answer(patient, client_id),
                prefetched=getattr(request, "throttle_prefetched", None),
            )
        ):
            return Response(kept, status=status.HTTP_200_OK)
        try:
            serializer = SessionInputSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            # New uploads are not looked up first: the unique key settles a retry the cache
            # no longer holds (session_record answers it with the stored session).
            session, created = program_services.session_record(
                patient=patient,
                source=SessionLog.Source.APP,
                check_existing=False,
                **serializer.to_service_kwargs(),
            )
        except (ValidationError, DjangoValidationError):
            # A retry the body no longer validates (its program ended since, say) still gets
            # the stored session.
            stored = client_id and program_services.session_find(
                patient=patient, client_id=client_id
            )
            if not stored:
                raise
            session, created = stored, False
        if not created:
            _with_entries([session])
        body = SessionLogOutputSerializer(session).data
        if created:  # kept from its creation on, so erasure knows which answers may be alive
            answers.answer_keep(**_session_answer(patient, session.client_id), body=body)
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(
        tags=["me"],
        operation_id="me_sessions_sync",
        summary="Upload up to 100 sessions recorded offline",
        description="Each item is validated and stored on its own: one invalid item never "
        "loses the others. The answer is 200 with one result per item, in request order: "
        "`created`, `duplicate` (client_id already stored; the stored session is returned) "
        "or `invalid` (with `errors`, keyed like a 400 on POST me/sessions/). A body that is "
        "not a list of 1–100 items answers 400 and stores nothing; a body over the size limit "
        "(1 MiB by default) answers 413: split very large uploads.",
        request=SyncInputSerializer,
        examples=SYNC_EXAMPLES,
        responses={200: SyncResultSerializer, **error_responses(400, 401, 403, 413, 429)},
    )
    @action(detail=False, methods=["post"])
    def sync(self, request: Request) -> Response:
        batch = SyncInputSerializer(data=request.data)
        batch.is_valid(raise_exception=True)
        results: list[dict[str, Any]] = []
        for index, raw in enumerate(batch.validated_data["sessions"]):
            result: dict[str, Any] = {
                "index": index,
                "client_id": _sync_client_id(raw),
                "status": "invalid",
                "errors": {},
                "session": None,
            }
            results.append(result)
            if not isinstance(raw, dict):
                result["errors"] = {"non_field_errors": ["Each item must be a session object."]}
                continue
            item = SessionInputSerializer(data=raw)
            if not item.is_valid():
                result["errors"] = error_fields(item.errors)
                continue
            result["client_id"] = str(item.validated_data["client_id"])
            try:
                session, created = program_services.session_record(
                    patient=self.patient, source=SessionLog.Source.SYNC, **item.to_service_kwargs()
                )
            except DjangoValidationError as exc:
                result["errors"] = error_fields(django_validation_error_to_drf(exc).detail)
                continue
            result["status"] = "created" if created else "duplicate"
            result["session"] = session
        _with_entries([r["session"] for r in results if r["session"] is not None])
        counts = {
            kind: sum(1 for r in results if r["status"] == kind)
            for kind in ("created", "duplicate", "invalid")
        }
        return Response(SyncResultSerializer({**counts, "results": results}).data)


# --- check-ins --------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        tags=["me"],
        operation_id="me_checkins_list",
        summary="The patient's symptom check-ins, newest first",
        responses={200: CheckInOutputSerializer(many=True), **error_responses(400, 401, 403, 404)},
    ),
)
class CheckInViewSet(PatientEndpoint, mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = CheckInOutputSerializer
    filterset_class = CheckInFilter
    pagination_class = KeysetCursorPagination
    cursor_ordering = ("-created_at", "-id")
    action_throttles = {"create": WriteThrottle}

    def get_queryset(self) -> QuerySet[CheckIn]:
        if _fake_view(self):
            return CheckIn.objects.none()
        return CheckIn.objects.filter(patient=self.patient)

    @extend_schema(
        tags=["me"],
        operation_id="me_checkins_create",
        summary="Send a symptom check-in: pain now and the red-flag questions",
        description="Any red flag answered yes is stored, raises an urgent alert for the "
        "clinic, and the answer's `advice` tells the patient in plain words what to do now "
        "(call emergency services, or contact the clinic today). With a known `client_id` "
        "the stored check-in is returned (200) and no second alert is raised.",
        request=CheckInInputSerializer,
        examples=CHECKIN_EXAMPLES,
        responses={
            201: OpenApiResponse(CheckInResultSerializer, description="Stored."),
            200: OpenApiResponse(
                CheckInResultSerializer, description="Already stored (same client_id)."
            ),
            **error_responses(400, 401, 403, 413, 429),
        },
    )
    def create(self, request: Request) -> Response:
        serializer = CheckInInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = program_services.checkin_record(patient=self.patient, **serializer.validated_data)
        body = {
            "checkin": result.checkin,
            "urgency": result.urgency,
            "advice": result.advice,
            "red_flags": result.red_flags,
            "clinic_alerted": bool(result.red_flags),
        }
        return Response(
            CheckInResultSerializer(body).data,
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        )

    @extend_schema(
        tags=["me"],
        operation_id="me_checkins_questions",
        summary="The red-flag questions to show in a check-in",
        responses={200: RedFlagSerializer(many=True), **error_responses(*PATIENT_ERRORS)},
    )
    @action(detail=False, methods=["get"], pagination_class=None, filterset_class=None)
    def questions(self, request: Request) -> Response:
        return Response(RedFlagSerializer(red_flags.QUESTIONS, many=True).data)


# --- outcome measures -------------------------------------------------------------------------


class InstrumentListView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=["instruments"],
        operation_id="instruments_list",
        summary="Outcome-measure definitions: items, answer options, scoring and MCID",
        responses={200: InstrumentSerializer(many=True), **error_responses(401)},
    )
    def get(self, request: Request) -> Response:
        definitions = [instruments.instrument_as_dict(code) for code in instruments.INSTRUMENTS]
        return Response(InstrumentSerializer(definitions, many=True).data)


@extend_schema_view(
    list=extend_schema(
        tags=["me"],
        operation_id="me_measures_list",
        summary="The patient's outcome-measure responses, newest first",
        responses={
            200: MeasureResponseOutputSerializer(many=True),
            **error_responses(400, 401, 403, 404),
        },
    ),
)
class MeasureViewSet(PatientEndpoint, mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = MeasureResponseOutputSerializer
    filterset_class = MeasureFilter
    pagination_class = KeysetCursorPagination
    cursor_ordering = ("-taken_at", "-id")
    action_throttles = {"create": WriteThrottle}

    def get_queryset(self) -> QuerySet[MeasureResponse]:
        if _fake_view(self):
            return MeasureResponse.objects.none()
        return MeasureResponse.objects.filter(patient=self.patient)

    @extend_schema(
        tags=["me"],
        operation_id="me_measures_create",
        summary="Submit an outcome-measure questionnaire; the server scores it",
        description="Answers are validated against the instrument (GET instruments/); errors "
        "are keyed `answers.<item>` (e.g. `answers.q3`, `answers.activities.1.rating`). "
        "Idempotent on the optional `client_id` (200 with the stored response).",
        request=MeasureInputSerializer,
        examples=MEASURE_EXAMPLES,
        responses={
            201: OpenApiResponse(MeasureResponseOutputSerializer, description="Stored."),
            200: OpenApiResponse(
                MeasureResponseOutputSerializer, description="Already stored (same client_id)."
            ),
            **error_responses(400, 401, 403, 413, 429),
        },
    )
    def create(self, request: Request) -> Response:
        serializer = MeasureInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        measure, created = program_services.measure_submit(
            patient=self.patient, **serializer.validated_data
        )
        return Response(
            MeasureResponseOutputSerializer(measure).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )
