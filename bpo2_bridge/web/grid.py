"""The one grid every screen uses: server-side paging, sort, Filter Row, Filter Text Box,
Create Filter, and the same rows as HTML, JSON, CSV and XLSX at one URL.

A view declares a ``Grid`` once, then per request::

    page = CONTRACTS.fetch(conn, base, request.args)        # GridError -> 400
    return grid_response(CONTRACTS, page, template="contracts/index.html", as_of=as_of)

``base`` is any selectable (a Table, a ``select()``, a ``text(...).columns(...).subquery()``);
WHERE, ORDER BY and LIMIT are built with SQLAlchemy Core on its columns, so user input only
ever travels as bound parameters. All state lives in the URL: ``page``, ``page_size``, ``sort``
(``col`` / ``-col``), ``q``, ``f_<col>`` (syntax in :mod:`.grid_filters`), ``filter``, and the
keyset cursors ``after`` / ``before`` the Next / Previous links carry so deep pages stay as fast
as the first. Every other parameter (``tab``, ...) is kept in every link the grid makes.

The URL is read and checked in :mod:`.grid_state`; the page, its links and its response in
:mod:`.grid_page`.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from flask import current_app, has_app_context
from markupsafe import Markup
from sqlalchemy import Connection, Select, func, select
from sqlalchemy.sql import FromClause
from sqlalchemy.sql.elements import ColumnElement
from werkzeug.datastructures import MultiDict

from . import grid_cursor
from .grid_counts import Counter, Memo, count_now, statement_key
from .grid_filters import HELP, KINDS, OPERATORS, GridError
from .grid_page import GridPage, Row, grid_response, register_grid_errors, wants_json
from .grid_state import PAGE_SIZES, Equivalents, GridState

__all__ = [
    "Grid",
    "GridColumn",
    "GridError",
    "GridPage",
    "grid_response",
    "register_grid_errors",
    "wants_json",
]

EXPORT_CAP = 100_000
MEMO_PAGE_ROWS = 200  # larger pages are never remembered (grid_counts keeps whole pages)
# rows between two remembered positions of a list paged deep: a deep page skips fewer than this
MILESTONE_STEP = 500
# Sorted by a computed column (the Customers grid by active contracts), page 1 costs what page 5
# does: every row is computed and sorted either way. Once one of a list's first pages was slow,
# the next asks for its first HEAD_ROWS rows at once, kept like a slow page, and pages within them
# are cut from it. After a sync the first request does so already (Memo.flag outlasts a snapshot).
HEAD_ROWS = 200
# a page this deep or deeper is found by its boundary row (grid._boundary) and a seek; above it,
# OFFSET skips too few rows for the extra query to pay
SEEK_FROM = 100
NULLS_HIGH = ("postgresql", "oracle")  # engines that sort NULL after every value

PLACEHOLDERS = {
    "text": "contains…",
    "number": "e.g. >0, 1..10",
    "date": "e.g. >2026-01-01",
    "datetime": "e.g. 2026-01-01",
    "bool": "",
}


@dataclass(frozen=True)
class GridColumn:
    key: str
    label: str
    type: str = "text"
    sortable: bool = True
    filterable: bool = True
    searchable: bool | None = None
    link: Callable[[Row], str | None] | None = None
    css: Callable[[Row], str | None] | None = None

    def __post_init__(self) -> None:
        if self.type not in KINDS:
            raise ValueError(f"column {self.key}: type must be one of {KINDS}, not {self.type!r}")

    @property
    def is_searchable(self) -> bool:
        return self.type == "text" if self.searchable is None else self.searchable

    @property
    def help(self) -> str:
        return HELP[self.type]

    @property
    def placeholder(self) -> str:
        return PLACEHOLDERS[self.type]

    def text(self, value: Any) -> str:
        """The value as a cell shows it."""
        if value is None:
            return ""
        if self.type == "bool":
            return "Yes" if value else "No"
        if isinstance(value, dt.datetime):
            return value.strftime("%Y-%m-%d %H:%M")
        if isinstance(value, dt.date):
            return value.isoformat()
        return str(value)


class Grid:
    """Columns, default sort and row key of one grid; ``fetch`` answers one request."""

    def __init__(
        self,
        name: str,
        columns: Sequence[GridColumn],
        default_sort: str,
        key: Sequence[str] = ("id",),
        page_size: int = 20,
        export_cap: int = EXPORT_CAP,
    ) -> None:
        self.name = name
        self.columns = list(columns)
        self.by_key = {c.key: c for c in self.columns}
        if len(self.by_key) != len(self.columns):
            raise ValueError(f"grid {name}: duplicate column keys")
        self.key = tuple(key)
        self.page_size = page_size
        self.export_cap = export_cap
        self.default_sort = default_sort
        sort_key = default_sort.removeprefix("-")
        if sort_key not in self.by_key and sort_key not in self.key:
            raise ValueError(f"grid {name}: default sort {default_sort!r} is not a column")
        self.kinds = {c.key: c.type for c in self.columns if c.filterable}
        # markup that is the same on every request, built once rather than per page
        self.search_labels = ", ".join(c.label for c in self.columns if c.is_searchable)
        self.filter_keys = ", ".join(self.kinds)
        option = Markup('<option value="{0}">{1}</option>')
        self.column_options = Markup("").join(option.format(c.key, c.label) for c in self.filterable)
        self.operator_options = Markup("").join(option.format(op, op) for op in OPERATORS)

    @property
    def filterable(self) -> list[GridColumn]:
        return [c for c in self.columns if c.filterable]

    @property
    def operators(self) -> tuple[str, ...]:
        return OPERATORS

    def fetch(
        self,
        conn: Connection,
        base: Any,
        args: MultiDict[str, str],
        *,
        max_page_size: int | None = None,
        count: Counter | None = None,
        equivalents: Equivalents | None = None,
    ) -> GridPage:
        """The rows the URL asks for; GridError (a 400) naming any bad parameter.

        ``count`` counts the filtered rows (default: a COUNT on every request); pass
        ``grid_counts.COUNTS.counter(generation)`` to count each filter once per cache generation.
        ``equivalents`` writes the conditions on a computed column as the same conditions on
        stored, indexed columns: ``{key: lambda op, value: condition}``.
        """
        source = _as_from(base)
        state = GridState.parse(self, args, max_page_size or _max_page_size())
        page = GridPage(self, state)
        if state.redirect is not None:
            page.redirect_params = state.redirect
            return page
        columns = source.c
        missing = [k for k in (*self.by_key, *self.key) if k not in columns]
        if missing:
            raise ValueError(f"grid {self.name}: base has no column {', '.join(missing)}")
        # SQLite's LIKE ignores case already (the cache's other engine, PostgreSQL, needs ILIKE)
        like_ignores_case = conn.dialect.name == "sqlite"
        # no WHERE at all when nothing filters: SQLite counts a bare table several times faster
        where = state.conditions(self, columns, like_ignores_case, equivalents or {})
        page.total = (count or count_now)(conn, select(func.count()).select_from(source).where(*where))
        page.pages = max(1, math.ceil(page.total / state.page_size))
        page.page = min(state.page, page.pages)
        order: list[tuple[ColumnElement[Any], bool]] = [(columns[state.sort_key], state.desc)] + [
            (columns[k], state.desc) for k in self.key if k != state.sort_key
        ]
        query = select(source).where(*where)
        if state.format in ("csv", "xlsx"):
            rows = _rows(conn, query.order_by(*_order_by(order)).limit(self.export_cap + 1))
            page.truncated = len(rows) > self.export_cap
            page.rows = rows[: self.export_cap]
            return page
        size = state.page_size
        if isinstance(count, Memo) and size <= MEMO_PAGE_ROWS:
            shape = statement_key(conn, query)
            # the same question of the same data: a slow page is read once (grid_counts)
            key = ("page", shape, state.sort_spec, page.page, size, state.after, state.before)
            head = ("head", shape, state.sort_spec)
            end = page.page * size
            first_pages = state.after is None and state.before is None and end <= HEAD_ROWS
            if first_pages and count.flagged(head) and not count.answered_slowly(key):
                # a slow list's first pages come from one read of its head (see HEAD_ROWS)
                rows = count.answer(
                    head,
                    lambda: _rows(conn, query.order_by(*_order_by(order)).limit(HEAD_ROWS)),
                    replay=lambda c: _rows(c, query.order_by(*_order_by(order)).limit(HEAD_ROWS)),
                )
                page.rows = rows[end - size : end]
            else:
                page.rows = count.answer(key, lambda: self._page_rows(conn, query, order, state, page, count))
                if first_pages and count.answered_slowly(key):
                    count.flag(head)  # the next page of this list reads the head
        else:
            page.rows = self._page_rows(conn, query, order, state, page, count)
        page.cursor_of = lambda row: grid_cursor.encode(state.sort_spec, [row[c.name] for c, _ in order])
        return page

    def _page_rows(
        self,
        conn: Connection,
        query: Select[Any],
        order: list[tuple[ColumnElement[Any], bool]],
        state: GridState,
        page: GridPage,
        count: Counter | None,
    ) -> list[dict[str, Any]]:
        size, offset = state.page_size, (page.page - 1) * state.page_size
        cursor = state.after or state.before
        if cursor is not None:
            flip = state.before is not None
            seek = [(c, d != flip, self._kind(c)) for c, d in order]
            param = "before" if flip else "after"
            values = grid_cursor.decode(cursor, state.sort_spec, seek, param)
            query = query.order_by(*_order_by([(c, d) for c, d, _ in seek]))
            rows: list[dict[str, Any]] = []
            for part in grid_cursor.seek(seek, values, conn.dialect.name in NULLS_HIGH):
                if len(rows) < size:
                    rows += _rows(conn, query.where(part).limit(size - len(rows)))
            return rows[::-1] if flip else rows
        if offset >= MILESTONE_STEP and isinstance(count, Memo):
            marks = self._milestones(conn, query, order, count)
            if marks is not None:
                return self._page_after_milestone(conn, query, order, state, marks, offset)
        if offset >= SEEK_FROM and isinstance(count, Memo):
            return self._deep_page(conn, query, order, state, count, offset, page.total)
        if offset > page.total // 2:
            # the far half is read backwards, so the last pages cost what the first ones do
            back = [(c, not d) for c, d in order]
            limit = max(0, min(size, page.total - offset))
            query = query.order_by(*_order_by(back)).offset(max(0, page.total - offset - size)).limit(limit)
            return _rows(conn, query)[::-1]
        return _rows(conn, query.order_by(*_order_by(order)).offset(offset).limit(size))

    def _deep_page(
        self,
        conn: Connection,
        query: Select[Any],
        order: list[tuple[ColumnElement[Any], bool]],
        state: GridState,
        memo: Memo,
        offset: int,
        total: int,
    ) -> list[dict[str, Any]]:
        """A deep page: the sort values of the row before it (found once per data and query,
        then remembered), and the page read by seeking past them, as a Next link does."""
        ordered = query.order_by(*_order_by(order))
        remembered = memo.boundary(conn, ordered, offset)
        if remembered is None:
            remembered = _boundary(conn, query, order, offset - 1, total)
            if remembered is None:
                return []
            memo.remember_boundary(conn, ordered, offset, remembered)
        seek = [(c, d, self._kind(c)) for c, d in order]
        # typed exactly as a Next link's cursor would be
        values = grid_cursor.decode(
            grid_cursor.encode(state.sort_spec, list(remembered)), state.sort_spec, seek, "page"
        )
        rows: list[dict[str, Any]] = []
        for part in grid_cursor.seek(seek, values, conn.dialect.name in NULLS_HIGH):
            if len(rows) < state.page_size:
                rows += _rows(conn, ordered.where(part).limit(state.page_size - len(rows)))
        return rows

    def _milestones(
        self, conn: Connection, query: Select[Any], order: list[tuple[ColumnElement[Any], bool]], memo: Memo
    ) -> list[tuple[Any, ...]] | None:
        """Sort values of every MILESTONE_STEP-th row of ``query`` in ``order``, read in one pass
        once the same data is paged deep a second time (people and clients jumping around a
        long list), or read already by a new snapshot's warm-up; None before that, when one
        OFFSET is cheaper than reading every row."""
        key = ("milestones", statement_key(conn, query), tuple((c.name, d) for c, d in order))
        if not memo.has_value(key) and not memo.asked_before(key):
            return None
        return memo.value(
            key,
            lambda: _read_milestones(conn, query, order),
            replay=lambda c: _read_milestones(c, query, order),
        )

    def _page_after_milestone(
        self,
        conn: Connection,
        query: Select[Any],
        order: list[tuple[ColumnElement[Any], bool]],
        state: GridState,
        marks: list[tuple[Any, ...]],
        offset: int,
    ) -> list[dict[str, Any]]:
        """The page at ``offset``: seek past the nearest milestone before it, then skip fewer
        than MILESTONE_STEP rows, whatever the depth."""
        size = state.page_size
        block = min(offset // MILESTONE_STEP, len(marks))
        if block == 0:
            return _rows(conn, query.order_by(*_order_by(order)).offset(offset).limit(size))
        seek = [(c, d, self._kind(c)) for c, d in order]
        # typed exactly as a Next link's cursor would be
        values = grid_cursor.decode(
            grid_cursor.encode(state.sort_spec, list(marks[block - 1])), state.sort_spec, seek, "page"
        )
        ordered = query.order_by(*_order_by(order))
        skip = offset - block * MILESTONE_STEP
        rows: list[dict[str, Any]] = []
        for part in grid_cursor.seek(seek, values, conn.dialect.name in NULLS_HIGH):
            if len(rows) >= size:
                break
            found = _rows(conn, ordered.where(part).offset(skip).limit(size - len(rows)))
            if found:
                rows += found
                skip = 0
            elif skip:  # the page starts in a later part: this one holds fewer than `skip` rows
                skip -= count_now(conn, select(func.count()).select_from(query.where(part).subquery()))
        return rows

    def _kind(self, column: ColumnElement[Any]) -> str:
        grid_column = self.by_key.get(column.name)
        return grid_column.type if grid_column else grid_cursor.kind_of(column.type)


def _boundary(
    conn: Connection,
    query: Select[Any],
    order: list[tuple[ColumnElement[Any], bool]],
    position: int,
    total: int,
) -> tuple[Any, ...] | None:
    """Sort values of the row at ``position`` (0-based) of ``query`` in ``order``, or None.

    Only the sort columns are selected while the rows before it are skipped: a row skipped with
    all its columns costs its computed ones too (a contract's machine count is a subquery), and
    skipping 450,000 contracts that way took 4-6 s on PostgreSQL against 0.6 s for the sort
    columns alone. Past the middle the rows are counted from the end."""
    columns = [c for c, _ in order]
    narrow = query.with_only_columns(*columns)
    if position > total // 2:
        skipped = narrow.order_by(*_order_by([(c, not d) for c, d in order])).offset(total - 1 - position)
    else:
        skipped = narrow.order_by(*_order_by(order)).offset(position)
    row = conn.execute(skipped.limit(1)).first()
    return tuple(row) if row is not None else None


def _read_milestones(
    conn: Connection, query: Select[Any], order: list[tuple[ColumnElement[Any], bool]]
) -> list[tuple[Any, ...]]:
    # numbered by the engine in one ordered pass; only every MILESTONE_STEP-th row comes back
    columns = [c for c, _ in order]
    position = func.row_number().over(order_by=_order_by(order)).label("grid_position")
    numbered = query.with_only_columns(*columns, position).subquery("numbered")
    marks = (
        select(*(numbered.c[c.name] for c in columns))
        .where(numbered.c.grid_position % MILESTONE_STEP == 0)
        .order_by(numbered.c.grid_position)
    )
    return [tuple(row) for row in conn.execute(marks)]


def _as_from(base: Any) -> FromClause:
    if isinstance(base, FromClause):
        return base
    if isinstance(base, Select) or hasattr(base, "subquery"):
        subquery: FromClause = base.subquery("grid_base")
        return subquery
    raise TypeError(f"a grid base must be a table, select or subquery, not {type(base).__name__}")


def _order_by(order: list[tuple[ColumnElement[Any], bool]]) -> list[ColumnElement[Any]]:
    return [c.desc() if d else c.asc() for c, d in order]


def _rows(conn: Connection, query: Select[Any]) -> list[dict[str, Any]]:
    return [dict(r) for r in conn.execute(query).mappings()]


def _max_page_size() -> int:
    if has_app_context():
        bridge = current_app.extensions.get("bpo2_bridge")
        settings = getattr(bridge, "settings", None)
        if settings is not None:
            return int(settings.grid_max_page_size)
    return max(PAGE_SIZES)
