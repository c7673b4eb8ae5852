"""The Redis cache backend (clinic/cache.py) on a real Redis."""

import uuid

import pytest
from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache

from clinic.cache import SharedClientRedisCache


@pytest.fixture
def redis_cache(settings):
    cache = caches.create_connection("default")
    if isinstance(cache, LocMemCache):
        pytest.fail("REDIS_URL is set but the default cache is not Redis")
    assert isinstance(cache, SharedClientRedisCache)
    yield cache
    cache.close()


@pytest.mark.redis
def test_the_redis_cache_reuses_one_client_and_still_works(redis_cache):
    key = f"cache-test-{uuid.uuid4()}"

    redis_cache.set(key, {"hits": 1}, timeout=30)
    assert redis_cache.get(key) == {"hits": 1}
    assert redis_cache.add(f"{key}-n", 1)
    assert redis_cache.incr(f"{key}-n") == 2
    redis_cache.delete_many([key, f"{key}-n"])
    assert redis_cache.get(key) is None

    client = redis_cache._cache.get_client(key)
    assert redis_cache._cache.get_client(key, write=True) is client
