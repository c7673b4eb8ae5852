"""JWT authentication that loads the caller's role with the user.

simplejwt reads the user by id; every endpoint then reads the caller's patient or practitioner
(`api.permissions`) and staff endpoints the clinic: three queries before the view starts. Here
one query joins them (`select_related` follows the reverse one-to-ones; a missing side is
cached as absent, so `user.patient` still raises `DoesNotExist` for staff).
"""

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import Token
from rest_framework_simplejwt.utils import get_md5_hash_password

CALLER_RELATIONS = ("patient", "practitioner__clinic")


class CallerJWTAuthentication(JWTAuthentication):
    """simplejwt's `JWTAuthentication` with the same checks, in one query per request."""

    def get_user(self, validated_token: Token) -> Any:
        try:
            user_id = validated_token[api_settings.USER_ID_CLAIM]
        except KeyError as exc:
            raise InvalidToken(_("Token contained no recognizable user identification")) from exc
        user = (
            self.user_model.objects.select_related(*CALLER_RELATIONS)
            .filter(**{api_settings.USER_ID_FIELD: user_id})
            .first()
        )
        if user is None:
            raise AuthenticationFailed(_("User not found"), code="user_not_found")
        if api_settings.CHECK_USER_IS_ACTIVE and not user.is_active:
            raise AuthenticationFailed(_("User is inactive"), code="user_inactive")
        if api_settings.CHECK_REVOKE_TOKEN and validated_token.get(
            api_settings.REVOKE_TOKEN_CLAIM
        ) != get_md5_hash_password(user.password):
            raise AuthenticationFailed(
                _("The user's password has been changed."), code="password_changed"
            )
        return user
