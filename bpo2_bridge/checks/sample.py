"""The rows a check found, as a small in-memory table a grid can page, sort, filter and export.

A check's rows have whatever columns its SQL selects, so their kinds are read off the values:
numbers, dates and date-times keep their kind (and sort and filter as such), the rest is text.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import MappingProxyType
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Date,
    DateTime,
    Integer,
    MetaData,
    Numeric,
    Table,
    Text,
    create_engine,
    insert,
)
from sqlalchemy.pool import StaticPool
from sqlalchemy.types import TypeEngine

ROW_KEY = "_row"  # the check's own row order, and the grid's row key
_TYPES: MappingProxyType[str, TypeEngine[Any]] = MappingProxyType(
    {
        "number": Numeric(),
        "date": Date(),
        "datetime": DateTime(),
        "text": Text(),
    }
)


def kind_of(values: Sequence[Any]) -> str:
    """number | date | datetime | text, for the non-null values of one column."""
    present = [v for v in values if v is not None and v != ""]
    if not present:
        return "text"
    if all(isinstance(v, (int, float, decimal.Decimal)) and not isinstance(v, bool) for v in present):
        return "number"
    if all(_date(v) is not None for v in present):
        return "date"
    if all(_datetime(v) is not None for v in present):
        return "datetime"
    return "text"


def _date(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return None
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and len(value) == 10:
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return None
    return None


def _datetime(value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, str) and len(value) > 10:
        try:
            return dt.datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


def _convert(value: Any, kind: str) -> Any:
    if value is None or value == "":
        return None
    if kind == "date":
        return _date(value)
    if kind == "datetime":
        return _datetime(value)
    if kind == "number":
        return decimal.Decimal(str(value))
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"<{len(value)} bytes>"
    return str(value)


def column_kinds(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> dict[str, str]:
    return {name: kind_of([row[i] for row in rows]) for i, name in enumerate(columns)}


@contextmanager
def rows_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> Iterator[tuple[Connection, Table]]:
    """A connection on a private in-memory database holding the rows as one table."""
    kinds = column_kinds(columns, rows)
    metadata = MetaData()
    table = Table(
        "check_rows",
        metadata,
        Column(ROW_KEY, Integer, primary_key=True),
        *(Column(name, _TYPES[kinds[name]]) for name in columns),
    )
    engine = create_engine("sqlite://", poolclass=StaticPool)
    try:
        with engine.connect() as conn:
            metadata.create_all(conn)
            if rows:
                conn.execute(
                    insert(table),
                    [
                        {ROW_KEY: number, **{c: _convert(v, kinds[c]) for c, v in zip(columns, row)}}
                        for number, row in enumerate(rows, start=1)
                    ],
                )
            yield conn, table
    finally:
        engine.dispose()
