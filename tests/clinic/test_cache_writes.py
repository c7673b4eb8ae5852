"""Cache writes after commit (clinic/cache_writes.py): one batch per transaction and savepoint,
sent on commit in one round trip, gone with a rollback, never failing the caller."""

import contextlib
import logging

import pytest
from django.core.cache import cache
from django.db import transaction
from django.test import override_settings

from clinic.cache_writes import AfterCommitWrites, add_now, set_after_commit, write_now
from tests.api.conftest import redis_commands


def test_outside_a_transaction_the_write_goes_out_at_once():
    # No database fixture: autocommit, no atomic block.
    set_after_commit({"cw:now": 1}, 60)
    assert cache.get("cw:now") == 1


@pytest.mark.django_db
def test_writes_wait_for_the_commit_and_go_as_one_batch(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        set_after_commit({"cw:a": 1}, 60)
        set_after_commit({"cw:b": 2, "cw:a": 3}, 60)  # a key written twice keeps the last
    assert cache.get_many(["cw:a", "cw:b"]) == {}
    (batch,) = callbacks
    assert isinstance(batch, AfterCommitWrites)
    batch()
    assert cache.get_many(["cw:a", "cw:b"]) == {"cw:a": 3, "cw:b": 2}


@pytest.mark.redis
@pytest.mark.django_db
def test_on_redis_a_batch_is_one_round_trip(django_capture_on_commit_callbacks):
    with redis_commands() as sent, django_capture_on_commit_callbacks(execute=True):
        set_after_commit({"cw:x": "x"}, 60)
        set_after_commit({"cw:y": {"nested": [1, 2]}}, 60)
    assert [command for command in sent if command != "SCRIPT LOAD"] == ["EVALSHA"]
    assert cache.get_many(["cw:x", "cw:y"]) == {"cw:x": "x", "cw:y": {"nested": [1, 2]}}


@pytest.mark.redis
def test_on_redis_each_key_gets_its_own_expiry():
    write_now({"cw:short": (1, 5), "cw:long": ("x" * 100, 500)})
    client = cache._cache.get_client(write=True)
    short, long = (client.ttl(cache.make_and_validate_key(k)) for k in ("cw:short", "cw:long"))
    assert 0 < short <= 5
    assert 5 < long <= 500
    assert cache.get_many(["cw:short", "cw:long"]) == {"cw:short": 1, "cw:long": "x" * 100}


@pytest.mark.django_db
def test_a_savepoint_rolled_back_takes_its_writes_with_it(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        set_after_commit({"cw:before": 1}, 60)
        with contextlib.suppress(RuntimeError), transaction.atomic():
            set_after_commit({"cw:inside": 1}, 60)
            raise RuntimeError
        with transaction.atomic():  # released: its writes commit with the transaction
            set_after_commit({"cw:released": 1}, 60)
        set_after_commit({"cw:after": 1}, 60)
    assert cache.get_many(["cw:before", "cw:inside", "cw:released", "cw:after"]) == {
        "cw:before": 1,
        "cw:released": 1,
        "cw:after": 1,
    }


@pytest.mark.django_db
def test_a_cache_that_is_down_loses_the_batch_not_the_request(
    django_capture_on_commit_callbacks, caplog
):
    nothing_listens = "redis://127.0.0.1:1/0"
    backend = "django.core.cache.backends.redis.RedisCache"
    with (
        override_settings(CACHES={"default": {"BACKEND": backend, "LOCATION": nothing_listens}}),
        caplog.at_level(logging.WARNING, logger="clinic.cache_writes"),
        django_capture_on_commit_callbacks(execute=True) as callbacks,
    ):
        set_after_commit({"cw:lost": 1}, 60)
    assert len(callbacks) == 1
    assert "1 writes after commit lost" in caplog.text


def test_add_now_sets_only_missing_keys_and_answers_every_value():
    cache.set("cw:taken", "first", 60)
    found = add_now({"cw:taken": "second", "cw:free": "mine"}, 60)
    assert found == {"cw:taken": "first", "cw:free": "mine"}
    assert cache.get_many(["cw:taken", "cw:free"]) == found
