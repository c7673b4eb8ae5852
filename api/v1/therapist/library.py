"""exercises/ and protocols/: the read-only library, for clinic staff and patients."""

from django.db.models import Prefetch, QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, viewsets
from rest_framework.permissions import IsAuthenticated

from api.permissions import IsPatient, IsPractitioner
from api.v1.filters import ExerciseFilter, ProtocolFilter
from programs.models import Exercise, Protocol, ProtocolExercise, ProtocolPhase

from .base import LIST_ERRORS, OBJECT_READ_ERRORS
from .library_serializers import ExerciseSerializer, ProtocolDetailSerializer, ProtocolSerializer
from .pagination import KeysetCursorPagination

TAG = ["library"]


class LibraryViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    permission_classes = [IsAuthenticated, IsPractitioner | IsPatient]
    pagination_class = KeysetCursorPagination
    lookup_value_converter = "int"
    cursor_ordering = ("name", "id")


@extend_schema_view(
    list=extend_schema(
        tags=TAG,
        summary="The exercise library",
        responses={200: ExerciseSerializer(many=True), **LIST_ERRORS},
    ),
    retrieve=extend_schema(
        tags=TAG, summary="One exercise", responses={200: ExerciseSerializer, **OBJECT_READ_ERRORS}
    ),
)
class ExerciseViewSet(LibraryViewSet):
    serializer_class = ExerciseSerializer
    filterset_class = ExerciseFilter
    queryset = Exercise.objects.filter(is_active=True)


@extend_schema_view(
    list=extend_schema(
        tags=TAG,
        summary="The protocol templates",
        responses={200: ProtocolSerializer(many=True), **LIST_ERRORS},
    ),
    retrieve=extend_schema(
        tags=TAG,
        summary="A protocol with its phases, progression criteria and exercises",
        responses={200: ProtocolDetailSerializer, **OBJECT_READ_ERRORS},
    ),
)
class ProtocolViewSet(LibraryViewSet):
    filterset_class = ProtocolFilter

    def get_queryset(self) -> QuerySet[Protocol]:
        protocols = Protocol.objects.filter(is_active=True)
        if self.action != "retrieve":
            return protocols
        phase_exercises = ProtocolExercise.objects.select_related("exercise").order_by(
            "order", "id"
        )
        return protocols.prefetch_related(
            Prefetch(
                "phases",
                queryset=ProtocolPhase.objects.order_by("order").prefetch_related(
                    Prefetch("exercises", queryset=phase_exercises)
                ),
            )
        )

    def get_serializer_class(self):
        return ProtocolDetailSerializer if self.action == "retrieve" else ProtocolSerializer
