"""One error shape everywhere: {"type", "detail", "errors": {field: [messages]}}."""

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

ERROR_TYPES = {
    400: "invalid",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    429: "throttled",
}


class RequestTooLarge(exceptions.APIException):
    status_code = 413
    default_detail = "The request body is too large."
    default_code = "too_large"


class ErrorSerializer(serializers.Serializer):
    """The body of every 4xx response."""

    type = serializers.CharField()
    detail = serializers.CharField()
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()), required=False
    )


def _flatten(data: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error structures as {"field.sub.0.name": [messages]}."""
    if isinstance(data, dict):
        flat: dict[str, list[str]] = {}
        for key, value in data.items():
            name = "non_field_errors" if key in ("__all__", "non_field_errors") else str(key)
            flat.update(_flatten(value, f"{prefix}.{name}" if prefix else name))
        return flat
    if isinstance(data, list):
        if all(not isinstance(item, dict | list) for item in data):
            return {prefix or "non_field_errors": [str(item) for item in data]}
        flat = {}
        for index, item in enumerate(data):
            if item:
                flat.update(_flatten(item, f"{prefix}.{index}" if prefix else str(index)))
        return flat
    return {prefix or "non_field_errors": [str(data)]}


def django_validation_error_to_drf(error: DjangoValidationError) -> exceptions.ValidationError:
    if hasattr(error, "error_dict"):
        return exceptions.ValidationError(error.message_dict)
    return exceptions.ValidationError({"non_field_errors": error.messages})


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DjangoValidationError):
        exc = django_validation_error_to_drf(exc)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, RequestDataTooBig):
        # Over DATA_UPLOAD_MAX_MEMORY_SIZE: Django alone would answer an HTML 400.
        exc = RequestTooLarge()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    status = response.status_code
    body: dict[str, Any] = {"type": ERROR_TYPES.get(status, "error")}
    if isinstance(exc, exceptions.ValidationError):
        body["detail"] = "The request has invalid fields."
        body["errors"] = _flatten(response.data)
    else:
        detail = response.data.get("detail") if isinstance(response.data, dict) else None
        body["detail"] = str(detail or exc)
    response.data = body
    return response


def error_fields(detail: Any) -> dict[str, list[str]]:
    """Field errors as in a 400 body's `errors`, for results that report errors per item."""
    return _flatten(detail)
