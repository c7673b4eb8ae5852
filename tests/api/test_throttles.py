"""The Redis throttle decides as DRF's SimpleRateThrottle does, in one round trip."""

import random
import uuid

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache
from rest_framework.test import APIRequestFactory
from rest_framework.throttling import SimpleRateThrottle

from api.throttles import NamedRateThrottle
from tests.api.conftest import redis_commands


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def throttles(rate: str, clock: Clock):
    """Ours on the configured cache and DRF's own on a local-memory cache, same rate."""
    scope = f"test-{uuid.uuid4().hex}"

    class Ours(NamedRateThrottle):
        def get_rate(self) -> str:
            return rate

    class Drfs(SimpleRateThrottle):
        cache = LocMemCache(scope, {})

        def get_rate(self) -> str:
            return rate

        def get_cache_key(self, request, view) -> str:
            return self.cache_format % {"scope": scope, "ident": "caller"}

    Ours.scope = scope
    Ours.timer = Drfs.timer = staticmethod(clock)
    return Ours(), Drfs()


def post():
    request = APIRequestFactory().post("/", {})
    request.user = AnonymousUser()  # keyed by client address, as DRF's is by its own key
    return request


@pytest.mark.redis
@pytest.mark.parametrize("rate", ["3/s", "5/m", "1/m"])
def test_the_same_decisions_and_waits_as_drf_over_a_random_walk(rate):
    assert isinstance(caches["default"], RedisCache)  # the production path, not DRF's
    clock = Clock()
    rng = random.Random(rate)
    ours, drfs = throttles(rate, clock)
    decisions = []
    for _ in range(200):
        clock.now += rng.choice([0.0, 0.05, 0.2, 0.5, 1.0, 7.0, 30.0])
        request = post()
        allowed = ours.allow_request(request, None)
        assert allowed == drfs.allow_request(request, None)
        if not allowed:
            assert ours.wait() == pytest.approx(drfs.wait())
        decisions.append(allowed)
    # The walk exercised both answers.
    assert True in decisions
    assert False in decisions


@pytest.mark.redis
def test_one_round_trip_per_request_and_a_window_that_slides():
    clock = Clock()
    ours, _ = throttles("2/m", clock)
    with redis_commands() as calls:
        assert ours.allow_request(post(), None)
        assert calls in (["EVALSHA"], ["EVALSHA", "SCRIPT LOAD", "EVALSHA"])
        calls.clear()
        clock.now += 30
        assert ours.allow_request(post(), None)
        assert not ours.allow_request(post(), None)
        assert ours.wait() == pytest.approx(30.0)
        assert calls == ["EVALSHA"] * 2  # wait() asks nothing more
        clock.now += 30.01  # the first request left the window
        assert ours.allow_request(post(), None)


def test_a_cache_without_redis_gets_drfs_own_implementation(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    clock = Clock()
    ours, _ = throttles("2/m", clock)
    ours.cache = LocMemCache("other", {})
    assert [ours.allow_request(post(), None) for _ in range(3)] == [True, True, False]
    assert ours.wait() == pytest.approx(60.0)
