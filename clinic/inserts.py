"""Inserts for the hottest write (a session upload and its exercise entries).

`Model.save()` and `bulk_create` compile their INSERT anew on every call and walk a dozen
checks around it: for a session and its five entries that was ~1.5 ms, more than a bare
one-row create costs in all. `insert_returning_pks` does what `bulk_create` does for the
models it is given — each value through its field's `pre_save` and `get_db_prep_save`, related
objects' keys copied, primary keys read back with RETURNING — from an INSERT assembled once per
model and row count. It sends no signals, as `bulk_create` sends none. A test holds its rows
equal to `bulk_create`'s.
"""

from collections.abc import Sequence
from functools import cache

from django.db import connections
from django.db.models import Field, Model

from clinic import prepared


@cache
def _insert(model: type[Model], count: int, using: str) -> tuple[str, list[Field]]:
    connection = connections[using]
    quote = connection.ops.quote_name
    opts = model._meta
    fields = [f for f in opts.concrete_fields if f is not opts.pk]
    placeholders = "(" + ", ".join(["%s"] * len(fields)) + ")"
    values = ", ".join([placeholders] * count)
    columns = ", ".join(quote(f.column) for f in fields)
    # Identifiers come from the model's _meta; every value is a parameter.
    sql = (
        f"INSERT INTO {quote(opts.db_table)} ({columns}) VALUES {values} "  # noqa: S608
        f"RETURNING {quote(opts.pk.column)}"
    )
    return sql, fields


def _insertable(model: type[Model], using: str) -> bool:
    """Plain models only: a database-generated primary key, no database defaults or
    generated columns, on a backend that returns the keys of a multi-row insert."""
    opts = model._meta
    return (
        connections[using].features.can_return_rows_from_bulk_insert
        and getattr(opts.pk, "db_returning", False)
        and not any(
            f.has_db_default() or getattr(f, "generated", False) for f in opts.concrete_fields
        )
    )


def insert_returning_pks(objs: Sequence[Model], *, using: str = "default") -> None:
    """INSERT new instances of one model in one statement and set their primary keys."""
    if not objs:
        return
    model = type(objs[0])
    if not _insertable(model, using):
        model._default_manager.db_manager(using).bulk_create(objs)
        return
    connection = connections[using]
    sql, fields = _insert(model, len(objs), using)
    params = []
    for obj in objs:
        obj._prepare_related_fields_for_save(operation_name="insert_returning_pks")
        params.extend(f.get_db_prep_save(f.pre_save(obj, add=True), connection) for f in fields)
    pks = [row[0] for row in prepared.fetchall(sql, params, using)]
    for obj, pk in zip(objs, pks, strict=True):
        obj.pk = pk
        obj._state.adding = False
        obj._state.db = using
