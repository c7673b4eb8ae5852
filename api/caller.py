"""Load the caller (the user with their patient or practitioner profile) in one SQL statement.

Every API request loads its caller, so this is the most frequent query Stride runs. Through
the ORM (`select_related`) the query is compiled again on every request, and compiling a join
over two or three models' ~50 columns cost more than everything else authentication does
(~1 ms here, ten times the query itself). The SQL below is built once per process from the
models' `_meta`; rows are turned into instances the way the ORM does it (`Model.from_db`
after the columns' converters), and related objects are cached on both sides as
`select_related` caches them (a missing profile is cached as absent, so `user.patient` raises
`DoesNotExist` without a query). A test holds the result equal to the ORM's.
"""

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connections
from django.db.models import Field, Model

from clinic.models import Clinic, Practitioner
from patients.models import Patient

Converter = Callable[[Any, Any, Any], Any]


@dataclass(frozen=True)
class _Table:
    model: type[Model]
    alias: str
    fields: list[Field]
    attnames: list[str]
    # Column index -> the ORM's converters for it (the backend's, then the field's) and the
    # column expression they take, as the compiler gathers them for a select list.
    converters: dict[int, tuple[list[Converter], Any]]


def _table(model: type[Model], alias: str, using: str) -> _Table:
    connection = connections[using]
    fields = list(model._meta.concrete_fields)
    converters = {}
    for index, field in enumerate(fields):
        col = field.get_col(alias)
        found = connection.ops.get_db_converters(col) + col.get_db_converters(connection)
        if found:
            converters[index] = (found, col)
    return _Table(model, alias, fields, [f.attname for f in fields], converters)


@dataclass(frozen=True)
class CallerQuery:
    """The statement for one set of relations, and how to read its row back."""

    sql: str
    tables: list[_Table]
    relations: tuple[str, ...]

    def load(self, user_id: Any, using: str = "default") -> Any:
        connection = connections[using]
        with connection.cursor() as cursor:
            cursor.execute(self.sql, [user_id])
            row = cursor.fetchone()
        if row is None:
            return None
        instances: dict[str, Model | None] = {}
        start = 0
        for table in self.tables:
            values = list(row[start : start + len(table.fields)])
            start += len(table.fields)
            if values[0] is None and table.alias != "u":  # LEFT JOIN found no row
                instances[table.alias] = None
                continue
            for index, (converters, col) in table.converters.items():
                for converter in converters:
                    values[index] = converter(values[index], col, connection)
            instances[table.alias] = table.model.from_db(using, table.attnames, values)
        user = instances["u"]
        if "patient" in self.relations:
            _link(user, instances["p"], field=Patient._meta.get_field("user"))
        if "practitioner__clinic" in self.relations:
            practitioner = instances["pr"]
            _link(user, practitioner, field=Practitioner._meta.get_field("user"))
            if practitioner is not None:
                practitioner._state.fields_cache[
                    Practitioner._meta.get_field("clinic").cache_name
                ] = instances["c"]
        return user


def _link(user: Any, profile: Model | None, *, field: Any) -> None:
    """Cache a one-to-one profile on the user (absent: None) and the user on the profile;
    `field` is the profile's one-to-one field to the user."""
    user._state.fields_cache[field.remote_field.cache_name] = profile
    if profile is not None:
        profile._state.fields_cache[field.cache_name] = user


@cache
def caller_query(relations: tuple[str, ...], using: str = "default") -> CallerQuery:
    """The caller statement joining `relations` ("patient", "practitioner__clinic")."""
    quote = connections[using].ops.quote_name
    user_model = get_user_model()
    user_pk = quote(user_model._meta.pk.column)
    tables = [_table(user_model, "u", using)]
    joins = []
    if "patient" in relations:
        tables.append(_table(Patient, "p", using))
        joins.append(
            f"LEFT JOIN {quote(Patient._meta.db_table)} p "
            f"ON p.{quote(Patient._meta.get_field('user').column)} = u.{user_pk}"
        )
    if "practitioner__clinic" in relations:
        tables += [_table(Practitioner, "pr", using), _table(Clinic, "c", using)]
        joins.append(
            f"LEFT JOIN {quote(Practitioner._meta.db_table)} pr "
            f"ON pr.{quote(Practitioner._meta.get_field('user').column)} = u.{user_pk}"
        )
        clinic_fk = quote(Practitioner._meta.get_field("clinic").column)
        joins.append(
            f"LEFT JOIN {quote(Clinic._meta.db_table)} c "
            f"ON c.{quote(Clinic._meta.pk.column)} = pr.{clinic_fk}"
        )
    columns = ", ".join(
        f"{table.alias}.{quote(field.column)}" for table in tables for field in table.fields
    )
    # Identifiers come from the models' _meta; the user id is a parameter.
    sql = (
        f"SELECT {columns} FROM {quote(user_model._meta.db_table)} u {' '.join(joins)} "  # noqa: S608
        f"WHERE u.{user_pk} = %s"
    )
    return CallerQuery(sql=sql, tables=tables, relations=relations)
