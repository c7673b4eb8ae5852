"""JWT authentication that loads the caller's profile with the user, in one query.

simplejwt reads the user by id; every endpoint then reads the caller's patient or practitioner
(`api.permissions`) and staff endpoints the clinic. Here one statement joins them
(`api.caller`): only the profile the token's caller claim names (`api.tokens`), or both for a
token without the claim. A missing profile is cached as absent, so `user.patient` still raises
`DoesNotExist` for staff. The user is looked up by primary key (`USER_ID_FIELD` is `id`).
"""

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext_lazy as _
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken, TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import Token
from rest_framework_simplejwt.utils import aware_utcnow, get_md5_hash_password

from .caller import caller_query
from .tokens import CALLER_CLAIM, OTHER, PATIENT, STAFF

CALLER_RELATIONS = ("patient", "practitioner__clinic")
RELATIONS_BY_CALLER: dict[str, tuple[str, ...]] = {
    PATIENT: ("patient",),
    STAFF: ("practitioner__clinic",),
    OTHER: CALLER_RELATIONS,
}


# Access tokens already verified by this process, by their encoded form (`get_validated_token`).
VERIFIED_TOKENS_MAX = 2048
_verified: dict[bytes, Token] = {}


class CallerJWTAuthentication(JWTAuthentication):
    """simplejwt's `JWTAuthentication` with the same checks, in one query per request."""

    def get_validated_token(self, raw_token: bytes) -> Token:
        """simplejwt's check, done once per token and process.

        An app sends the same access token with every request for its 15-minute life, and
        decoding it again (base64, JSON, the signature, the claims) was a tenth of a retried
        upload's CPU. What decoding proves cannot change for the same bytes, so the verified
        token is kept by its encoded form; its expiry is checked again on every use, and
        everything that can revoke a token (the user's password, their account's state) is
        read with the user on every request, as before (`get_user`). Thread-safe: single dict
        operations; at the limit the dict starts again.
        """
        token = _verified.get(raw_token)
        if token is not None:
            try:
                token.check_exp(current_time=aware_utcnow())
            except TokenError:
                _verified.pop(raw_token, None)  # expired: simplejwt says so, below
            else:
                return token
        token = super().get_validated_token(raw_token)
        if len(_verified) >= VERIFIED_TOKENS_MAX:
            _verified.clear()
        _verified[raw_token] = token
        return token

    def get_user(self, validated_token: Token) -> Any:
        try:
            user_id = validated_token[api_settings.USER_ID_CLAIM]
        except KeyError as exc:
            raise InvalidToken(_("Token contained no recognizable user identification")) from exc
        try:
            user_id = self.user_model._meta.pk.to_python(user_id)
        except DjangoValidationError as exc:
            raise InvalidToken(_("Token contained no recognizable user identification")) from exc
        relations = RELATIONS_BY_CALLER.get(validated_token.get(CALLER_CLAIM), CALLER_RELATIONS)
        user = caller_query(relations).load(user_id)
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
