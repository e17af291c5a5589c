"""What users type into a grid's Filter Row, parsed into SQLAlchemy conditions; the values
and comparisons the Create Filter builder (:mod:`.builder`) shares, and GridError, what any
bad grid parameter raises.

**Filter Row** (parameter ``f_<column>``; a blank cell filters nothing):

=========  ==============================================  =====================================
type       you type                                        rows kept
=========  ==============================================  =====================================
text       ``abc``                                         contains "abc" (any case)
           ``=abc`` / ``!=abc``                            equals / differs from "abc" (any case)
           ``abc*``                                        starts with "abc" (any case)
number     ``5`` ``=5`` ``!=5`` ``>5`` ``>=5`` ``<5``      comparisons
           ``1..10``  ``..10``  ``1..``                    ranges, both ends included
date       ``2026-01-01`` ``>2026-01-01`` ``!=``…           same operators as numbers
           ``2026-01-01..2026-03-31``                      range, both days included
datetime   as date (a day stands for all its times), or ``2026-01-01T10:30``
bool       ``yes`` / ``no``                                also true/false, 1/0
=========  ==============================================  =====================================

"Differs" (``!=``) keeps empty cells too: a user asking for "not Active" expects rows with no
status. Everything typed reaches SQL only as bound parameters.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from types import MappingProxyType
from typing import Any

from sqlalchemy import Boolean, Date, DateTime, Float, Integer, String, and_, cast, func, literal, or_, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import NullType

from ...cache import time_limit
from .value_lists import distinct_values

KINDS = ("text", "number", "date", "datetime", "bool")
OPERATORS = ("=", "!=", "<", "<=", ">", ">=", "contains", "startswith")
TEXT_ONLY = ("contains", "startswith")


# what a page calls the grid's URL parameters (a Filter Row cell: its column's label, state.label_of)
LABELS = MappingProxyType(
    {
        "page": "Page",
        "page_size": "Rows per page",
        "sort": "Sort",
        "q": "Search",
        "filter": "Filter",
        "format": "Format",
        "after": "Next page link",
        "before": "Previous page link",
        "fb_column": "Column",
        "fb_op": "Operator",
        "fb_value": "Value",
        "fb_join": "Join",
        "fb_target": "Add to",
        "cols": "Columns",
    }
)


class GridError(Exception):
    """Bad grid input, naming the parameter: ``description`` is the one line a user reads
    (the web answers it as a 400 page or JSON error, web/grid.py)."""

    code = 400  # the HTTP status a web answer gives it: the request's fault

    def __init__(self, param: str, message: str) -> None:
        self.param = param
        self.message = message
        # what the page calls the parameter; a Filter Row cell's column label set by GridState.parse
        self.label = LABELS.get(param, param)
        self.description = f"{param}: {message}"
        super().__init__(self.description)


# -- single values


_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d{1,3})?")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?")
_BOOLS = MappingProxyType(
    {
        "yes": True,
        "y": True,
        "true": True,
        "1": True,
        "no": False,
        "n": False,
        "false": False,
        "0": False,
    }
)
_INT64 = 2**63 - 1


def parse_value(kind: str, text: str, param: str) -> Any:
    """The typed value of ``text`` for a column of ``kind``; GridError naming ``param`` if malformed."""
    text = text.strip()
    if kind == "text":
        return text
    if kind == "number":
        if not _NUMBER.fullmatch(text):
            raise GridError(param, f"{text!r} is not a number")
        if re.fullmatch(r"[+-]?\d+", text):
            number = int(text)
            if abs(number) > _INT64:
                raise GridError(param, f"{text!r} is too large")
            return number
        value = float(text)
        if not math.isfinite(value):
            raise GridError(param, f"{text!r} is too large")
        return value
    if kind == "bool":
        if text.lower() not in _BOOLS:
            raise GridError(param, f"{text!r} is not yes or no")
        return _BOOLS[text.lower()]
    if kind == "date" or (kind == "datetime" and _DATE.fullmatch(text)):
        return _date(text, param)
    if kind == "datetime":
        if not _DATETIME.fullmatch(text):
            raise GridError(param, f"{text!r} is not a date (YYYY-MM-DD) or time (YYYY-MM-DDTHH:MM)")
        try:
            moment = dt.datetime.fromisoformat(text)
        except ValueError:
            raise GridError(param, f"{text!r} is not a valid time") from None
        _date(moment.date().isoformat(), param)
        return moment
    raise ValueError(f"unknown column type {kind!r}")


def _date(text: str, param: str) -> dt.date:
    if not _DATE.fullmatch(text):
        raise GridError(param, f"{text!r} is not a date (YYYY-MM-DD)")
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise GridError(param, f"{text!r} is not a valid date") from None
    # keeps "the next day" and every database's date range in reach
    if not 1000 <= day.year <= 9998:
        raise GridError(param, f"{text!r}: dates run from year 1000 to 9998")
    return day


def render_value(kind: str, value: Any) -> str:
    """Value as Create Filter text that parses back to the same value."""
    if kind == "bool":
        return "yes" if value else "no"
    if kind == "text":
        return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, dt.datetime):
        return value.isoformat(timespec="seconds" if not value.microsecond else "microseconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    return repr(value) if isinstance(value, float) else str(value)


# -- one comparison in SQL


def bind_value(kind: str, value: Any) -> ColumnElement[Any]:
    if kind == "number":
        return literal(value, Integer() if isinstance(value, int) else Float())
    if kind == "bool":
        return literal(value, Boolean())
    if isinstance(value, dt.datetime):
        return literal(value, DateTime())
    if isinstance(value, dt.date):
        return literal(value, Date())
    return literal(value, String())


def _as_text(column: ColumnElement[Any]) -> ColumnElement[Any]:
    # a "text" grid column may be a number in the database (account numbers); LIKE needs text
    if isinstance(column.type, (String, NullType)):
        return column
    return cast(column, String())


def compare(
    column: ColumnElement[Any], kind: str, op: str, value: Any, *, like_ignores_case: bool = False
) -> ColumnElement[bool]:
    """SQL for ``column op value``; ``value`` already typed by parse_value.

    ``like_ignores_case``: the engine's LIKE already ignores case (SQLite), so the column is
    not wrapped in lower(), which costs a function call per row on every search.
    """
    if op in TEXT_ONLY:
        text = _as_text(column)
        if like_ignores_case:
            if op == "contains":
                return text.contains(value, autoescape=True)
            return text.startswith(value, autoescape=True)
        if op == "contains":
            return text.icontains(value, autoescape=True)
        return text.istartswith(value, autoescape=True)
    if kind == "datetime" and not isinstance(value, dt.datetime):
        return _whole_day(column, op, value)
    left: ColumnElement[Any] = column
    right = bind_value(kind, value)
    if kind == "text" and op in ("=", "!="):
        left, right = func.lower(_as_text(column)), func.lower(right)
    if op == "=":
        return left == right
    if op == "!=":
        return or_(left != right, column.is_(None))
    if op == "<":
        return left < right
    if op == "<=":
        return left <= right
    if op == ">":
        return left > right
    if op == ">=":
        return left >= right
    raise ValueError(f"unknown operator {op!r}")


def _whole_day(column: ColumnElement[Any], op: str, day: dt.date) -> ColumnElement[bool]:
    start = literal(dt.datetime.combine(day, dt.time()), DateTime())
    end = literal(dt.datetime.combine(day + dt.timedelta(days=1), dt.time()), DateTime())
    return {
        "=": lambda: and_(column >= start, column < end),
        "!=": lambda: or_(column < start, column >= end, column.is_(None)),
        "<": lambda: column < start,
        "<=": lambda: column < end,
        ">": lambda: column >= end,
        ">=": lambda: column >= start,
    }[op]()


# -- Filter Row cells

_PREFIX = re.compile(r"(<=|>=|!=|<>|<|>|=)?\s*(.*)", re.DOTALL)
HELP = MappingProxyType(
    {
        "text": "abc contains · =abc equals · !=abc differs · abc* starts with",
        "number": "5 · >5 · <=5 · !=5 · 1..10",
        "date": "2026-01-01 · >2026-01-01 · 2026-01-01..2026-03-31",
        "datetime": "2026-01-01 · >2026-01-01 · 2026-01-01..2026-03-31",
        "bool": "yes · no",
    }
)


def cell_conditions(kind: str, text: str, param: str) -> list[tuple[str, Any]]:
    """The (operator, value) pairs one Filter Row cell asks for; all must hold."""
    text = text.strip()
    if not text:
        return []
    if kind == "text":
        if text.startswith("!="):
            return [("!=", text[2:].strip())]
        if text.startswith("="):
            return [("=", text[1:].strip())]
        if text.endswith("*") and len(text) > 1:
            return [("startswith", text[:-1])]
        return [("contains", text)]
    if kind == "bool":
        return [("=", parse_value(kind, text.lstrip("="), param))]
    if ".." in text:
        low, high = (part.strip() for part in text.split("..", 1))
        if not low and not high:
            raise GridError(param, "a range needs at least one end, e.g. 1..10")
        hint = "; ranges look like 1..10 or 2026-01-01..2026-03-31"
        pairs = []
        try:
            if low:
                pairs.append((">=", parse_value(kind, low, param)))
            if high:
                pairs.append(("<=", parse_value(kind, high, param)))
        except GridError as exc:
            raise GridError(param, exc.message + hint) from None
        return pairs
    match = _PREFIX.fullmatch(text)
    assert match is not None  # the pattern accepts any text
    op = {None: "=", "<>": "!="}.get(match.group(1), match.group(1))
    try:
        return [(op, parse_value(kind, match.group(2), param))]
    except GridError as exc:
        raise GridError(param, f"{exc.message} (use {HELP[kind]})") from None


# -- header filter drop-downs (parameter ``in_<column>``, repeated: rows holding any of the values)

MAX_CHOICES = 30  # a column with more values than this gets no drop-down


def value_counts(
    conn: Any, source: Any, where: list[ColumnElement[bool]], column: ColumnElement[Any], seconds: float
) -> list[tuple[Any, int | None]] | None:
    """The values of a few-valued column in a list, with how many rows hold each (None as the
    count where counting would take longer than ``seconds``: the values are still listed); None
    when the column has more than MAX_CHOICES values, or listing them too would take longer
    (SQLite; a list that long keeps its Filter Row cell)."""
    counted = select(column, func.count()).select_from(source).where(*where).group_by(column).order_by(column)
    # the count gets half of ``seconds``; past it, the values are listed in what is left
    deadline = time_limit.clock() + seconds
    try:
        with time_limit.budget(conn, seconds / 2):
            rows = conn.execute(counted.limit(MAX_CHOICES + 1)).all()
        pairs: list[tuple[Any, int | None]] = [(value, int(n)) for value, n in rows]
    except DBAPIError as exc:
        if not time_limit.is_time_limit(exc):
            raise
        listed = select(column).select_from(source).where(*where).distinct().order_by(column)
        left = deadline - time_limit.clock()
        if left <= 0:
            return None
        try:
            with time_limit.budget(conn, left):
                pairs = [(value, None) for value in conn.execute(listed.limit(MAX_CHOICES + 1)).scalars()]
        except DBAPIError as again:
            if not time_limit.is_time_limit(again):
                raise
            return None
    return None if len(pairs) > MAX_CHOICES else pairs


def held_values(conn: Any, column: ColumnElement[Any], seconds: float) -> list[tuple[Any, int | None]] | None:
    """The values ``column`` holds in its whole table, without counts, read through its index
    (``value_lists.distinct_values``); None past MAX_CHOICES values or ``seconds``."""
    try:
        with time_limit.budget(conn, seconds):
            values = distinct_values(conn, column, MAX_CHOICES + 1)
    except DBAPIError as exc:
        if not time_limit.is_time_limit(exc):
            raise
        return None
    return None if len(values) > MAX_CHOICES else [(value, None) for value in values]
