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
from typing import Any

from django.db import IntegrityError, connections, transaction
from django.db.models import Field, Model

from clinic import prepared
from clinic.rows import cast_type


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
        # The ORM's way: an insert in a savepoint, and a conflict told by the stored row.
        try:
            with transaction.atomic(using=using):
                model._default_manager.db_manager(using).bulk_create([obj])
        except IntegrityError:
            same = {f.attname: getattr(obj, f.attname) for f in map(model._meta.get_field, unique)}
            if model._default_manager.db_manager(using).filter(**same).exists():
                return False
            raise
        return True
    return bool(_execute([obj], _insert(model, 1, using, unique), using))


def _execute(objs: Sequence[Model], statement: tuple[str, list[Field]], using: str) -> int:
    sql, fields = statement
    for obj in objs:
        obj._prepare_related_fields_for_save(operation_name="insert_returning_pks")
    params = _prepared_values(objs, fields, connections[using])
    pks = [row[0] for row in prepared.fetchall(sql, params, using)]
    if pks:
        _inserted(objs, pks, using)
    return len(pks)


def insert_with_children(
    parent: Model, unique: tuple[str, ...], children: Sequence[Model], *, using: str = "default"
) -> bool:
    """`insert_unless_conflict(parent, unique)` and, if the parent was inserted, its new
    `children` (instances of one model with one foreign key to the parent's), in one statement
    on PostgreSQL (a data-modifying WITH); elsewhere, or without children, two. True if
    inserted; nothing is inserted on a conflict."""
    connection = connections[using]
    child_model = type(children[0]) if children else None
    if (
        child_model is None
        or connection.vendor != "postgresql"
        or not (_insertable(type(parent), using) and _insertable(child_model, using))
    ):
        if not insert_unless_conflict(parent, unique, using=using):
            return False
        insert_returning_pks(children, using=using)
        return True
    sql, parent_fields, link, child_fields = _insert_with_children(
        type(parent), unique, child_model, len(children), using
    )
    parent._prepare_related_fields_for_save(operation_name="insert_with_children")
    params = _prepared_values([parent], parent_fields, connection)
    for child in children:
        child._prepare_related_fields_for_save(
            operation_name="insert_with_children", fields=child_fields
        )
    params += _prepared_values(children, child_fields, connection)
    rows = prepared.fetchall(sql, params, using)
    if not rows:
        return False
    parent_pk, child_pks = rows[0]
    _inserted([parent], [parent_pk], using)
    _inserted(children, child_pks, using)
    for child in children:
        setattr(child, link.attname, parent_pk)
    return True


def _prepared_values(objs: Sequence[Model], fields: Sequence[Field], connection: Any) -> list:
    return [
        f.get_db_prep_save(f.pre_save(obj, add=True), connection) for obj in objs for f in fields
    ]


def _inserted(objs: Sequence[Model], pks: Sequence[Any], using: str) -> None:
    for obj, pk in zip(objs, pks, strict=True):
        obj.pk = pk
        obj._state.adding = False
        obj._state.db = using


@cache
def _insert_with_children(
    parent_model: type[Model],
    unique: tuple[str, ...],
    child_model: type[Model],
    count: int,
    using: str,
) -> tuple[str, list[Field], Field, list[Field]]:
    connection = connections[using]
    quote = connection.ops.quote_name
    parent_sql, parent_fields = _insert(parent_model, 1, using, unique)
    child_opts = child_model._meta
    (link,) = [
        f for f in child_opts.concrete_fields if f.is_relation and f.related_model is parent_model
    ]
    child_fields = [
        f for f in child_opts.concrete_fields if f is not child_opts.pk and f is not link
    ]
    # VALUES in a subquery type their parameters as text unless told: each is cast to its
    # column's type (`cast_type`). The last value orders the rows, and so their keys.
    casts = [cast_type(f, connection.vendor, using) for f in child_fields]
    row = ", ".join(f"%s::{cast}" for cast in casts)
    values = ", ".join(f"({row}, {index})" for index in range(count))
    names = [f"c{index}" for index in range(len(child_fields))]
    parent_pk = quote(parent_model._meta.pk.column)
    child_pk = quote(child_opts.pk.column)
    columns = ", ".join(quote(f.column) for f in [link, *child_fields])
    # Identifiers come from the models' _meta; every value is a parameter.
    sql = (
        f"WITH p AS ({parent_sql}), "  # noqa: S608
        f"c AS (INSERT INTO {quote(child_opts.db_table)} ({columns}) "
        f"SELECT p.{parent_pk}, {', '.join(f'v.{name}' for name in names)} "
        f"FROM p CROSS JOIN (VALUES {values}) AS v({', '.join(names)}, n) "
        f"ORDER BY v.n RETURNING {child_pk}) "
        f"SELECT p.{parent_pk}, ARRAY(SELECT {child_pk} FROM c ORDER BY {child_pk}) FROM p"
    )
    return sql, parent_fields, link, child_fields
