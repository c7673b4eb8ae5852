"""Cache writes that wait for the transaction's commit, sent together in one round trip.

A session upload keeps its answer for retries (`clinic.answers`) and moves the patient's list
row out of date (`programs.row_cache`): two cache writes after the same commit. Each call here
joins the pending batch of the current transaction and savepoint, and the batch goes to the
cache once, on commit: on Redis in one command (`write_now`), so the upload pays one round
trip for both. A transaction or savepoint that rolls back takes its batch with it, exactly as
Django's `on_commit` does (the batch is an `on_commit` callback registered at that savepoint
depth). Outside a transaction a write goes out at once.

A cache that is down loses the batch with a warning, never the request: every value written
here is a shortcut the database can stand in for.
"""

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.core.cache.backends.redis import RedisCache
from django.db import DEFAULT_DB_ALIAS, connections, transaction

from .cache import run_script

logger = logging.getLogger(__name__)


@dataclass
class AfterCommitWrites:
    """The cache writes waiting for one transaction (at one savepoint depth); a key written
    twice keeps its last value."""

    sets: dict[str, tuple[Any, int]] = field(default_factory=dict)  # key -> (value, seconds)
    sent: bool = False

    def __call__(self) -> None:
        self.sent = True
        _send(self)


# Redis: every key set with its own expiry in one command (KEYS: the keys; ARGV: the values,
# then the seconds of each). A pipeline of SETs costs redis-py a command's packing and parsing
# each; a page of 50 list rows was a quarter of the page's time.
SET_EACH = """
local n = #KEYS
for i = 1, n do
    redis.call('SET', KEYS[i], ARGV[i], 'EX', ARGV[n + i])
end
return n
"""


def write_now(values: Mapping[str, tuple[Any, int]]) -> None:
    """`cache.set(key, value, seconds)` for each key -> (value, seconds), at once: on Redis in
    one round trip and one command. Raises what the cache raises."""
    if not values:
        return
    cache = caches[DEFAULT_CACHE_ALIAS]
    if not isinstance(cache, RedisCache):
        for key, (value, seconds) in values.items():
            cache.set(key, value, seconds)
        return
    dumps = cache._cache._serializer.dumps
    pairs = values.values()
    run_script(
        cache,
        SET_EACH,
        keys=[cache.make_and_validate_key(key) for key in values],
        args=[dumps(value) for value, _ in pairs] + [int(seconds) for _, seconds in pairs],
    )


# Redis: each key set only where it is missing (with its expiry), then every key's value
# (KEYS: the keys; ARGV: the values, then the seconds).
ADD_EACH = """
local n = #KEYS
for i = 1, n do
    redis.call('SET', KEYS[i], ARGV[i], 'NX', 'EX', ARGV[n + 1])
end
return redis.call('MGET', unpack(KEYS))
"""


def add_now(values: Mapping[str, Any], seconds: int) -> dict[str, Any]:
    """`cache.add(key, value, seconds)` for each key (set only where missing), then each key's
    value, whoever set it: on Redis in one round trip. Raises what the cache raises."""
    if not values:
        return {}
    cache = caches[DEFAULT_CACHE_ALIAS]
    if not isinstance(cache, RedisCache):
        for key, value in values.items():
            cache.add(key, value, seconds)
        return cache.get_many(list(values))
    serializer = cache._cache._serializer
    found = run_script(
        cache,
        ADD_EACH,
        keys=[cache.make_and_validate_key(key) for key in values],
        args=[*(serializer.dumps(value) for value in values.values()), int(seconds)],
    )
    return {
        key: serializer.loads(raw)
        for key, raw in zip(values, found, strict=True)
        if raw is not None
    }


def _send(batch: AfterCommitWrites) -> None:
    try:
        write_now(batch.sets)
    except Exception:
        logger.warning(
            "cache unavailable: %d writes after commit lost", len(batch.sets), exc_info=True
        )


def _batch(using: str) -> AfterCommitWrites | None:
    """The batch of the current transaction at the current savepoint depth (registered on
    first use), or None outside a transaction."""
    connection = connections[using]
    if not connection.in_atomic_block:
        return None
    # Django notes an atomic block without a savepoint as None: it shares its enclosing
    # block's fate, and so does a batch registered inside it.
    depth = set(connection.savepoint_ids) - {None}
    for savepoints, callback, _robust in connection.run_on_commit:
        # (A batch already sent is done: Django drops callbacks once run, but test helpers
        # that run them early leave them in place.)
        if (
            isinstance(callback, AfterCommitWrites)
            and not callback.sent
            and savepoints - {None} == depth
        ):
            return callback
    batch = AfterCommitWrites()
    transaction.on_commit(batch, using=using, robust=True)
    return batch


def set_after_commit(
    values: Mapping[str, Any], seconds: int, *, using: str = DEFAULT_DB_ALIAS
) -> None:
    """`cache.set(key, value, seconds)` for each of `values` once the current transaction
    commits (at once outside one)."""
    if not values:
        return
    batch = _batch(using)
    pending = batch or AfterCommitWrites()
    for key, value in values.items():
        pending.sets[key] = (value, seconds)
    if batch is None:
        _send(pending)
