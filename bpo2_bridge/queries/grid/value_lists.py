"""Text tests on a column with few distinct values (a contract's status or type, a customer's
site), answered through that column's index.

The grid's text tests ignore case (``lower(status) = lower(:v)``, ``LIKE '%v%'``), which no
index on the column serves: a filter on Status read every contract. Such a column holds a
handful of values, so the values that pass the test are worked out here, and the test becomes
``status IN (...)``, a few index ranges. The values are read by one loose index scan (the next
value after each, through the column's index), which reads as many index entries as there are
values, not rows.
"""

from __future__ import annotations

from collections.abc import Callable
from types import MappingProxyType
from typing import Any

from sqlalchemy import Connection, false, func, or_, select
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.schema import Column

# tests whose answer for a value this module works out as the database would (ASCII case folding:
# SQLite's LIKE and lower() fold ASCII letters alone)
_TESTS: MappingProxyType[str, Callable[[str, str], bool]] = MappingProxyType(
    {
        "=": lambda stored, value: stored == value,
        "!=": lambda stored, value: stored != value,
        "contains": lambda stored, value: value in stored,
        "startswith": lambda stored, value: stored.startswith(value),
    }
)


def distinct_values(conn: Connection, column: ColumnElement[Any], limit: int | None = None) -> list[Any]:
    """Every value of ``column`` (NULL aside; the first ``limit``), in one statement that seeks
    through its index from each value to the next. ``column`` is a table's, or a subquery's
    that reads one table's column (a grid's base)."""
    table = column.table
    found = select(func.min(column).label("v")).select_from(table).cte("found", recursive=True)
    after = select(func.min(column)).select_from(table).where(column > found.c.v).scalar_subquery()
    found = found.union_all(select(after).where(found.c.v.is_not(None)))
    values = select(found.c.v).where(found.c.v.is_not(None))
    if limit is not None:
        values = values.limit(limit)
    return [v for v in conn.execute(values).scalars()]


def listed(
    conn: Connection, column: Column[Any], shown: ColumnElement[Any]
) -> Callable[[str, Any], ColumnElement[bool] | None]:
    """An equivalent (``Grid.fetch(equivalents=)``) for the grid column ``shown``, which reads
    the table column ``column``: text tests as ``shown IN (values that pass)``; None for any
    other test, which the grid then makes itself. The values are read once per request."""
    values: list[Any] | None = None

    def rewrite(op: str, value: Any) -> ColumnElement[bool] | None:
        nonlocal values
        test = _TESTS.get(op)
        if test is None or not isinstance(value, str) or not value.isascii():
            return None
        if values is None:
            values = distinct_values(conn, column)
        if not all(isinstance(v, str) and v.isascii() for v in values):
            return None  # case folding beyond ASCII differs between engines: the grid's own test
        wanted = value.lower()
        passing = [v for v in values if test(v.lower(), wanted)]
        listed = shown.in_(passing) if passing else false()
        # "differs" keeps empty cells, as on every grid column
        return or_(listed, shown.is_(None)) if op == "!=" and column.nullable else listed

    return rewrite
