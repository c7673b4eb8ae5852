"""Load the caller (the user with their patient or practitioner profile) in one SQL statement.

Every API request loads its caller, so this is the most frequent query Stride runs. Through
the ORM (`select_related`) the query is compiled again on every request, and compiling a join
over two or three models' ~50 columns cost more than everything else authentication does
(~1 ms here, ten times the query itself). The statement below is built once per process from
the models' `_meta`; rows become instances as the ORM makes them (`clinic.rows`), and related
objects are cached on both sides as `select_related` caches them (a missing profile is cached
as absent, so `user.patient` raises `DoesNotExist` without a query). A test holds the result
equal to the ORM's.
"""

from dataclasses import dataclass
from functools import cache
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connections
from django.db.models import Model

from clinic import prepared
from clinic.models import Clinic, Practitioner
from clinic.rows import Columns, split_row
from clinic.txn import ahead_of_transaction
from patients.models import Patient


@dataclass(frozen=True)
class CallerQuery:
    """The statement for one set of relations, and how to read its row back."""

    sql: str
    parts: tuple[Columns, ...]
    relations: tuple[str, ...]
    using: str

    def load(self, user_id: Any) -> Any:
        # Authentication comes before anything a write request does: ahead of its transaction
        # (`clinic.txn`), so that a request writing nothing else sends no BEGIN or COMMIT.
        with ahead_of_transaction(self.using), prepared.cursor(self.using) as cursor:
            cursor.execute(self.sql, [user_id])
            row = cursor.fetchone()
        if row is None:
            return None
        found = {
            part.alias: part.instance(values, self.using)
            for part, values in zip(self.parts, split_row(row, self.parts), strict=True)
        }
        user = found["u"]
        if "patient" in self.relations:
            _link(user, found["p"], field=Patient._meta.get_field("user"))
        if "practitioner__clinic" in self.relations:
            practitioner = found["pr"]
            _link(user, practitioner, field=Practitioner._meta.get_field("user"))
            if practitioner is not None:
                clinic_field = Practitioner._meta.get_field("clinic")
                practitioner._state.fields_cache[clinic_field.cache_name] = found["c"]
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
    parts = [Columns.of(user_model, "u", using=using)]
    joins = []
    if "patient" in relations:
        parts.append(Columns.of(Patient, "p", using=using))
        joins.append(
            f"LEFT JOIN {quote(Patient._meta.db_table)} p "
            f"ON p.{quote(Patient._meta.get_field('user').column)} = u.{user_pk}"
        )
    if "practitioner__clinic" in relations:
        parts += [Columns.of(Practitioner, "pr", using=using), Columns.of(Clinic, "c", using=using)]
        clinic_fk = quote(Practitioner._meta.get_field("clinic").column)
        joins.append(
            f"LEFT JOIN {quote(Practitioner._meta.db_table)} pr "
            f"ON pr.{quote(Practitioner._meta.get_field('user').column)} = u.{user_pk}"
        )
        joins.append(
            f"LEFT JOIN {quote(Clinic._meta.db_table)} c "
            f"ON c.{quote(Clinic._meta.pk.column)} = pr.{clinic_fk}"
        )
    columns = ", ".join(part.select_list(using) for part in parts)
    # Identifiers come from the models' _meta; the user id is a parameter.
    sql = (
        f"SELECT {columns} FROM {quote(user_model._meta.db_table)} u {' '.join(joins)} "  # noqa: S608
        f"WHERE u.{user_pk} = %s"
    )
    return CallerQuery(sql=sql, parts=tuple(parts), relations=relations, using=using)
