"""drf-spectacular extensions that keep the OpenAPI schema exact (loaded in ApiConfig.ready)."""

from typing import Any

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from drf_spectacular.extensions import OpenApiSerializerFieldExtension


class TimeFieldExtension(OpenApiSerializerFieldExtension):
    """Times of day are local wall-clock times ("18:30:00"), with no UTC offset.

    OpenAPI's `format: time` is RFC 3339's full-time, which requires an offset, so validators
    (schemathesis, generated clients) reject every value DRF renders. `partial-time` is the
    RFC 3339 name for exactly what we send.
    """

    target_class = "rest_framework.fields.TimeField"
    match_subclasses = True

    def map_serializer_field(self, auto_schema: Any, direction: str) -> dict[str, Any]:
        return {
            "type": "string",
            "format": "partial-time",
            "pattern": r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?$",
            "example": "18:30:00",
        }


class CallerJWTScheme(SimpleJWTScheme):
    """Our JWT authentication is simplejwt's, so its security scheme is simplejwt's too."""

    target_class = "api.authentication.CallerJWTAuthentication"
