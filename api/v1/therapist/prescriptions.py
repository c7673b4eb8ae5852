"""patients/{patient_pk}/prescriptions/: assign, change and close a patient's programs."""

from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from programs import services as program_services
from programs.models import PrescribedExercise, Prescription

from .base import DELETE_ERRORS, LIST_ERRORS, OBJECT_READ_ERRORS, WRITE_ERRORS, PatientNestedViewSet
from .program_serializers import (
    DosageUpdateSerializer,
    ExerciseAddSerializer,
    PhaseAdvanceSerializer,
    PrescribedExerciseSerializer,
    PrescriptionAssignSerializer,
    PrescriptionSerializer,
    ProgramDateSerializer,
)

TAG = ["prescriptions (staff)"]
PRECAUTION_400 = (
    "400 also when an exercise conflicts with the patient's precautions and "
    "`allow_precaution_override` is not set: `errors.exercises` names the exercise and the "
    "precautions it breaks. With the override (and a reason) the exercise is assigned and the "
    "override is recorded on it."
)


def _dosage(validated: dict, exercise) -> program_services.ExerciseChoice:
    return program_services.ExerciseChoice(
        exercise=exercise,
        sets=validated.get("sets", exercise.default_sets),
        reps=validated.get("reps", exercise.default_reps),
        hold_seconds=validated.get("hold_seconds", exercise.default_hold_seconds),
        notes=validated.get("notes", ""),
    )


def _program_change(summary: str) -> dict:
    return {
        "tags": TAG,
        "summary": summary,
        "request": ProgramDateSerializer,
        "responses": {200: PrescriptionSerializer, **WRITE_ERRORS},
    }


