"""Token endpoints: log in, refresh (rotating), log out (blacklist), claim an invite.

These take credentials in the body, so they use no authentication class (no session, no CSRF)
and are throttled per client IP. Repeated failed logins lock out through django-axes.
"""

from typing import Any

from axes.helpers import get_client_ip_address
from axes.utils import reset as axes_reset
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.serializers import TokenRefreshSerializer
from rest_framework_simplejwt.tokens import RefreshToken

from api.throttles import ClaimThrottle, LoginThrottle
from api.tokens import CallerRefreshToken, CallerTokenObtainPairSerializer
from patients import services as patient_services

from .common_serializers import error_responses
from .patient_serializers import (
    ClaimResponseSerializer,
    ClaimSerializer,
    LoginSerializer,
    RefreshSerializer,
    TokenPairSerializer,
)


class LockedOut(exceptions.Throttled):
    default_detail = "Too many failed logins. Try again later."
    default_code = "locked_out"


def _lockout_wait_seconds() -> int:
    cooloff = settings.AXES_COOLOFF_TIME
    return int(cooloff.total_seconds()) if cooloff else 0


class CredentialsView(APIView):
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    def get_authenticate_header(self, request: Request) -> str:
        # Without authentication classes DRF would turn a 401 into a 403.
        return 'Bearer realm="api"'


class TokenObtainView(CredentialsView):
    throttle_classes = [LoginThrottle]

    @extend_schema(
        tags=["auth"],
        operation_id="auth_token_obtain",
        summary="Log in: username and password for an access and a refresh token",
        request=LoginSerializer,
        responses={200: TokenPairSerializer, **error_responses(400, 401, 413, 429)},
        description="A 429 also answers once the account is locked out after repeated failed "
        "logins from this address (django-axes; `Retry-After` gives the cool-off).",
    )
    def post(self, request: Request) -> Response:
        # The documented shape first (lengths, no NUL bytes): simplejwt's serializer has no
        # limits, and axes would store an over-long or NUL-laden username (a 500 on PostgreSQL).
        LoginSerializer(data=request.data).is_valid(raise_exception=True)
        serializer = CallerTokenObtainPairSerializer(
            data=request.data, context={"request": request}
        )
        try:
            serializer.is_valid(raise_exception=True)
        except exceptions.AuthenticationFailed:
            # axes flags the request when this attempt hit, or was refused by, the lockout.
            if getattr(request, "axes_locked_out", False):
                raise LockedOut(wait=_lockout_wait_seconds()) from None
            raise
        axes_reset(ip=get_client_ip_address(request), username=serializer.user.get_username())
        return Response(serializer.validated_data)


class TokenRefreshView(CredentialsView):
    @extend_schema(
        tags=["auth"],
        operation_id="auth_token_refresh",
        summary="Exchange a refresh token for a new access and refresh token",
        description="Refresh tokens rotate: the one sent is blacklisted and cannot be used again.",
        request=RefreshSerializer,
        responses={200: TokenPairSerializer, **error_responses(400, 401, 413)},
    )
    def post(self, request: Request) -> Response:
        serializer = TokenRefreshSerializer(data=request.data, context={"request": request})
        try:
            with transaction.atomic():
                serializer.is_valid(raise_exception=True)
        except TokenError as exc:
            raise InvalidToken(exc.args[0]) from exc
        except get_user_model().DoesNotExist as exc:
            raise exceptions.AuthenticationFailed("The account no longer exists.") from exc
        return Response(serializer.validated_data)


class LogoutView(CredentialsView):
    @extend_schema(
        tags=["auth"],
        operation_id="auth_logout",
        summary="Log out: blacklist a refresh token",
        description="Works with an expired access token: the refresh token is the credential. "
        "Access tokens already issued stay valid until they expire (minutes).",
        request=RefreshSerializer,
        responses={204: None, **error_responses(400, 401, 413)},
    )
    def post(self, request: Request) -> Response:
        serializer = RefreshSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            RefreshToken(serializer.validated_data["refresh"]).blacklist()
        except TokenError as exc:
            raise InvalidToken(exc.args[0]) from exc
        return Response(status=status.HTTP_204_NO_CONTENT)


class ClaimView(CredentialsView):
    throttle_classes = [ClaimThrottle]

    @extend_schema(
        tags=["auth"],
        operation_id="auth_claim",
        summary="Claim a patient invite: choose a username and password, get tokens",
        description="The invite code works once and expires; an unknown, used or expired code "
        "answers 400 on `invite_code`.",
        request=ClaimSerializer,
        responses={201: ClaimResponseSerializer, **error_responses(400, 413, 429)},
    )
    def post(self, request: Request) -> Response:
        serializer = ClaimSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        patient = patient_services.patient_claim(**serializer.validated_data)
        refresh = CallerRefreshToken.for_user(patient.user)
        body = {
            "access": str(refresh.access_token),
            "refresh": str(refresh),
            "patient": {
                "id": patient.pk,
                "first_name": patient.first_name,
                "last_name": patient.last_name,
            },
        }
        return Response(ClaimResponseSerializer(body).data, status=status.HTTP_201_CREATED)
