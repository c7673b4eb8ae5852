"""Clinic reports for staff: streamed CSV files."""

import csv
from collections.abc import Iterable, Iterator

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.request import Request

from api.v1.common_serializers import error_responses
from api.v1.therapist.base import StaffViewSet
from clinic.audit import audit_record
from clinic.models import AuditEvent
from programs.exports import clinic_adherence_rows


class _Echo:
    """A file-like object whose write() returns the line, for csv.writer over a generator."""

    def write(self, value: str) -> str:
        return value


def stream_csv(rows: Iterable[list[str]], filename: str) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())
    lines: Iterator[str] = (writer.writerow(row) for row in rows)
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


class ClinicReportViewSet(StaffViewSet):
    @extend_schema(
        tags=["reports (staff)"],
        summary="The clinic's adherence summary as CSV (streamed; one row per patient)",
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY),
            **error_responses(401, 403),
        },
    )
    def adherence_csv(self, request: Request) -> StreamingHttpResponse:
        audit_record(
            request,
            action=AuditEvent.Action.EXPORT,
            object_type="patient",
            patient_ids=self.clinic_patients().values_list("pk", flat=True),
        )
        return stream_csv(clinic_adherence_rows(self.clinic), f"{self.clinic.slug}-adherence.csv")
