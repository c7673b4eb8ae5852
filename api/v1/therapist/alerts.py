"""alerts/: the clinic's alerts (the triage queue) and acknowledging one."""

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from api.v1.filters import AlertFilter
from programs import alerts as program_alerts
from programs import selectors as program_selectors
from programs.models import Alert

from .base import LIST_ERRORS, WRITE_ERRORS, StaffViewSet
from .progress_serializers import AlertAcknowledgeSerializer, AlertSerializer

TAG = ["alerts (staff)"]
URGENCY_ORDER = ("red_flag_first", "rank", "-opened_at", "-id")
NEWEST_FIRST = ("-opened_at", "-id")


def _wants_open_only(request: Request) -> bool:
    # The same spelling django-filter's BooleanWidget accepts for `open`.
    return request.query_params.get("open", "").lower() in {"true", "1"}


@extend_schema_view(
    list=extend_schema(
        tags=TAG,
        summary="The clinic's alerts",
        description=(
            "With `open=true`: the triage queue, most urgent first (red flags, then by "
            "severity, then newest). Otherwise newest first."
        ),
        responses={200: AlertSerializer(many=True), **LIST_ERRORS},
    )
)
class AlertViewSet(mixins.ListModelMixin, StaffViewSet):
    serializer_class = AlertSerializer
    filterset_class = AlertFilter

    def get_queryset(self) -> QuerySet[Alert]:
        if self.schema_only:
            return Alert.objects.none()
        if self.action == "list" and _wants_open_only(self.request):
            alerts = program_selectors.clinic_open_alerts(self.clinic)
        else:
            alerts = Alert.objects.filter(clinic_id=self.practitioner.clinic_id)
        return alerts.select_related("patient", "acknowledged_by")

    def get_cursor_ordering(self, request: Request) -> tuple[str, ...]:
        return URGENCY_ORDER if _wants_open_only(request) else NEWEST_FIRST

    @extend_schema(
        tags=TAG,
        summary="Acknowledge an alert with a note (400 if it already was)",
        request=AlertAcknowledgeSerializer,
        responses={200: AlertSerializer, **WRITE_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def acknowledge(self, request: Request, pk: int) -> Response:
        alert = self.get_object()
        serializer = AlertAcknowledgeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        program_alerts.alert_acknowledge(
            alert=alert, by=request.user, note=serializer.validated_data["note"]
        )
        return Response(AlertSerializer(self.get_queryset().get(pk=alert.pk)).data)
