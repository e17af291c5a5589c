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
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from flask import Flask, Response, current_app, has_app_context, redirect, render_template, request
from markupsafe import Markup, escape
from sqlalchemy import Connection, Select, false, func, or_, select
from sqlalchemy.sql import FromClause
from sqlalchemy.sql.elements import ColumnElement
from werkzeug.datastructures import MultiDict

from . import grid_cursor, grid_export
from .grid_counts import Counter, Memo, count_now, statement_key
from .grid_filters import (
    HELP,
    KINDS,
    OPERATORS,
    Condition,
    GridError,
    Node,
    cell_conditions,
    compare,
    condition,
    filter_sql,
    junction,
    parse_filter,
    render_filter,
)

__all__ = ["Grid", "GridColumn", "GridError", "GridPage", "grid_response", "register_grid_errors"]

PAGE_SIZES = (10, 20, 50, 100, 200)
EXPORT_CAP = 100_000
MEMO_PAGE_ROWS = 200  # larger pages are never remembered (grid_counts keeps whole pages)
# rows between two remembered positions of a list paged deep: a deep page skips fewer than this
MILESTONE_STEP = 500
# Sorted by a computed column (the Customers grid by active contracts), page 1 costs what page 5
# does: every row is computed and sorted either way. Once one of a list's first pages was slow,
# the next asks for its first HEAD_ROWS rows at once, kept like a slow page, and pages within them
# are cut from it.
HEAD_ROWS = 200
NULLS_HIGH = ("postgresql", "oracle")  # engines that sort NULL after every value
MAX_PARAM_LENGTH = 2000
FORMATS = ("html", "json", "csv", "xlsx")
STATE_PARAMS = ("page", "page_size", "sort", "q", "filter", "after", "before", "format")
BUILDER_PARAMS = ("fb_column", "fb_op", "fb_value", "fb_join")
MAX_SEARCH_TERMS = 10

