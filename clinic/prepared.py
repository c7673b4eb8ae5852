"""Run the few hottest hand-written statements as server-side prepared statements.

Django binds parameters on the client (psycopg's `ClientCursor`): every statement reaches
PostgreSQL as new text, parsed and planned again. For the statements every request runs (the
caller) and the patient list's joins, planning costs as much as running them (~0.9 ms of a
2 ms read). `execute` below sends them through a server-binding cursor with `prepare=True`:
psycopg prepares each once per connection (connections persist, `CONN_MAX_AGE`) and then only
executes it (a rollback makes psycopg forget a connection's prepared statements; they are
prepared again on their next use). Everything else keeps Django's client-side binding, on
which the audit's multi-statement round trip relies.

Requires `OPTIONS["prepare_threshold"]` to be a number: the settings give one no statement
reaches, so that only these are prepared, unless `STRIDE_PREPARED_STATEMENTS` is false (then
Django's default, None, turns preparing off). Turn it off behind a transaction-mode connection
pooler that does not track prepared statements (PgBouncer before 1.21, or 1.21+ with
`max_prepared_statements = 0`, its default): they live in a server connection it may swap.

The statement goes through Django's cursor wrapper: query logging, `execute_wrapper`s and
error translation apply as to any query. Elsewhere (SQLite) it is a plain Django cursor.
"""

from collections.abc import Sequence
from typing import Any

from django.db import connections
from django.db.backends.utils import CursorDebugWrapper, CursorWrapper
from django.utils.asyncio import async_unsafe


def _prepared_cursor_class() -> type:
    from django.db.backends.postgresql.base import ServerBindingCursor

    class PreparedCursor(ServerBindingCursor):
        def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
            return super().execute(query, params, prepare=True)

    return PreparedCursor


_cursor_class: type | None = None


def _enabled(connection: Any) -> bool:
    return (
        connection.vendor == "postgresql"
        and connection.settings_dict["OPTIONS"].get("prepare_threshold") is not None
    )


@async_unsafe
def cursor(using: str = "default") -> CursorWrapper:
    """A cursor whose `execute` prepares its statement (a plain cursor where it cannot)."""
    global _cursor_class
    connection = connections[using]
    if not _enabled(connection):
        return connection.cursor()
    if _cursor_class is None:
        _cursor_class = _prepared_cursor_class()
    # What `connection.cursor()` does (`BaseDatabaseWrapper._cursor`, and the time zone of
    # PostgreSQL's `create_cursor`), with this cursor class.
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    with connection.wrap_database_errors:
        raw = _cursor_class(connection.connection)
        _match_time_zone(connection, raw)
    connection.validate_thread_sharing()
    if connection.queries_logged:
        return _LoggedCursor(raw, connection)
    return connection.make_cursor(raw)


class _LoggedCursor(CursorDebugWrapper):
    """Logs a prepared statement as Django logs any query (DEBUG, tests capturing queries):
    Django reads the text of the last query off a client-binding cursor, which a prepared
    execution does not keep, so the statement is composed with its values here instead."""

    def execute(self, sql: str, params: Any = None) -> Any:
        with self.debug_sql(self.db.ops.compose_sql(sql, params)):
            return CursorWrapper.execute(self, sql, params)


def _match_time_zone(connection: Any, raw: Any) -> None:
    from django.db.backends.postgresql.base import TIMESTAMPTZ_OID, register_tzloader
    from psycopg.pq import Format

    loader = connection.connection.adapters.get_loader(TIMESTAMPTZ_OID, Format.TEXT)
    if connection.timezone != loader.timezone:
        register_tzloader(connection.timezone, raw)


def fetchall(sql: str, params: Sequence[Any], using: str = "default") -> list[tuple]:
    with cursor(using) as prepared:
        prepared.execute(sql, params)
        return prepared.fetchall()