@extend_schema_view(
    list=extend_schema(
        tags=TAG,
        summary="A patient's programs, newest first",
        responses={200: PrescriptionSerializer(many=True), **LIST_ERRORS},
    ),
    retrieve=extend_schema(
        tags=TAG,
        summary="One program with the exercises in force",
        responses={200: PrescriptionSerializer, **OBJECT_READ_ERRORS},
    ),
)
class PrescriptionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PatientNestedViewSet):
    serializer_class = PrescriptionSerializer
    cursor_ordering = ("-start_date", "-id")

    def get_queryset(self) -> QuerySet[Prescription]:
        if self.schema_only:
            return Prescription.objects.none()
        return (
            Prescription.objects.filter(patient=self.patient)
            .select_related("protocol", "current_phase", "prescriber__user")
            .prefetch_related(
                Prefetch(
                    "exercises",
                    queryset=PrescribedExercise.objects.filter(active=True)
                    .select_related("exercise")
                    .order_by("order", "id"),
                    to_attr="active_exercises",
                )
            )
        )

    def get_serializer_context(self) -> dict:
        context = super().get_serializer_context()
        if not self.schema_only:
            context["patient"] = self.patient
        return context

    def _input(self, serializer_class, partial: bool = False):
        serializer = serializer_class(
            data=request_data(self.request), partial=partial, context=self.get_serializer_context()
        )
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def _render(self, prescription: Prescription, code: int = status.HTTP_200_OK) -> Response:
        fresh = self.get_queryset().get(pk=prescription.pk)
        return Response(PrescriptionSerializer(fresh).data, status=code)

    def _entry(self, prescription: Prescription, entry_id: int) -> PrescribedExercise:
        return get_object_or_404(
            PrescribedExercise.objects.select_related("exercise"),
            prescription=prescription,
            pk=entry_id,
        )

    @extend_schema(
        tags=TAG,
        summary="Assign a program: a protocol (from its first or a chosen phase) or custom",
        description=PRECAUTION_400,
        request=PrescriptionAssignSerializer,
        responses={201: PrescriptionSerializer, **WRITE_ERRORS},
    )
    def create(self, request: Request, patient_pk: int) -> Response:
        data = self._input(PrescriptionAssignSerializer)
        exercises = data.get("exercises")
        prescription = program_services.program_assign(
            patient=self.patient,
            prescriber=self.practitioner,
            protocol=data.get("protocol"),
            phase=data.get("phase"),
            exercises=[_dosage(item, item["exercise"]) for item in exercises]
            if exercises
            else None,
            name=data.get("name", ""),
            start_date=data.get("start_date"),
            sessions_per_week=data.get("sessions_per_week"),
            allow_precaution_override=data["allow_precaution_override"],
            override_reason=data["override_reason"],
        )
        return self._render(prescription, status.HTTP_201_CREATED)

    @extend_schema(
        tags=TAG,
        summary="Move a protocol program to its next (or a chosen) phase",
        description="The new phase's exercises replace the current ones. " + PRECAUTION_400,
        request=PhaseAdvanceSerializer,
        responses={200: PrescriptionSerializer, **WRITE_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def advance(self, request: Request, patient_pk: int, pk: int) -> Response:
        prescription = self.get_object()
        data = self._input(PhaseAdvanceSerializer)
        prescription = program_services.phase_advance(
            prescription=prescription,
            to_phase=data.get("to_phase"),
            on_date=data.get("on_date"),
            allow_precaution_override=data["allow_precaution_override"],
            override_reason=data["override_reason"],
        )
        return self._render(prescription)

    @extend_schema(**_program_change("Pause a program (paused days plan no sessions)"))
    @action(detail=True, methods=["post"])
    def pause(self, request: Request, patient_pk: int, pk: int) -> Response:
        prescription = self.get_object()
        data = self._input(ProgramDateSerializer)
        return self._render(
            program_services.program_pause(prescription=prescription, on_date=data.get("on_date"))
        )

    @extend_schema(**_program_change("Resume a paused program"))
    @action(detail=True, methods=["post"])
    def resume(self, request: Request, patient_pk: int, pk: int) -> Response:
        prescription = self.get_object()
        data = self._input(ProgramDateSerializer)
        return self._render(
            program_services.program_resume(prescription=prescription, on_date=data.get("on_date"))
        )

    @extend_schema(**_program_change("Complete a program (nothing is planned after)"))
    @action(detail=True, methods=["post"])
    def complete(self, request: Request, patient_pk: int, pk: int) -> Response:
        prescription = self.get_object()
        data = self._input(ProgramDateSerializer)
        return self._render(
            program_services.program_complete(
                prescription=prescription, on_date=data.get("on_date")
            )
        )

    @extend_schema(
        tags=TAG,
        summary="Add an exercise to a program",
        description="Omitted dosage fields take the library's defaults. " + PRECAUTION_400,
        request=ExerciseAddSerializer,
        responses={201: PrescribedExerciseSerializer, **WRITE_ERRORS},
    )
    @action(detail=True, methods=["post"], url_path="exercises")
    def add_exercise(self, request: Request, patient_pk: int, pk: int) -> Response:
        prescription = self.get_object()
        data = self._input(ExerciseAddSerializer)
        entry = program_services.prescription_add_exercise(
            prescription=prescription,
            choice=_dosage(data, data["exercise"]),
            allow_precaution_override=data["allow_precaution_override"],
            override_reason=data["override_reason"],
        )
        return Response(
            PrescribedExerciseSerializer(self._entry(prescription, entry.pk)).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(
        tags=TAG,
        summary="Change the dosage of one exercise in a program",
        request=DosageUpdateSerializer,
        responses={200: PrescribedExerciseSerializer, **WRITE_ERRORS},
    )
    @action(detail=True, methods=["patch"], url_path="exercises/<int:entry_id>")
    def exercise_entry(self, request: Request, patient_pk: int, pk: int, entry_id: int) -> Response:
        prescription = self.get_object()
        entry = self._entry(prescription, entry_id)
        data = self._input(DosageUpdateSerializer, partial=True)
        entry = program_services.prescription_update_dosage(prescribed_exercise=entry, **data)
        return Response(PrescribedExerciseSerializer(entry).data)

    @extend_schema(
        tags=TAG,
        summary="Take an exercise out of a program (its past logs stay)",
        request=None,
        responses={204: None, **DELETE_ERRORS},
    )
    @exercise_entry.mapping.delete
    def remove_exercise(
        self, request: Request, patient_pk: int, pk: int, entry_id: int
    ) -> Response:
        prescription = self.get_object()
        program_services.prescription_remove_exercise(
            prescribed_exercise=self._entry(prescription, entry_id)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


def request_data(request: Request):
    """The parsed body; an empty body counts as an empty object."""
    return request.data if request.data is not None else {}
