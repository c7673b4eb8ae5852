import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _empty_cache():
    """The patient page caches per patient: test databases reuse ids, so start each test empty."""
    cache.clear()
    yield
    cache.clear()
