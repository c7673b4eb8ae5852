from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.errors import ErrorSerializer
from api.permissions import IsPractitioner, caller_practitioner
from patients.models import Patient

from .bundle import patient_bundle

FHIR_JSON = "application/fhir+json"


class FhirJsonRenderer(JSONRenderer):
    media_type = FHIR_JSON
    format = "fhir"


BUNDLE_RESPONSE = OpenApiResponse(
    response=OpenApiTypes.OBJECT,
    description="A FHIR R4 `Bundle` of type `collection`: Patient, Organization, a CarePlan "
    "and ServiceRequest per program, an Observation per session, a QuestionnaireResponse and "
    "a score Observation per outcome measure. Entries reference each other by `urn:uuid:` "
    "fullUrls, which stay the same from one export to the next.",
)


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(response=ErrorSerializer, description=description)


class PatientFhirView(APIView):
    """One patient's record as FHIR R4, for clinic staff of the patient's clinic."""

    permission_classes = [IsAuthenticated, IsPractitioner]
    # `application/fhir+json` unless the client asks for plain `application/json`.
    renderer_classes = [FhirJsonRenderer, JSONRenderer]

    @extend_schema(
        operation_id="patients_fhir_export",
        summary="Export a patient's record as a FHIR R4 Bundle",
        tags=["fhir"],
        # drf-spectacular documents the `pk` URL kwarg as `id`.
        parameters=[
            OpenApiParameter("id", int, OpenApiParameter.PATH, description="The patient's id.")
        ],
        responses={
            (200, FHIR_JSON): BUNDLE_RESPONSE,
            (200, "application/json"): BUNDLE_RESPONSE,
            (401, "application/json"): _error("Not signed in."),
            (403, "application/json"): _error("The caller is not clinic staff."),
            (404, "application/json"): _error("No such patient in the caller's clinic."),
        },
    )
    def get(self, request: Request, pk: int) -> Response:
        practitioner = caller_practitioner(request)
        assert practitioner is not None  # IsPractitioner ran first
        patient = get_object_or_404(
            Patient.objects.filter(clinic_id=practitioner.clinic_id).select_related("clinic"),
            pk=pk,
        )
        return Response(patient_bundle(patient))

    def finalize_response(self, request: Request, response: Response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        # Errors have Stride's one error shape, which is not a FHIR resource: say so.
        if response.status_code >= 400 and isinstance(response.accepted_renderer, FhirJsonRenderer):
            response.accepted_renderer = JSONRenderer()
            response.accepted_media_type = JSONRenderer.media_type
        return response
