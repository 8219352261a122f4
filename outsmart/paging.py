"""Paging several lists kept in one table, in one query: the Practitioners and Staff tab shows a
page of each role's members (and of each role's pending invitations) side by side, with one
pager for both columns."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from math import ceil
from typing import Any

from django.db.models import Count, F, Q, QuerySet, Window
from django.db.models.functions import RowNumber

# Far beyond any real office (25 million rows a list), and small enough that the row numbers it
# leads to stay within a PostgreSQL integer: a `?page=99999999999999999999` is a page past the
# end like any other, not a database error.
MAX_PAGE = 1_000_000


@dataclass
class Slice:
    """One page of one list, and the size of the whole list."""

    rows: list[Any] = field(default_factory=list)
    total: int = 0
    first: int = 0  # position of rows[0] in the whole list, from 1; 0 when the page shows none

    @property
    def last(self) -> int:
        return self.first + len(self.rows) - 1 if self.rows else 0


def page_number(raw: str | None) -> int:
    """The page asked for in a `page` parameter: 1 for anything that is not a positive whole
    number in ASCII digits (missing, "0", "-2", "abc", "1.5", " 2"); at most MAX_PAGE."""
    if raw is None or not re.fullmatch(r"[0-9]+", raw):
        return 1
    digits = raw.lstrip("0")
    # Python refuses to read an integer of thousands of digits; it would be past the end anyway.
    if len(digits) > len(str(MAX_PAGE)):
        return MAX_PAGE
    return min(max(int(digits or "0"), 1), MAX_PAGE)


def page_count(totals: Sequence[int], per_page: int) -> int:
    """Pages needed to show the longest of the lists; 1 when they are all empty."""
    return max([1, *(ceil(total / per_page) for total in totals)])


def slices_by_group(
    queryset: QuerySet,
    *,
    group: str,
    groups: Sequence[str],
    order_by: Sequence[str],
    page: int,
    per_page: int,
) -> dict[str, Slice]:
    """Page `page` of each group of `queryset` (rows sharing the value of the `group` field,
    in `order_by` order; `order_by` must end with a unique column so that pages neither skip
    nor repeat a row), with each group's total. One query, whatever the table's size."""
    offset = (page - 1) * per_page
    ranked = (
        queryset.annotate(
            page_position=Window(RowNumber(), partition_by=[F(group)], order_by=list(order_by)),
            group_total=Window(Count("pk"), partition_by=[F(group)]),
        )
        # Each group's first row comes along, so that a group's total is known on a page past
        # its end too (the other column may still have rows there).
        .filter(
            Q(page_position__gt=offset, page_position__lte=offset + per_page) | Q(page_position=1)
        )
        .order_by(group, "page_position")
    )
    slices = {name: Slice() for name in groups}
    for row in ranked:
        part = slices.setdefault(getattr(row, group), Slice())
        part.total = row.group_total
        if row.page_position > offset:
            part.first = part.first or row.page_position
            part.rows.append(row)
    return slices