Row = Mapping[str, Any]
# per computed column: (operator, typed value) -> the same condition on stored columns, or
# None where the computed column itself must be compared
Equivalents = Mapping[str, Callable[[str, Any], "ColumnElement[bool] | None"]]
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
        state = _State.parse(self, args, max_page_size or _max_page_size())
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
        order = [(columns[state.sort_key], state.desc)] + [
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
                    head, lambda: _rows(conn, query.order_by(*_order_by(order)).limit(HEAD_ROWS))
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
        state: _State,
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
        if offset > page.total // 2:
            # the far half is read backwards, so the last pages cost what the first ones do
            back = [(c, not d) for c, d in order]
            limit = max(0, min(size, page.total - offset))
            query = query.order_by(*_order_by(back)).offset(max(0, page.total - offset - size)).limit(limit)
            return _rows(conn, query)[::-1]
        if offset and isinstance(count, Memo):
            return self._deep_page(conn, query.order_by(*_order_by(order)), order, state, count, offset)
        return _rows(conn, query.order_by(*_order_by(order)).offset(offset).limit(size))

    def _deep_page(
        self,
        conn: Connection,
        ordered: Select[Any],
        order: list[tuple[ColumnElement[Any], bool]],
        state: _State,
        memo: Memo,
        offset: int,
    ) -> list[dict[str, Any]]:
        """A page past the first: the first time through OFFSET, reading the row before it as
        well and remembering its sort values; later (same data, same query) by seeking past
        them, as a Next link does, so a deep page costs what page 1 costs."""
        size = state.page_size
        seek = [(c, d, self._kind(c)) for c, d in order]
        nulls_high = conn.dialect.name in NULLS_HIGH
        remembered = memo.boundary(conn, ordered, offset)
        if remembered is not None:
            # typed exactly as a Next link's cursor would be
            values = grid_cursor.decode(
                grid_cursor.encode(state.sort_spec, list(remembered)), state.sort_spec, seek, "page"
            )
            rows: list[dict[str, Any]] = []
            for part in grid_cursor.seek(seek, values, nulls_high):
                if len(rows) < size:
                    rows += _rows(conn, ordered.where(part).limit(size - len(rows)))
            return rows
        rows = _rows(conn, ordered.offset(offset - 1).limit(size + 1))
        if rows:
            names = [c.name for c, _ in order]  # type: ignore[attr-defined]
            memo.remember_boundary(conn, ordered, offset, tuple(rows[0][name] for name in names))
        return rows[1:]

    def _milestones(
        self, conn: Connection, query: Select[Any], order: list[tuple[ColumnElement[Any], bool]], memo: Memo
    ) -> list[tuple[Any, ...]] | None:
        """Sort values of every MILESTONE_STEP-th row of ``query`` in ``order``, read in one pass
        once the same data is paged deep a second time (people and clients jumping around a
        long list); None before that, when one OFFSET is cheaper than reading every row."""
        key = ("milestones", statement_key(conn, query), tuple((c.name, d) for c, d in order))  # type: ignore[attr-defined]
        if not memo.asked_before(key):
            return None
        return memo.value(key, lambda: _read_milestones(conn, query, order))

    def _page_after_milestone(
        self,
        conn: Connection,
        query: Select[Any],
        order: list[tuple[ColumnElement[Any], bool]],
        state: _State,
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
        grid_column = self.by_key.get(column.name)  # type: ignore[attr-defined]
        return grid_column.type if grid_column else grid_cursor.kind_of(column.type)


def _read_milestones(
    conn: Connection, query: Select[Any], order: list[tuple[ColumnElement[Any], bool]]
) -> list[tuple[Any, ...]]:
    # numbered by the engine in one ordered pass; only every MILESTONE_STEP-th row comes back
    columns = [c for c, _ in order]
    position = func.row_number().over(order_by=_order_by(order)).label("grid_position")
    numbered = query.with_only_columns(*columns, position).subquery("numbered")
    marks = (
        select(*(numbered.c[c.name] for c in columns))  # type: ignore[attr-defined]
        .where(numbered.c.grid_position % MILESTONE_STEP == 0)
        .order_by(numbered.c.grid_position)
    )
    return [tuple(row) for row in conn.execute(marks)]


def _as_from(base: Any) -> FromClause:
    if isinstance(base, FromClause):
        return base
    if isinstance(base, Select) or hasattr(base, "subquery"):
        return base.subquery("grid_base")
    raise TypeError(f"a grid base must be a table, select or subquery, not {type(base).__name__}")


def _order_by(order: list[tuple[ColumnElement[Any], bool]]) -> list[ColumnElement[Any]]:
    return [c.desc() if d else c.asc() for c, d in order]


def _rows(conn: Connection, query: Select[Any]) -> list[dict[str, Any]]:
    return [dict(r) for r in conn.execute(query).mappings()]


def _html(value: Any) -> str:
    """``value`` escaped as Jinja's autoescape would; plain text (nearly every cell) without
    building a Markup object per cell."""
    if type(value) is str:
        return (
            value.replace("&", "&amp;")
            .replace(">", "&gt;")
            .replace("<", "&lt;")
            .replace("'", "&#39;")
            .replace('"', "&#34;")
        )
    return str(escape(value))


def _max_page_size() -> int:
    if has_app_context():
        bridge = current_app.extensions.get("bpo2_bridge")
        settings = getattr(bridge, "settings", None)
        if settings is not None:
            return int(settings.grid_max_page_size)
    return max(PAGE_SIZES)


@dataclass
class _State:
    """The grid parameters of one URL, each checked."""

    page: int = 1
    page_size: int = 20
    sort_key: str = ""
    desc: bool = False
    q: str = ""
    cells: dict[str, str] = field(default_factory=dict)
    filter: Node | None = None
    after: str | None = None
    before: str | None = None
    format: str = "html"
    max_page_size: int = 200
    redirect: dict[str, str | None] | None = None

    @property
    def sort_spec(self) -> str:
        return ("-" if self.desc else "") + self.sort_key

    @classmethod
    def parse(cls, grid: Grid, args: MultiDict[str, str], max_page_size: int) -> _State:
        def arg(name: str) -> str:
            value = args.get(name, "") or ""
            if len(value) > MAX_PARAM_LENGTH:
                raise GridError(name, f"too long (at most {MAX_PARAM_LENGTH} characters)")
            if "\x00" in value:
                raise GridError(name, "contains a NUL character")
            return value

        state = cls(max_page_size=max_page_size)
        state.page = _whole(arg("page"), "page", 1) if arg("page").strip() else 1
        size = _whole(arg("page_size"), "page_size", 1) if arg("page_size").strip() else grid.page_size
        state.page_size = min(size, max_page_size)
        sort = arg("sort").strip() or grid.default_sort
        state.desc, state.sort_key = sort.startswith("-"), sort.removeprefix("-")
        column = grid.by_key.get(state.sort_key)
        if state.sort_key not in grid.key and (column is None or not column.sortable):
            sortable = ", ".join(c.key for c in grid.columns if c.sortable)
            raise GridError("sort", f"cannot sort by {state.sort_key!r} (sortable: {sortable})")
        state.format = arg("format").strip().lower() or "html"
        if state.format not in FORMATS:
            raise GridError("format", f"unknown format {state.format!r} (use {', '.join(FORMATS)})")
        state.q = " ".join(arg("q").split())
        if state.q and not any(c.is_searchable for c in grid.columns):
            raise GridError("q", "this grid has no text columns to search")
        if len(state.q.split()) > MAX_SEARCH_TERMS:
            raise GridError("q", f"at most {MAX_SEARCH_TERMS} words")
        for name in args:
            if name.startswith("f_"):
                key = name[2:]
                if key not in grid.kinds:
                    raise GridError(name, f"no filterable column {key!r}")
                if arg(name).strip():
                    cell_conditions(grid.kinds[key], arg(name), name)  # checks the syntax now
                    state.cells[key] = arg(name).strip()
        state.filter = parse_filter(arg("filter"), grid.kinds)
        state.after, state.before = arg("after").strip() or None, arg("before").strip() or None
        if state.after and state.before:
            raise GridError("after", "give after or before, not both")
        if any(arg(name).strip() for name in BUILDER_PARAMS):
            state.redirect = state.built(grid, {n: arg(n) for n in BUILDER_PARAMS})
        return state

    def built(self, grid: Grid, form: dict[str, str]) -> dict[str, str | None]:
        """URL changes that add the Create Filter form's condition to ``filter``."""
        key = form["fb_column"].strip()
        if key not in grid.kinds:
            raise GridError("fb_column", f"choose a column (not {key!r})")
        join = form["fb_join"].strip().upper() or "AND"
        if join not in ("AND", "OR"):
            raise GridError("fb_join", "choose AND or OR")
        op = form["fb_op"].strip().lower() or "="
        added: Node = condition(key, grid.kinds[key], op, form["fb_value"], "fb_value")
        node = added if self.filter is None else junction(join, [self.filter, added])
        return {"filter": render_filter(node, grid.kinds), "page": None}

    def conditions(
        self, grid: Grid, columns: Any, like_ignores_case: bool, equivalents: Equivalents
    ) -> list[ColumnElement[bool]]:
        def one(key: str, op: str, value: Any) -> ColumnElement[bool]:
            rewritten = equivalents[key](op, value) if key in equivalents else None
            if rewritten is not None:
                return rewritten
            return compare(columns[key], grid.kinds[key], op, value, like_ignores_case=like_ignores_case)

        out = []
        for key, text in self.cells.items():
            for op, value in cell_conditions(grid.kinds[key], text, f"f_{key}"):
                out.append(one(key, op, value))
        searchable = [c for c in grid.columns if c.is_searchable]
        for term in self.q.split():
            out.append(or_(false(), *(one(c.key, "contains", term) for c in searchable)))
        if self.filter is not None:
            out.append(filter_sql(self.filter, one))
        return out


def _whole(text: str, name: str, lowest: int) -> int:
    text = text.strip()
    if not text.isascii() or not text.isdigit() or len(text) > 12:
        raise GridError(name, f"{text!r} is not a whole number")
    number = int(text)
    if number < lowest:
        raise GridError(name, f"must be at least {lowest}")
    return number


class GridPage:
    """One page of a grid plus everything its template needs to draw links."""

    def __init__(self, grid: Grid, state: _State) -> None:
        self.grid = grid
        self.state = state
        self.rows: list[dict[str, Any]] = []
        self.total = 0
        self.page = state.page
        self.pages = 1
        self.page_size = state.page_size
        self.truncated = False
        self.redirect_params: dict[str, str | None] | None = None
        self.cursor_of: Callable[[Row], str] | None = None
        # the request's own parameters, read once per page: every link and form starts from them
        self._args: list[tuple[str, list[str]]] | None = None

    # -- state, as the template shows it
    @property
    def sort_key(self) -> str:
        return self.state.sort_key

    @property
    def sort_desc(self) -> bool:
        return self.state.desc

    @property
    def q(self) -> str:
        return self.state.q

    @property
    def cells(self) -> dict[str, str]:
        return self.state.cells

    @property
    def format(self) -> str:
        return self.state.format

    @property
    def filter_text(self) -> str:
        node = self.state.filter
        return render_filter(node, self.grid.kinds) if node is not None else ""

    @property
    def filter_parts(self) -> list[tuple[str, str]]:
        """(text, URL without it) for each top-level AND condition, so one can be removed."""
        node = self.state.filter
        if node is None or (not isinstance(node, Condition) and node.op == "OR"):
            return []
        parts = [node] if isinstance(node, Condition) else list(node.parts)
        out = []
        for i, part in enumerate(parts):
            rest = parts[:i] + parts[i + 1 :]
            left = render_filter(junction("AND", rest), self.grid.kinds) if rest else None
            out.append((render_filter(part, self.grid.kinds, nested=True), self.url(filter=left, page=None)))
        return out

    @property
    def reference(self) -> str:
        noun = "row" if self.total == 1 else "rows"
        return f"Page {self.page:,} of {self.pages:,} ({self.total:,} {noun})"

    @property
    def first_row(self) -> int:
        return (self.page - 1) * self.page_size + 1 if self.rows else 0

    @property
    def page_sizes(self) -> list[int]:
        sizes = {s for s in PAGE_SIZES if s <= self.state.max_page_size} | {self.page_size}
        return sorted(sizes)

    def sort_url(self, key: str) -> str:
        spec = "-" + key if key == self.sort_key and not self.sort_desc else key
        return self.url(sort=spec, page=None)

    def aria_sort(self, key: str) -> str:
        if key != self.sort_key:
            return "none"
        return "descending" if self.sort_desc else "ascending"

    def body_rows(self) -> list[Markup]:
        """Each row's ``<td>`` cells as escaped HTML, formatted here in one pass: through the
        template, the per-cell calls (text, link, css) cost as much as the query."""
        columns = [(c.key, f"col-{c.type}", c.css, c.link, c.text) for c in self.grid.columns]
        out = []
        for row in self.rows:
            cells = []
            for key, cls, css_of, link_of, text_of in columns:
                css = css_of(row) if css_of else None
                href = link_of(row) if link_of else None
                klass = f"{cls} {_html(css)}" if css else cls
                text = _html(text_of(row[key]))
                if href:
                    cells.append(f'\n        <td class="{klass}"><a href="{_html(href)}">{text}</a></td>')
                else:
                    cells.append(f'\n        <td class="{klass}">{text}</td>')
            out.append(Markup("".join(cells)))
        return out

    def headers(self) -> list[tuple[GridColumn, str, str | None, str]]:
        """(column, aria-sort, sort link or None, sort mark) for each header cell."""
        out = []
        for c in self.grid.columns:
            mark = ""
            if c.key == self.sort_key:
                mark = " ▼" if self.sort_desc else " ▲"
            out.append((c, self.aria_sort(c.key), self.sort_url(c.key) if c.sortable else None, mark))
        return out

    # -- links; all keep unrelated parameters
    def _request_args(self) -> list[tuple[str, list[str]]]:
        if self._args is None:
            self._args = list(request.args.lists())
        return self._args

    def url(self, **changes: Any) -> str:
        """This URL with ``changes`` (None removes); cursors and builder fields never carry over."""
        params: dict[str, list[str]] = {
            k: v for k, v in self._request_args() if k not in ("after", "before", *BUILDER_PARAMS)
        }
        for key, value in changes.items():
            if value is None or value == "":
                params.pop(key, None)
            else:
                params[key] = [str(value)]
        query = urlencode([(k, v) for k, vs in params.items() for v in vs])
        return request.script_root + request.path + ("?" + query if query else "")

    def hidden(self, *exclude: str) -> list[tuple[str, str]]:
        """(name, value) pairs a GET form carries so submitting keeps the rest of the state."""
        skip = {"page", "after", "before", "format", *BUILDER_PARAMS, *exclude}
        return [(k, v) for k, vs in self._request_args() for v in vs if k not in skip]

    @property
    def row_hidden(self) -> list[tuple[str, str]]:
        return self.hidden(*(f"f_{key}" for key in self.grid.kinds))

    @property
    def cleared_cells(self) -> dict[str, None]:
        return {f"f_{key}": None for key in self.grid.kinds}

    def export_url(self, fmt: str) -> str:
        return self.url(format=fmt, page=None)

    @property
    def next_url(self) -> str | None:
        if self.page >= self.pages or not self.rows or self.cursor_of is None:
            return None
        return self.url(page=self.page + 1, after=self.cursor_of(self.rows[-1]))

    @property
    def prev_url(self) -> str | None:
        if self.page <= 1:
            return None
        if self.page == 2 or not self.rows or self.cursor_of is None:
            return self.page_url(self.page - 1)
        return self.url(page=self.page - 1, before=self.cursor_of(self.rows[0]))

    def page_url(self, number: int) -> str:
        return self.url(page=number if number > 1 else None)

    def as_json(self, as_of: dt.datetime | dt.date | None) -> dict[str, Any]:
        keys = [c.key for c in self.grid.columns]
        return {
            "rows": [{k: grid_export.json_value(row[k]) for k in keys} for row in self.rows],
            "total": self.total,
            "page": self.page,
            "pages": self.pages,
            "page_size": self.page_size,
            "next": self.next_url,
            "as_of": as_of.isoformat() if as_of is not None else None,
        }


def wants_json() -> bool:
    """JSON when ``format=json``, or when no format is named and the client accepts JSON first."""
    named = request.args.get("format", "").strip().lower()
    if named in FORMATS:
        return named == "json"
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def grid_response(
    grid: Grid, page: GridPage, *, template: str, as_of: dt.datetime | dt.date | None = None, **context: Any
) -> Response:
    """The page as HTML (template includes ``_grid.html``), JSON, CSV or XLSX, as the URL asks."""
    if page.redirect_params is not None:
        return redirect(page.url(**page.redirect_params), code=303)  # type: ignore[return-value]
    if page.format == "csv":
        return grid_export.csv_response(grid, page, as_of)
    if page.format == "xlsx":
        return grid_export.xlsx_response(grid, page, as_of)
    if wants_json():
        return grid_export.json_response(page.as_json(as_of))
    html = render_template(template, grid=grid, page=page, as_of=as_of, **context)
    return Response(html, mimetype="text/html")


def grid_error_response(exc: GridError) -> Response:
    """400 naming the bad parameter: JSON for JSON clients, else a page with a way back."""
    if wants_json():
        response = grid_export.json_response({"error": exc.description, "parameter": exc.param})
    else:
        retry = _url_without({exc.param: None, "page": None})
        try:
            html = render_template("_grid_error.html", error=exc, retry_url=retry)
        except Exception:  # the layout itself failed: the message still has to reach the user
            html = f"<!doctype html><title>Bad request</title><p>{escape(exc.description)}</p>"
        response = Response(html, mimetype="text/html")
    response.status_code = 400
    return response


def _url_without(changes: dict[str, None]) -> str:
    params = [(k, v) for k, vs in request.args.lists() for v in vs if k not in changes]
    params = [(k, v) for k, v in params if k not in ("after", "before", *BUILDER_PARAMS)]
    return request.script_root + request.path + ("?" + urlencode(params) if params else "")


def register_grid_errors(app: Flask) -> None:
    """Answer every GridError raised by a view with grid_error_response."""
    app.register_error_handler(GridError, grid_error_response)
