"""The answers of idempotent writes, kept a while so that a retry costs one cache read.

A client that did not hear the answer to an upload sends it again with the same `client_id`,
usually within seconds; the answer is the stored row, whatever the retry carries. The first
answer is kept in the cache (Redis in production) for `STRIDE_RETRY_ANSWER_SECONDS`, keyed by
the kind of write, the owner and the client id. The cache is only a shortcut: after it expires
or is evicted, the database still decides (the unique key on the client id), and an answer is
kept only after its transaction commits, so a write that rolled back leaves none; it is kept
once, when the row is created (a retry answered by the database is not kept again), so its
lifetime ends at most an hour after the row's creation. Nothing edits a stored session, so a
kept answer cannot go stale; erasure forgets the answers still alive (`answers_forget`). A
session deleted in the admin still answers its retries from here until its answer expires.
"""

import logging
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from .cache_writes import set_after_commit

logger = logging.getLogger(__name__)
SESSION_UPLOAD = "session"  # answers of POST me/sessions/, owned by the patient


def answer_key(kind: str, owner_id: int, client_id: uuid.UUID | str) -> str:
    """The cache key of a kept answer."""
    return f"answer:{kind}:{owner_id}:{client_id}"


def answer_stored(
    *, kind: str, owner_id: int, client_id: uuid.UUID, prefetched: Mapping[str, Any] | None = None
) -> Any | None:
    """The kept answer to this write, or None (never kept, expired, or the cache is down).

    `prefetched`: cache values already read in this request, by key (the session upload's
    throttle reads its kept answer in the throttle's own round trip); the cache is asked only
    for a key not among them.
    """
    key = answer_key(kind, owner_id, client_id)
    if prefetched is not None and key in prefetched:
        return prefetched[key]
    try:
        return cache.get(key)
    except Exception:  # the database answers instead
        logger.warning("answer cache unavailable", exc_info=True)
        return None


def answer_keep(*, kind: str, owner_id: int, client_id: uuid.UUID, body: Any) -> None:
    """Keep `body` as the answer once the current transaction commits (at once outside one).

    Side effect: a cache write after commit, in the transaction's one batch of cache writes
    (`clinic.cache_writes`); a cache failure is logged, never raised.
    """
    seconds = settings.STRIDE_RETRY_ANSWER_SECONDS
    if seconds > 0:
        set_after_commit({answer_key(kind, owner_id, client_id): body}, seconds)


def answers_forget(*, kind: str, owner_id: int, client_ids: Iterable[uuid.UUID | str]) -> None:
    """Drop kept answers (erasure), after the current transaction commits."""
    keys = [answer_key(kind, owner_id, client_id) for client_id in client_ids]
    if keys:
        transaction.on_commit(lambda: cache.delete_many(keys), robust=True)
