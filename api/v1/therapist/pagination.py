"""Keyset cursors over a multi-column ordering.

DRF's cursor pagination positions on the first ordering column only and skips ties with an
offset, capped at 1,000 rows: fine for a nearly-unique timestamp, wrong for "urgency, then
newest" or "last name, first name". Here the cursor holds the whole ordering key, which ends
in the primary key, so every position is unique and the next page is one indexed range query
("rows after this key") however deep the client pages.
"""

import datetime as dt
import json
import uuid
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from rest_framework.exceptions import NotFound
from rest_framework.pagination import Cursor, _reverse_ordering

from api.pagination import CursorPagination


def _json_value(value: Any) -> str:
    # Full precision: DjangoJSONEncoder cuts datetimes to milliseconds, which would skip rows.
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    raise TypeError(f"Cannot use {type(value).__name__} in a cursor.")


def _after(ordering: Sequence[str], position: Sequence[Any]) -> Q:
    """Rows strictly after `position` in `ordering`: (a > x) | (a = x & b > y) | …"""
    condition = Q(pk__in=[])
    equal = Q()
    for field, value in zip(ordering, position, strict=True):
        name = field.lstrip("-")
        comparison = "lt" if field.startswith("-") else "gt"
        condition |= equal & Q(**{f"{name}__{comparison}": value})
        equal &= Q(**{name: value})
    return condition


class KeysetCursorPagination(CursorPagination):
    """Cursor pagination on the full ordering key (which must end in a unique column).

    A view may choose the ordering per request with `get_cursor_ordering(request)`. Columns in
    the ordering must not be NULL (annotations are fine).
    """

    def get_ordering(self, request, queryset, view) -> tuple[str, ...]:
        chooser = getattr(view, "get_cursor_ordering", None)
        ordering = chooser(request) if chooser else getattr(view, "cursor_ordering", None)
        return tuple(ordering or self.ordering)

    def _get_position_from_instance(self, instance: Any, ordering: Sequence[str]) -> str:
        # Pages are model instances, or plain rows (`QuerySet.values()`) holding the ordering.
        if isinstance(instance, Mapping):
            values = [instance[field.lstrip("-")] for field in ordering]
        else:
            values = [getattr(instance, field.lstrip("-")) for field in ordering]
        return json.dumps(values, default=_json_value, separators=(",", ":"))

    def _decode_position(self, position: str) -> list[Any]:
        try:
            values = json.loads(position)
        except ValueError as exc:
            raise NotFound(self.invalid_cursor_message) from exc
        if not isinstance(values, list) or len(values) != len(self.ordering):
            raise NotFound(self.invalid_cursor_message)
        if not all(isinstance(v, str | int | float) and not isinstance(v, bool) for v in values):
            raise NotFound(self.invalid_cursor_message)
        if any(isinstance(v, str) and ("\x00" in v or len(v) > 500) for v in values):
            # PostgreSQL refuses NUL in text: never let a hand-made cursor reach the query.
            raise NotFound(self.invalid_cursor_message)
        return values

    def paginate_queryset(self, queryset: QuerySet, request, view=None) -> list[Any] | None:
        self.request = request
        self.page_size = self.get_page_size(request)
        if not self.page_size:
            return None
        self.base_url = request.build_absolute_uri()
        self.ordering = self.get_ordering(request, queryset, view)
        self.cursor = self.decode_cursor(request)
        # Positions are unique, so DRF's tie-breaking offset is never needed: it is ignored.
        reverse = bool(self.cursor and self.cursor.reverse)
        current_position = self.cursor.position if self.cursor else None
        effective = _reverse_ordering(self.ordering) if reverse else self.ordering
        queryset = queryset.order_by(*effective)
        try:
            if current_position is not None:
                queryset = queryset.filter(
                    _after(effective, self._decode_position(current_position))
                )
            results = list(queryset[: self.page_size + 1])
        except (ValueError, TypeError, OverflowError, ValidationError) as exc:
            # A hand-made cursor whose values do not fit the columns.
            raise NotFound(self.invalid_cursor_message) from exc
        self.page = results[: self.page_size]
        has_following = len(results) > len(self.page)
        following = (
            self._get_position_from_instance(results[-1], self.ordering) if has_following else None
        )
        if reverse:
            self.page = list(reversed(self.page))
            self.has_next = current_position is not None
            self.has_previous = has_following
            self.next_position = current_position if self.has_next else None
            self.previous_position = following
        else:
            self.has_next = has_following
            self.has_previous = current_position is not None
            self.next_position = following
            self.previous_position = current_position if self.has_previous else None
        if (self.has_previous or self.has_next) and self.template is not None:
            self.display_page_controls = True
        return self.page

    def get_next_link(self) -> str | None:
        if not self.has_next:
            return None
        position = (
            self._get_position_from_instance(self.page[-1], self.ordering)
            if self.page
            else self.next_position
        )
        return self.encode_cursor(Cursor(offset=0, reverse=False, position=position))

    def get_previous_link(self) -> str | None:
        if not self.has_previous:
            return None
        position = (
            self._get_position_from_instance(self.page[0], self.ordering)
            if self.page
            else self.previous_position
        )
        return self.encode_cursor(Cursor(offset=0, reverse=True, position=position))
