"""Model instances from the rows of a hand-written SELECT, made as the ORM makes them.

For the few statements on the hottest paths that are assembled once per process instead of
compiled by the ORM on every call (`api/caller.py`, `programs/services.py`'s session
upload): each column goes through the converters the ORM's compiler would apply (the
backend's, then the field's: dates on SQLite, JSON, decimals), then `Model.from_db`. Naming
only some of a model's fields gives an instance with the others deferred, as `.only()` does.
"""

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.db import connections
from django.db.models import Model

Converter = Callable[[Any, Any, Any], Any]


@dataclass(frozen=True)
class Columns:
    """Some (default: all) concrete fields of a model under a table alias."""

    model: type[Model]
    alias: str
    attnames: tuple[str, ...]
    columns: tuple[str, ...]
    # Position -> the converters of that column and the column expression they take.
    converters: dict[int, tuple[list[Converter], Any]]

    @classmethod
    def of(
        cls,
        model: type[Model],
        alias: str,
        names: Sequence[str] | None = None,
        using: str = "default",
    ) -> "Columns":
        opts = model._meta
        fields = list(opts.concrete_fields)
        if names is not None:
            # In the model's order: `Model.from_db` pairs values with fields in that order.
            wanted = {opts.get_field(name) for name in names}
            fields = [field for field in fields if field in wanted]
        connection = connections[using]
        converters = {}
        for index, field in enumerate(fields):
            col = field.get_col(alias)
            found = connection.ops.get_db_converters(col) + col.get_db_converters(connection)
            if found:
                converters[index] = (found, col)
        return cls(
            model=model,
            alias=alias,
            attnames=tuple(f.attname for f in fields),
            columns=tuple(f.column for f in fields),
            converters=converters,
        )

    def __len__(self) -> int:
        return len(self.attnames)

    def select_list(self, using: str = "default") -> str:
        quote = connections[using].ops.quote_name
        return ", ".join(f"{self.alias}.{quote(column)}" for column in self.columns)

    def instance(self, values: Sequence[Any], using: str = "default") -> Any:
        """The instance of these values; None when the first (the key) is NULL, as a LEFT
        JOIN that found no row gives."""
        if values[0] is None:
            return None
        values = list(values)
        connection = connections[using]
        for index, (converters, col) in self.converters.items():
            for converter in converters:
                values[index] = converter(values[index], col, connection)
        return self.model.from_db(using, list(self.attnames), values)


def split_row(row: Sequence[Any], parts: Sequence[Columns]) -> list[Sequence[Any]]:
    """The values of each part of a row selected as `parts`' select lists in order."""
    values, start = [], 0
    for part in parts:
        values.append(row[start : start + len(part)])
        start += len(part)
    return values


def column(model: type[Model], name: str, using: str = "default") -> str:
    """The quoted column of a model's field, for a hand-written statement."""
    return connections[using].ops.quote_name(model._meta.get_field(name).column)


@cache
def cast_type(field: Any, vendor: str, using: str = "default") -> str:
    """The type to cast a parameter to for a field's column, without its length: an explicit
    cast to varchar(40) would cut a longer value short, where the column itself refuses it.
    (`vendor` keys the cache: the type depends on the database.)"""
    return re.sub(r"\(.*\)", "", field.cast_db_type(connections[using]))
