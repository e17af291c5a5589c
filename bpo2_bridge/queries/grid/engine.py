"""The one grid every screen uses: a ``Grid`` declares its columns, default sort and row key
once; ``Grid.fetch`` answers one URL with one page, sorted, filtered and searched on the server::

    page = CONTRACTS.fetch(conn, base, params, max_page_size=200)   # GridError names a bad parameter

``params`` is the URL's parameters as a plain mapping (name -> its values). ``base`` is any
selectable (a Table, a ``select()``, a ``text(...).columns(...).subquery()``); WHERE, ORDER BY
and LIMIT are built with SQLAlchemy Core on its columns, so user input only ever travels as
bound parameters. All state lives in the URL: ``page``, ``page_size``, ``sort`` (``col`` /
``-col``), ``q``, ``f_<col>`` (syntax in :mod:`.filters`), ``filter``, and the keyset cursors
``after`` / ``before`` the Next / Previous links carry so deep pages stay as fast as the first.

Counts are capped (``count_limit``, as Datasette's): past it the pager says "10,000+ rows" and
only ``page=last`` counts every row. The search box of a grid over derived rows reads one stored
search text per row through its trigram index (``cache.search.TextSearch``).

The URL is read and checked in :mod:`.state`; which way a long list's page is read on SQLite
(walked along its sort order, one branch per value, or sorted) is :mod:`.plans`'s choice; the
page's links, HTML and the response in the format the URL asks for are the web's
(``web/grid.py``, ``web/grid_page.py``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Select, and_, func, literal_column, select, true, union_all
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import FromClause
from sqlalchemy.sql.elements import (
    ColumnElement,
)

from ...cache import time_limit
from ...cache.search import TextSearch
from . import cursor as grid_cursor
from . import plans
from .columns import GridColumn
from .counts import RowCount, count_rows
from .filters import OPERATORS, held_values, value_counts
from .page import GridPage
from .state import PAGE_SIZES, Equivalents, GridState, Params

EXPORT_CAP = 100_000
COUNT_LIMIT = 10_000  # rows counted before the pager says "10,000+" (setting grid_count_limit)
COUNT_SECONDS = 0.015  # time a count may take before the pager says what it found so far, with "+"

PART = "grid_part"  # which of a page's parts a row came from (_parts_page)
TOTAL = "grid_total"  # the list's rows, beside each row of its page (_counted_page)


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
        sorted_within: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self.name = name
        # column -> sort columns an index holds in its order: a filter on that column keeps its
        # index when the list is sorted by one of them (see plans.planned)
        self.sorted_within = {k: frozenset(v) for k, v in (sorted_within or {}).items()}
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
        # what the search box's placeholder names, the same on every request
        self.search_labels = ", ".join(c.label for c in self.columns if c.is_searchable)

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
        params: Params,
        *,
        max_page_size: int | None = None,
        count_limit: int = COUNT_LIMIT,
        count_seconds: float = COUNT_SECONDS,
        where: Sequence[ColumnElement[bool]] = (),
        equivalents: Equivalents | None = None,
        search: TextSearch | None = None,
        default_sort: str | None = None,
        listed: RowCount | None = None,
        few: bool = False,
        per_user: bool = False,
    ) -> GridPage:
        """The rows the URL's ``params`` ask for; GridError naming any bad parameter.

        ``max_page_size``: the largest page size served (the setting grid_max_page_size; None:
        the largest size the page offers).
        ``where``: the conditions that make ``base`` this list (a tab, a customer, what the user
        may see), kept apart from it so the page can be planned as a whole (``plans.planned``).
        ``equivalents`` writes the conditions on a computed column as the same conditions on
        stored, indexed columns: ``{key: lambda op, value: condition}``. ``search`` answers the
        search box from the base's stored search text instead of testing each text column.
        ``default_sort``: the order without a ``sort`` parameter where it is not the grid's (a tab's).
        ``listed``: the rows of the list before the user's own filters (``where`` alone), when
        the caller has counted them already (a tab's count): not counted again.
        ``few``: the list is short whatever the filters (one customer's contracts): its page
        is read and counted in one statement, all of it sorted, as a short list is. So is a list
        whose rows must hold a word the search index finds in few rows, and one whose rows are
        each tested for a common word (``plans.tests_each_row``).
        ``per_user``: ``where`` holds what one user may see (a salesman's contracts), the lists
        short enough for their rows to be tested; any other list keeps the search index, uncounted
        for that choice (an administrator's tab holds hundreds of thousands of contracts).
        """
        source = _as_from(base)
        state = GridState.parse(self, params, max_page_size or max(PAGE_SIZES), default_sort)
        page = GridPage(self, state, page=state.page)
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
        filters = [*where, *state.conditions(self, columns, like_ignores_case, equivalents or {}, search)]
        # a common search word's rows as its index lists them: what a count or a sort of every
        # match reads, where a walk of the sort order does better testing each row it passes;
        # a list with fewer rows than the index holds matches has each row tested instead
        tested = (
            per_user
            and not few
            and plans.tests_each_row(conn, source, list(where), search, count_seconds, listed)
        )
        read_all = [*filters, *(search.index_reads if search is not None and not tested else ())]
        limit = None if state.last else count_limit
        page.unfiltered = len(read_all) == len(where)
        sorted_column = self.by_key.get(state.sort_key)
        sort_key = (sorted_column.sort_by if sorted_column else None) or state.sort_key
        order: list[tuple[ColumnElement[Any], bool]] = [(columns[sort_key], state.desc)] + [
            (columns[k], state.desc) for k in self.key if k != sort_key
        ]
        exporting = state.format in ("csv", "xlsx")
        # the page read with its count: a list short whatever the filters (``few``), one whose
        # rows must hold a rare word, one whose rows are each tested for a common word
        read: list[dict[str, Any]] | None = None
        if (few or tested or (search is not None and search.few)) and not (
            state.last or state.after or state.before or exporting
        ):
            offset = (state.page - 1) * state.page_size
            read, total = _counted_page(
                conn,
                source,
                read_all,
                order,
                None if few else [columns[k] for k in self.key],
                state.page_size,
                offset,
            )
            if not read and offset:
                read = None  # past the last page: counted below, then the last page read
        if read is not None:
            counted = RowCount(total, False)
        elif listed is not None and page.unfiltered and not (state.last and listed.more):
            counted = listed
        else:
            # a list the search box's words alone make, counted in their index where it can be
            in_index = search.counted(filters) if search is not None and limit is not None else None
            if in_index is not None:
                counted = count_rows(
                    conn,
                    in_index.source,
                    in_index.where,
                    limit,
                    count_seconds,
                    in_index.at_least,
                    stepped=False,
                )
            else:
                # a tested list is read whole anyway: counted in one step
                counted = count_rows(conn, source, read_all, limit, count_seconds, stepped=not tested)
        page.total, page.capped = counted.rows, counted.more
        page.pages = max(1, math.ceil(page.total / state.page_size))
        page.page = page.pages if state.last else state.page if page.capped else min(state.page, page.pages)
        # a tested list is read through its own filters' index, never walked
        planned = (
            filters if tested else plans.planned(conn, filters, order[0][0], counted, self.sorted_within)
        )
        filled = plans.fills(filters, order[0][0])
        if exporting:
            query = select(source).where(*read_all)
            rows = _read_parts(conn, query, order, _null_parts(order, filled=filled), self.export_cap + 1)
            page.truncated = len(rows) > self.export_cap
            page.rows = rows[: self.export_cap]
            return page
        if state.format == "html":
            # the drop-downs list the values of the list before the user's own filters: as long
            # as the page's when there are none, else counted for them (a filter that leaves 3
            # of a million contracts still offers the million's values)
            if listed is None:
                listed = (
                    counted
                    if page.unfiltered
                    else count_rows(conn, source, where, count_limit, count_seconds)
                )
            page.choices = self._choices(conn, source, list(where), count_seconds, counted=not listed.more)
        if read is not None:
            page.rows = read
        elif planned is filters:
            page.rows = self._page_rows(
                conn, select(source).where(*read_all), order, state, page, sort=tested, filled=filled
            )
        elif plans.sorts_cheaply(search, counted):
            page.rows = self._page_rows(
                conn, select(source).where(*read_all), order, state, page, sort=True, filled=filled
            )
        else:
            walking, sorting = select(source).where(*planned), select(source).where(*read_all)
            # how long the walk may look before the sort takes over: briefly where the search
            # index hands the sort its rows, longer past the count's cap, where the sort would
            # read more than 10,000 rows
            indexed = len(read_all) > len(filters)
            seconds = (
                plans.WALK_SECONDS_INDEXED
                if indexed
                else plans.WALK_SECONDS_CAPPED
                if page.capped
                else plans.WALK_SECONDS
            )
            # a page after a cursor reads the walk itself: no branch counted for it
            branches = (
                None
                if state.after or state.before
                else plans.branches(
                    conn, source, filters, planned, order[0][0], self.sorted_within, count_seconds
                )
            )
            page.rows = self._walked_rows(
                conn, walking, sorting, order, state, page, seconds, filled, branches
            )
        page.cursor_of = lambda row: grid_cursor.encode(state.sort_spec, [row[c.name] for c, _ in order])
        return page

    def _choices(
        self,
        conn: Connection,
        source: FromClause,
        where: list[ColumnElement[bool]],
        seconds: float,
        counted: bool = True,
    ) -> dict[str, list[tuple[Any, int | None]]]:
        """The header drop-downs' values and counts over the list (its tab, customer, what the
        user may see), before the user's own filters; all of them within ``seconds`` (on a
        million contracts each column's count and listing ran out of time in turn, 60 ms a page
        for no drop-down at all).

        Not ``counted``: the list is longer than the count's cap, so counting each value would
        read all of it (half a second for the contract types of 263,000 expired contracts).
        The drop-downs then list the values the column holds, read through its index in well
        under a millisecond, without counts."""
        out = {}
        deadline = time_limit.clock() + seconds
        for c in self.columns:
            left = deadline - time_limit.clock()
            if not c.choices or left <= 0:
                continue
            if counted:
                counts = value_counts(conn, source, where, source.c[c.key], left)
            else:
                counts = held_values(conn, source.c[c.key], left)
            if counts is not None:
                out[c.key] = counts
        return out

    def _walked_rows(
        self,
        conn: Connection,
        walking: Select[Any],
        planned: Select[Any],
        order: list[tuple[ColumnElement[Any], bool]],
        state: GridState,
        page: GridPage,
        seconds: float,
        filled: bool,
        branches: list[plans.Branch] | None = None,
    ) -> list[dict[str, Any]]:
        """The page read by walking its sort order (``plans.planned``; by ``branches`` where
        they are given), or, when the walk finds too few matches in too much CPU time (rows that
        pass the filter sit far down the sort order: expired contracts sorted by newest expiry),
        by the planner's own plan after ``seconds`` of this thread's CPU time (WALK_SECONDS;
        WALK_SECONDS_CAPPED where that plan would sort every row that passes: a second for the
        155,000 active rentals sorted by newest start, whose first 20 sit among the 42,000
        newest contracts, 75 ms into the walk)."""
        try:
            with time_limit.budget(conn, seconds, work=True):
                return self._page_rows(conn, walking, order, state, page, filled=filled, branches=branches)
        except DBAPIError as exc:
            if not time_limit.is_time_limit(exc):
                raise
        return self._page_rows(conn, planned, order, state, page, sort=True, filled=filled)

    def _page_rows(
        self,
        conn: Connection,
        query: Select[Any],
        order: list[tuple[ColumnElement[Any], bool]],
        state: GridState,
        page: GridPage,
        sort: bool = False,
        filled: bool = False,
        branches: list[plans.Branch] | None = None,
    ) -> list[dict[str, Any]]:
        """The page's rows; ``sort``: read every row that passes and sort them (the sort
        order's index not walked); ``filled``: no row without a sort value passes;
        ``branches``: the rows of ``query`` as each branch reads its part of them (a page from
        its start; a page after a cursor reads ``query`` itself)."""
        size, offset = state.page_size, (page.page - 1) * state.page_size
        cursor = state.after or state.before
        if cursor is not None:
            flip = state.before is not None
            seek = [(c, d != flip, self._kind(c)) for c, d in order]
            param = "before" if flip else "after"
            values = grid_cursor.decode(cursor, state.sort_spec, seek, param)
            query = query.order_by(*_order_by([(c, d) for c, d, _ in seek], sort))
            rows: list[dict[str, Any]] = []
            for part in grid_cursor.seek(seek, values, nulls_last=not flip):
                if len(rows) < size:
                    rows += _rows(conn, query.where(part).limit(size - len(rows)))
            return rows[::-1] if flip else rows
        if sort or (not page.capped and page.total <= plans.WALK_FROM):
            # a short list (one customer's contracts): its rows sorted in one plain statement,
            # empty values last; building the two parts' union cost more than reading them.
            # A sort reads every row that passes whatever it does: the union's two parts would
            # each read all of them (70 ms instead of 35 for the 100,000 contracts "CPC09" finds).
            # On SQLite the short list's few rows are found through its filters' index and
            # sorted: left to choose, the planner may walk the sort order's index instead, past
            # every row (0.3 s for an empty list of expiring contracts, newest expiry first)
            by = _order_by(order, sort or _sqlite(conn), nulls_last=True)
            ordered = query.order_by(*by)
            keys = [c for c, _ in order if c.name in self.key]
            if sort and len(keys) == 1:
                # the page's keys sorted first, read from an index that covers the list's
                # filters and sort where one does, then only the page's rows from the table: the
                # newest-started of 147,000 active contracts expiring soon in 25 ms, not 320 ms
                picked = ordered.with_only_columns(*keys).offset(offset).limit(size).subquery()
                page_rows = select(*query.selected_columns).where(keys[0].in_(select(picked)))
                return _rows(conn, page_rows.order_by(*by))
            return _rows(conn, ordered.offset(offset).limit(size))
        if not page.capped and offset > page.total // 2:
            # the far half is read backwards, so the last pages cost what the first ones do
            back = [(c, not d) for c, d in order]
            limit = max(0, min(size, page.total - offset))
            parts, start = _null_parts(order, filled)[::-1], max(0, page.total - offset - size)
            return _parts_page(conn, query, back, parts, start, limit, branches)[::-1]
        return _parts_page(conn, query, order, _null_parts(order, filled), offset, size, branches)

    def _kind(self, column: ColumnElement[Any]) -> str:
        grid_column = self.by_key.get(column.name)
        return grid_column.type if grid_column else grid_cursor.kind_of(column.type)


def _sqlite(conn: Connection) -> bool:
    return conn.dialect.name == "sqlite"


def _as_from(base: Any) -> FromClause:
    if isinstance(base, FromClause):
        return base
    if isinstance(base, Select) or hasattr(base, "subquery"):
        subquery: FromClause = base.subquery("grid_base")
        return subquery
    raise TypeError(f"a grid base must be a table, select or subquery, not {type(base).__name__}")


def _order_by(
    order: list[tuple[ColumnElement[Any], bool]], sort: bool = False, nulls_last: bool = False
) -> list[ColumnElement[Any]]:
    """ORDER BY terms; ``sort``: the first as +column, so no index is walked for the order;
    ``nulls_last``: empty values of the first after the others, whichever the direction."""
    terms: list[ColumnElement[Any]] = [
        plans.unindexed(c) if sort and i == 0 else c for i, (c, _) in enumerate(order)
    ]
    out: list[ColumnElement[Any]] = [t.desc() if d else t.asc() for t, (_, d) in zip(terms, order)]
    if nulls_last and getattr(order[0][0], "nullable", True):
        out[0] = out[0].nulls_last()
    return out


def _null_parts(
    order: list[tuple[ColumnElement[Any], bool]], filled: bool = False
) -> list[ColumnElement[bool]]:
    """The rows with a sort value, then those without: empty values last in either direction,
    whichever end of an index the engine keeps NULLs at. Each part is a range of the sort
    column's index. ``filled``: the list has no row without a sort value (``plans.fills``): one part."""
    column = order[0][0]
    if filled or not getattr(column, "nullable", True):
        return [true()]
    return [column.is_not(None), column.is_(None)]


def _read_parts(
    conn: Connection,
    query: Select[Any],
    order: list[tuple[ColumnElement[Any], bool]],
    parts: list[ColumnElement[bool]],
    limit: int,
) -> list[dict[str, Any]]:
    """The first ``limit`` rows of ``parts`` read one after the other, each in ``order`` (an export)."""
    ordered = query.order_by(*_order_by(order))
    rows: list[dict[str, Any]] = []
    for part in parts:
        if len(rows) < limit:
            rows += _rows(conn, ordered.where(part).limit(limit - len(rows)))
    return rows


def _parts_page(
    conn: Connection,
    query: Select[Any],
    order: list[tuple[ColumnElement[Any], bool]],
    parts: list[ColumnElement[bool]],
    offset: int,
    limit: int,
    branches: list[plans.Branch] | None = None,
) -> list[dict[str, Any]]:
    """``limit`` rows from ``offset`` of ``parts`` taken one after the other, each in ``order``,
    in one statement: each part is read along its index for at most ``offset + limit`` rows
    (what OFFSET reads anyway) and only those few rows are put in order. With ``branches``,
    each part is read by each branch, and the branches' rows of a part merged in ``order``."""
    if not branches:
        ordered = query.order_by(*_order_by(order))
        if len(parts) == 1:
            return _rows(conn, ordered.where(parts[0]).offset(offset).limit(limit))
        branches = [plans.Branch(ordered, walked=True)]
    else:
        # a short branch is read and sorted; a long one walks its index in the order
        branches = [
            plans.Branch(b.query.order_by(*_order_by(order, not b.walked)), b.walked) for b in branches
        ]
    members = [
        select(
            b.query.where(p).add_columns(literal_column(str(i)).label(PART)).limit(offset + limit).subquery()
        )
        for i, p in enumerate(parts)
        for b in branches
    ]
    both = union_all(*members).subquery("grid_parts")
    outer = select(both).order_by(both.c[PART], *_order_by([(both.c[c.name], d) for c, d in order]))
    rows = _rows(conn, outer.offset(offset).limit(limit))
    for row in rows:
        del row[PART]
    return rows


def _counted_page(
    conn: Connection,
    source: FromClause,
    where: list[ColumnElement[bool]],
    order: list[tuple[ColumnElement[Any], bool]],
    key: list[ColumnElement[Any]] | None,
    size: int,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    """``size`` rows from ``offset`` of a short list, sorted as ``Grid._page_rows`` sorts one, and
    how many rows it has: one statement where a count and a page were two (a customer's
    contracts). No row past the list's end, and then no count (0).

    The list is read once, each row tested once (a salesman's 31,435 contracts tested for a
    word: 30 ms; counted apart, 45 ms). Given its ``key``, only the key and the order columns
    are sorted and the page's rows read whole after: sorting whole rows, their search text
    included, cost 2.8 ms for the 1,197 contracts holding "C0047", sorting their keys 1.1 ms.
    A list of a few dozen rows (a customer's contracts) is sorted whole: the second read costs
    it more than it saves."""
    by = _order_by(order, _sqlite(conn), nulls_last=True)
    total = func.count().over().label(TOTAL)
    if key is None:
        page = select(source, total).where(*where).order_by(*by).offset(offset).limit(size)
    else:
        picked = [c.label(f"grid_order_{i}") for i, (c, _) in enumerate(order)]
        picked += [k.label(f"grid_key_{i}") for i, k in enumerate(key)]
        keys = (
            select(*picked, total)
            .select_from(source)
            .where(*where)
            .order_by(*by)
            .offset(offset)
            .limit(size)
            .subquery("grid_keys")
        )
        page = (
            select(source, keys.c[TOTAL])
            .join_from(source, keys, and_(*(k == keys.c[f"grid_key_{i}"] for i, k in enumerate(key))))
            .order_by(
                *_order_by(
                    [(keys.c[f"grid_order_{i}"], d) for i, (_, d) in enumerate(order)], nulls_last=True
                )
            )
        )
    rows = _rows(conn, page)
    count = rows[0][TOTAL] if rows else 0
    for row in rows:
        del row[TOTAL]
    return rows, int(count)


def _rows(conn: Connection, query: Select[Any]) -> list[dict[str, Any]]:
    return [dict(r) for r in conn.execute(query).mappings()]
