"""Account-level operations shared by every app (layer 1)."""

import uuid
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import AbstractUser
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken


def user_revoke_tokens(*, user: AbstractUser) -> int:
    """Blacklist every outstanding refresh token of `user`; returns how many were revoked."""
    outstanding = OutstandingToken.objects.filter(user=user).exclude(blacklistedtoken__isnull=False)
    BlacklistedToken.objects.bulk_create(
        [BlacklistedToken(token=token) for token in outstanding], ignore_conflicts=True
    )
    return len(outstanding)


def user_disable(*, user: AbstractUser) -> None:
    """Disable a login for good: no password, no tokens, no personal fields."""
    user_revoke_tokens(user=user)
    user.is_active = False
    user.username = f"erased-{uuid.uuid4().hex[:16]}"
    user.first_name = ""
    user.last_name = ""
    user.email = ""
    user.set_unusable_password()
    user.save()


class StaffModelBackend(ModelBackend):
    """Django's `ModelBackend`, loading a session's user with its practitioner and clinic.

    Every dashboard request needs both (`practitioner_required`): one query instead of two.
    A user without a practitioner (a patient) loads as before.
    """

    def get_user(self, user_id: Any) -> AbstractUser | None:
        model = get_user_model()
        try:
            user = model._default_manager.select_related("practitioner__clinic").get(pk=user_id)
        except model.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None
