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
def _insert(
    model: type[Model], count: int, using: str, unless: tuple[str, ...] = ()
) -> tuple[str, list[Field]]:
    connection = connections[using]
    quote = connection.ops.quote_name
    opts = model._meta
    fields = [f for f in opts.concrete_fields if f is not opts.pk]
    placeholders = "(" + ", ".join(["%s"] * len(fields)) + ")"
    values = ", ".join([placeholders] * count)
    columns = ", ".join(quote(f.column) for f in fields)
    # Identifiers come from the model's _meta; every value is a parameter.
    conflict = ""
    if unless:  # PostgreSQL and SQLite (3.24+) both spell it so
        targets = ", ".join(quote(opts.get_field(name).column) for name in unless)
        conflict = f"ON CONFLICT ({targets}) DO NOTHING "
    sql = (
        f"INSERT INTO {quote(opts.db_table)} ({columns}) VALUES {values} "  # noqa: S608
        f"{conflict}RETURNING {quote(opts.pk.column)}"
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
    _execute(objs, _insert(model, len(objs), using), using)


def insert_unless_conflict(obj: Model, unique: tuple[str, ...], *, using: str = "default") -> bool:
    """INSERT one new instance unless a row with the same `unique` fields exists (the fields
    of a unique constraint): True and its primary key set if inserted, else False.

    No error, so no savepoint to recover from one: a concurrent insert of the same key is
    waited for, and then this one does nothing if that one committed.
    """
    model = type(obj)
    if not _insertable(model, using):
        raise NotImplementedError(f"{model.__name__} has database defaults or generated keys")
    return bool(_execute([obj], _insert(model, 1, using, unique), using))


def _execute(objs: Sequence[Model], statement: tuple[str, list[Field]], using: str) -> int:
    connection = connections[using]
    sql, fields = statement
    params = []
    for obj in objs:
        obj._prepare_related_fields_for_save(operation_name="insert_returning_pks")
        params.extend(f.get_db_prep_save(f.pre_save(obj, add=True), connection) for f in fields)
    pks = [row[0] for row in prepared.fetchall(sql, params, using)]
    if not pks:
        return 0
    for obj, pk in zip(objs, pks, strict=True):
        obj.pk = pk
        obj._state.adding = False
        obj._state.db = using
    return len(pks)
