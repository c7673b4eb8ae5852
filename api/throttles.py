"""Named throttles. Rates live in settings (REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]).

The rate is read on every request rather than once at import, so a settings override (tests,
an environment change picked up on reload) takes effect.

On the Redis cache, DRF's sliding log (the request times of the window) is kept as a sorted set
and checked by one Lua script: one round trip per request instead of a read and a write of the
pickled list, and a cost that does not grow with the rate. The decisions and the Retry-After
are DRF's own (a test compares them step by step); other caches use DRF's implementation.
"""

import logging
import secrets

from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.core.cache import cache as default_cache
from django.core.cache.backends.redis import RedisCache
from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from clinic.cache import run_script

logger = logging.getLogger(__name__)


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
        # DRF's `cache` is Django's default-cache proxy: the backend behind it.
        backend = caches[DEFAULT_CACHE_ALIAS] if self.cache is default_cache else self.cache
        if self.rate is None or not isinstance(backend, RedisCache):
            return super().allow_request(request, view)
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.now = self.timer()
        prefetch, unparsable = _prefetch_key(request, view)
        # Its own key: a sorted set, not the pickled list DRF kept under `self.key`.
        key = backend.make_and_validate_key(f"{self.key}:log")
        keys = [key] if prefetch is None else [key, backend.make_and_validate_key(prefetch)]
        allowed, count, oldest, fetched = run_script(
            backend,
            SLIDING_LOG,
            keys=keys,
            args=[repr(self.now), self.duration, self.num_requests, secrets.token_hex(8)],
        )
        if prefetch is not None:
            try:
                value = None if fetched is None else backend._cache._serializer.loads(fetched)
            except Exception:  # unreadable: left out, so the view reads (and logs) it itself
                logger.warning("prefetched cache value unreadable", exc_info=True)
            else:
                request.throttle_prefetched = {prefetch: value}
        if allowed and unparsable is not None:
            raise unparsable  # what the view would have answered, once the request counted
        if allowed:
            return True
        # What DRF's `wait()` reads: the requests in the window, the last one the oldest.
        self.history = [float(oldest)] * int(count)
        return False

    def get_cache_key(self, request: Request, view: APIView) -> str:
        if request.user and request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
        else:
            ident = f"ip-{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}


# A view's prefetch hook may read the body: it is asked only for bodies up to this size, so that
# a caller over the limit is refused before a large body is parsed (a session upload's retry
# is a kilobyte or two; bigger uploads read their kept answer in the view).
PREFETCH_BODY_LIMIT = 16 * 1024
_PREFETCH_ATTR = "_throttle_prefetch"


def _prefetch_key(request: Request, view: APIView) -> tuple[str | None, Exception | None]:
    """The cache key the view will read first (`view.throttle_prefetch(request)`), fetched in
    the throttle's round trip; and the error of reading the body, if that failed (malformed
    JSON, a body over the size limit). DRF keeps an unparsable body as empty data after the
    first failure, so that error is raised by the throttle once the request has counted, as
    the view would have raised it; a refusal still answers 429 first. Asked once per request,
    whatever the number of throttles."""
    if (done := getattr(request, _PREFETCH_ATTR, None)) is not None:
        return done
    hook = getattr(view, "throttle_prefetch", None)
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = PREFETCH_BODY_LIMIT + 1
    result: tuple[str | None, Exception | None] = (None, None)
    if hook is not None and length <= PREFETCH_BODY_LIMIT:
        try:
            result = (hook(request), None)
        except Exception as exc:  # raised again by the caller, once the request counted
            result = (None, exc)
    setattr(request, _PREFETCH_ATTR, result)
    return result


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


# Drops the times that left the window (as DRF: `<= now - duration`), then records this request
# if the window has room. Returns {allowed, requests in the window, oldest time in it, the value
# of the optional second key (a view's prefetch)}, the times as strings (a Lua number would come
# back as an integer).
SLIDING_LOG = """
local now = tonumber(ARGV[1])
local duration = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - duration)
local count = redis.call('ZCARD', KEYS[1])
local allowed = 0
if count < tonumber(ARGV[3]) then
    redis.call('ZADD', KEYS[1], ARGV[1], ARGV[1] .. ':' .. ARGV[4])
    redis.call('EXPIRE', KEYS[1], duration)
    count = count + 1
    allowed = 1
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2] or ARGV[1]
local fetched = false
if KEYS[2] then
    fetched = redis.call('GET', KEYS[2])
end
return {allowed, count, oldest, fetched}
"""
