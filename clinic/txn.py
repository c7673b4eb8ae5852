"""Statements that can run ahead of a request's transaction, saving its BEGIN and COMMIT.

`AuditMiddleware` wraps every write request in one transaction. psycopg opens it lazily: it
sends `BEGIN` (a round trip of its own) before the first statement, and Django's `COMMIT`
(another) ends it. A request that writes nothing but its audit rows, a retried upload answered
from the cache above all, paid both round trips around its caller read.

`ahead_of_transaction` runs the enclosed statements in autocommit while the request's
transaction has not started on the server (psycopg's connection is idle: nothing was sent since
the atomic block opened). Under READ COMMITTED, Django's default, a read sees the same data
either way: each statement takes its own snapshot, and a plain read holds no row locks. Under a
stricter isolation level (as Django's `OPTIONS` set it; a server- or role-level default is not
seen), or once the transaction has started, the statements run inside it as usual. If nothing
else runs in the transaction, Django's commit sends nothing (psycopg skips `COMMIT` on an idle
connection).

Only for plain reads, and for a statement string that is a whole transaction of its own (the
audit rows of a request that wrote nothing): Django still believes its atomic block is open,
so a nested `atomic()` (a SAVEPOINT), `select_for_update()` or `on_commit` inside the block
would not do what it says. The audit relies on "idle means nothing was written", which holds
because nothing writes ahead. It does not nest.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connections


@contextmanager
def ahead_of_transaction(using: str = "default") -> Iterator[bool]:
    """Run the block in autocommit if the enclosing atomic block has sent nothing yet.

    Yields whether it did. Only on PostgreSQL with READ COMMITTED; elsewhere (SQLite, another
    isolation level, outside an atomic block, a transaction already started) the block runs
    where it would have anyway.
    """
    connection = connections[using]
    if connection.vendor != "postgresql" or not connection.in_atomic_block:
        yield False
        return
    from psycopg import IsolationLevel
    from psycopg.pq import TransactionStatus

    if connection.isolation_level not in (None, IsolationLevel.READ_COMMITTED):
        yield False
        return
    connection.ensure_connection()
    raw = connection.connection
    if raw.autocommit:  # Django's atomic block sets it off: only this helper turns it back on
        raise RuntimeError("ahead_of_transaction does not nest")
    if raw.info.transaction_status != TransactionStatus.IDLE:
        yield False
        return
    # psycopg's own flag: Django keeps believing it is in its atomic block, which it is; only
    # the driver's lazy BEGIN is held back while the block runs.
    raw.autocommit = True
    try:
        yield True
    finally:
        # Idle again after autocommit statements, failed or not. A block that left a
        # transaction of its own open is rolled back rather than taken into the request's. A
        # broken connection is Django's to discard at the end of the request.
        if not (raw.closed or raw.broken):
            if raw.info.transaction_status != TransactionStatus.IDLE:
                raw.rollback()
            raw.autocommit = False
