"""Named throttles. Rates live in settings (REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]).

The rate is read on every request rather than once at import, so a settings override (tests,
an environment change picked up on reload) takes effect.
"""

from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView


class NamedRateThrottle(SimpleRateThrottle):
    """A rate limit under `scope`, keyed by the caller (user id, else client IP)."""

    scope: str = ""
    writes_only = False

    def __init__(self) -> None:
        # SimpleRateThrottle reads its rate in __init__; do it from the live settings.
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)

    def get_rate(self) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def allow_request(self, request: Request, view: APIView) -> bool:
        if self.writes_only and request.method in SAFE_METHODS:
            return True
        return super().allow_request(request, view)

    def get_cache_key(self, request: Request, view: APIView) -> str:
        if request.user and request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
        else:
            ident = f"ip-{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}


class ClientIPThrottle(NamedRateThrottle):
    """Keyed by client IP whoever the caller is: for endpoints that take credentials."""

    def get_cache_key(self, request: Request, view: APIView) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class LoginThrottle(ClientIPThrottle):
    scope = "login"


class ClaimThrottle(ClientIPThrottle):
    scope = "claim"


class SessionWriteThrottle(NamedRateThrottle):
    """Session uploads of one patient (POST me/sessions/)."""

    scope = "session_write"
    writes_only = True


class SyncThrottle(NamedRateThrottle):
    """Offline batch uploads of one patient (POST me/sessions/sync/)."""

    scope = "sync"
    writes_only = True


class WriteThrottle(NamedRateThrottle):
    """Any other write by one caller (check-ins, measures, profile, therapist writes)."""

    scope = "write"
    writes_only = True
