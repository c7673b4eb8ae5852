"""JWT authentication that loads the caller's profile with the user, in one query.

simplejwt reads the user by id; every endpoint then reads the caller's patient or practitioner
(`api.permissions`) and staff endpoints the clinic. Here one query joins them: only the profile
the token's caller claim names (`api.tokens`), or both for a token without the claim.
`select_related` follows the reverse one-to-one and caches a missing side as absent, so
`user.patient` still raises `DoesNotExist` for staff.
"""

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import Token
from rest_framework_simplejwt.utils import get_md5_hash_password

from .tokens import CALLER_CLAIM, OTHER, PATIENT, STAFF

CALLER_RELATIONS = ("patient", "practitioner__clinic")
RELATIONS_BY_CALLER: dict[str, tuple[str, ...]] = {
    PATIENT: ("patient",),
    STAFF: ("practitioner__clinic",),
    OTHER: CALLER_RELATIONS,
}


class CallerJWTAuthentication(JWTAuthentication):
    """simplejwt's `JWTAuthentication` with the same checks, in one query per request."""

    def get_user(self, validated_token: Token) -> Any:
        try:
            user_id = validated_token[api_settings.USER_ID_CLAIM]
        except KeyError as exc:
            raise InvalidToken(_("Token contained no recognizable user identification")) from exc
        relations = RELATIONS_BY_CALLER.get(validated_token.get(CALLER_CLAIM), CALLER_RELATIONS)
        # A slice, not `.first()`: the id is unique, and no ORDER BY to compile or run.
        users = self.user_model.objects.select_related(*relations).filter(
            **{api_settings.USER_ID_FIELD: user_id}
        )[:1]
        user = next(iter(users), None)
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
