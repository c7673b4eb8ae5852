"""Tokens that say which kind of caller they were issued to.

The claim only tells authentication which profile to load with the user (a patient's or a
practitioner's), so that one join serves the request instead of three. It grants nothing:
permissions read the loaded profile, and a profile the claim did not name is still read (one
more query) if an endpoint asks for it. Tokens issued before the claim existed load both.
"""

from typing import Any

from rest_framework_simplejwt.serializers import TokenObtainPairSerializer
from rest_framework_simplejwt.tokens import RefreshToken

CALLER_CLAIM = "caller"
PATIENT, STAFF, OTHER = "patient", "staff", "other"


def caller_kind(user: Any) -> str:
    """patient, staff or other: which profile the user has (a query per profile)."""
    if hasattr(user, "patient"):
        return PATIENT
    if hasattr(user, "practitioner"):
        return STAFF
    return OTHER


class CallerRefreshToken(RefreshToken):
    """simplejwt's refresh token with the caller claim; its access tokens copy the claim, and
    a rotated refresh token keeps it."""

    @classmethod
    def for_user(cls, user: Any) -> "CallerRefreshToken":
        token = super().for_user(user)
        token[CALLER_CLAIM] = caller_kind(user)
        return token  # type: ignore[return-value]


class CallerTokenObtainPairSerializer(TokenObtainPairSerializer):
    token_class = CallerRefreshToken
