"""Keyset cursors: the Next / Previous links of a grid carry the sort values and keys of the
edge row, so the database seeks to it through an index instead of counting OFFSET rows.

A cursor is URL-safe base64 of a JSON list ``[sort_spec, value, ...]`` with every value as
text (or null). Decoding checks it against the current sort and re-types each value by its
column, so a tampered cursor is a 400, never a database error.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import decimal
import json
from typing import Any

from sqlalchemy import Boolean, Date, DateTime, Float, Integer, Numeric, and_, false, or_
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeEngine

from .filters import GridError, bind_value, parse_value

MAX_CURSOR = 4000

Order = list[tuple[ColumnElement[Any], bool, str]]  # column, descending, kind


def kind_of(sqltype: TypeEngine[Any]) -> str:
    """Grid column type of a SQL type (for key columns the grid does not show)."""
    if isinstance(sqltype, Boolean):
        return "bool"
    if isinstance(sqltype, DateTime):
        return "datetime"
    if isinstance(sqltype, Date):
        return "date"
    if isinstance(sqltype, (Integer, Numeric)):
        return "number"
    return "text"


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value)
    return str(value)


def encode(sort_spec: str, values: list[Any]) -> str:
    raw = json.dumps([sort_spec, *(_text(v) for v in values)], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode(cursor: str, sort_spec: str, order: Order, param: str) -> list[Any]:
    """Typed values of a cursor made for ``sort_spec`` over ``order``; GridError if not."""
    if len(cursor) > MAX_CURSOR:
        raise GridError(param, "cursor too long")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw.decode())
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise GridError(param, "not a cursor this grid made; open page 1 again") from None
    if not isinstance(data, list) or not data or data[0] != sort_spec:
        raise GridError(param, "the cursor belongs to another sort order; open page 1 again")
    texts = data[1:]
    if len(texts) != len(order) or not all(t is None or isinstance(t, str) for t in texts):
        raise GridError(param, "not a cursor this grid made; open page 1 again")
    return [_value(text, column, kind, param) for text, (column, _, kind) in zip(texts, order)]


def _value(text: str | None, column: ColumnElement[Any], kind: str, param: str) -> Any:
    if text is None or kind == "text":
        return text  # text exactly as stored: spaces matter to the order
    if "\x00" in text:
        raise GridError(param, "not a cursor this grid made")
    value = parse_value(kind, text, param)
    sqltype = column.type
    # exact decimals stay exact, or rows with nearly equal values would be skipped
    exact = isinstance(sqltype, Numeric) and not isinstance(sqltype, Float) and sqltype.asdecimal
    if kind == "number" and exact:
        return decimal.Decimal(text.strip())
    return value


def _after(column: ColumnElement[Any], desc: bool, kind: str, value: Any, nulls_last: bool) -> Any:
    if value is None:
        return false() if nulls_last else column.is_not(None)
    bound = bind_value(kind, value)
    beyond = column < bound if desc else column > bound
    return or_(beyond, column.is_(None)) if nulls_last else beyond


def _equal(column: ColumnElement[Any], kind: str, value: Any) -> Any:
    return column.is_(None) if value is None else column == bind_value(kind, value)


def _strictly_after(order: Order, values: list[Any], nulls_last: bool) -> ColumnElement[bool]:
    if not order:
        return false()
    terms = []
    for i, (column, desc, kind) in enumerate(order):
        equal = [_equal(c, k, v) for (c, _, k), v in zip(order[:i], values[:i])]
        terms.append(and_(*equal, _after(column, desc, kind, values[i], nulls_last)))
    return or_(*terms)


def seek(order: Order, values: list[Any], nulls_last: bool = True) -> list[ColumnElement[bool]]:
    """Conditions for the rows strictly after ``values`` in ``order``, as disjoint parts to be
    read one after the other. Each part is a plain range on the leading column, so the engine
    seeks through its index; the NULLs of that column, which no range holds, are a part of
    their own. A grid puts NULLs last in either direction; ``nulls_last`` False is that order
    read backwards (a Previous link)."""
    (column, desc, kind), value = order[0], values[0]
    tail = _strictly_after(order[1:], values[1:], nulls_last)
    if value is None:
        ties = and_(column.is_(None), tail)
        return [ties] if nulls_last else [ties, column.is_not(None)]
    bound = bind_value(kind, value)
    within = column <= bound if desc else column >= bound
    past = column < bound if desc else column > bound
    head = and_(within, or_(past, and_(column == bound, tail)))
    return [head, column.is_(None)] if nulls_last else [head]
