"""How a grid page is found among many rows on SQLite: walked along its sort order's index,
one branch per value of a few-valued filter, or read through the planner's plan and sorted.

SQLite's planner does not weigh a page's LIMIT, so ``Grid.fetch`` (``engine``) asks here which
way to read a long list; the reads themselves are the engine's. PostgreSQL's planner weighs the
limit itself and keeps its own plan.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Boolean, Connection, Select, select
from sqlalchemy.sql import FromClause, operators, visitors
from sqlalchemy.sql.elements import (
    BindParameter,
    BooleanClauseList,
    ColumnClause,
    ColumnElement,
    UnaryExpression,
)

from ...cache.search import TextSearch
from .counts import RowCount, count_rows

WALK_FROM = 5_000  # rows past which a page walks its sort order's index (see planned)
WALK_SECONDS = 0.03  # a walk that finds no page in this time gives way to the planner's plan
WALK_SECONDS_CAPPED = 0.12  # the same past grid_count_limit rows, whose sort costs far more
# the same where the search index hands the plan its rows: a sort of them costs little more than
# the walk (100,000 "CPC09" sorted by contract no in 50 ms, found by no walk before CPC0900000)
WALK_SECONDS_INDEXED = 0.008
# the rows of a list made by one common search word, counted exactly, up to which they are
# sorted as the index lists them, without a walk first (``sorts_cheaply``)
SORT_INDEXED_UP_TO = 10_000

# the rows of a list before its search (a salesman's contracts) up to which a common search
# word may be tested on each of them rather than read through the index (``tests_each_row``)
TESTED_UP_TO = 50_000

# a value's rows in a list (``branches``) up to which they are read and sorted rather than walked:
# one count of them, not two (``counts.FIRST_STEP``), and a sort of a millisecond
FEW_ROWS = 1_000


def planned(
    conn: Connection,
    where: list[ColumnElement[bool]],
    sort: ColumnElement[Any],
    counted: RowCount,
    sorted_within: Mapping[str, frozenset[str]],
) -> list[ColumnElement[bool]]:
    """The page's conditions as SQLite should read them: a long list is walked along the index
    of its sort column, testing each row, and stops after one page.

    SQLite's planner does not weigh LIMIT: given an index for a filter (a status, a tab's
    expiry range) it reads every row that filter passes and sorts them all, 0.2-0.3 s for the
    160,000 expiring contracts, where walking the sort order finds a page of them within a few
    hundred rows. So past WALK_FROM counted rows every condition not on the sort column is
    wrapped in a unary + (SQLite's way to keep a term from choosing the index); one on the sort
    column still tells the walk where to start, and one on a column whose index continues in the
    sort order (``Grid(sorted_within=)``) walks that index. A short list keeps the planner's own plan: its
    few rows read through the filter's index and sorted. PostgreSQL's planner weighs the limit
    itself."""
    if conn.dialect.name != "sqlite" or (counted.rows <= WALK_FROM and not counted.more):
        return where

    def walks(term: ColumnElement[bool]) -> bool:
        columns = _columns(term)
        if columns <= {sort.name}:
            return True
        (column,) = columns if len(columns) == 1 else (None,)
        return column is not None and sort.name in sorted_within.get(column, ())

    terms = [term for condition in where for term in _conjuncts(condition)]
    return [t if walks(t) else unindexed(t) for t in terms]


@dataclass(frozen=True)
class Branch:
    """One value's rows of a list filtered to a few values of a column (``branches``):
    ``query`` reads them, ``walked`` along the index of (column, sort) or, where they are few,
    through the planner's own plan and sorted."""

    query: Select[Any]
    walked: bool


def branches(
    conn: Connection,
    source: FromClause,
    filters: list[ColumnElement[bool]],
    planned: list[ColumnElement[bool]],
    sort: ColumnElement[Any],
    sorted_within: Mapping[str, frozenset[str]],
    seconds: float,
) -> list[Branch] | None:
    """A walked list filtered to a few values of a column whose index continues in the sort
    order (every status but Expired, sorted by expiry) read as one branch per value, or None.

    One walk of the sort order passes every row of the values left out first (the 263,000
    expired contracts come first by expiry: 1.7 s before the sort took over); each value's part
    of the (column, sort) index holds only its own rows. A value with few rows in the list (no
    Active contract is in the Expired tab) is read through the planner's own plan instead,
    which finds them through another index, where its walk would pass every row of the value."""
    for term in planned:
        values = _value_list(term)
        if values is None or sort.name not in sorted_within.get(term.left.name, ()):
            continue
        rest = [t for t in planned if t is not term]
        unplanned = [t for condition in filters for t in _conjuncts(condition) if t is not term]
        branches = []
        for value in values:
            one = term.left == value
            few = count_rows(conn, source, [*unplanned, one], FEW_ROWS, seconds)
            if few.more:
                branches.append(Branch(select(source).where(*rest, one), walked=True))
            elif few.rows:
                branches.append(Branch(select(source).where(*unplanned, one), walked=False))
        return branches or None
    return None


def _value_list(term: ColumnElement[bool]) -> list[Any] | None:
    """The values of ``column IN (a, b, ...)`` over a column of the list, when more than one."""
    right = getattr(term, "right", None)
    if (
        getattr(term, "operator", None) is operators.in_op
        and isinstance(getattr(term, "left", None), ColumnClause)
        and isinstance(right, BindParameter)
        and right.expanding
        and isinstance(right.value, list | tuple)
        and len(right.value) > 1
    ):
        return list(right.value)
    return None


# comparisons no row without a value passes (NULL compared is never true)
_NULL_REJECTING = frozenset(
    {
        operators.lt,
        operators.le,
        operators.gt,
        operators.ge,
        operators.eq,
        operators.in_op,
        operators.between_op,
    }
)


def fills(where: list[ColumnElement[bool]], column: ColumnElement[Any]) -> bool:
    """Whether ``where`` holds a comparison of ``column`` itself, so every row it passes has a
    value there: the expired tab's ``expiry_date < today``. Its empty-values part would read
    every empty value of the index for nothing (the 105,000 contracts without an expiry date,
    8 ms a page)."""
    for term in (t for condition in where for t in _conjuncts(condition)):
        left = getattr(term, "left", None)
        if (
            getattr(term, "operator", None) in _NULL_REJECTING
            and isinstance(left, ColumnClause)
            and left.name == column.name
            and _columns(term) == {column.name}
        ):
            return True
    return False


def _conjuncts(condition: ColumnElement[bool]) -> list[ColumnElement[bool]]:
    """The terms an AND is made of, however nested (a tab's range is one of them)."""
    if isinstance(condition, BooleanClauseList) and condition.operator is operators.and_:
        return [term for part in condition.clauses for term in _conjuncts(part)]
    return [condition]


def _columns(condition: ColumnElement[bool]) -> set[str]:
    return {e.name for e in visitors.iterate(condition) if isinstance(e, ColumnClause)}


def unindexed(condition: ColumnElement[bool]) -> ColumnElement[bool]:
    return UnaryExpression(condition.self_group(), operator=operators.custom_op("+"), type_=Boolean())


def sorts_cheaply(search: TextSearch | None, counted: RowCount) -> bool:
    """Whether the page is better read by sorting the matches of the one common search word the
    list is read through than by walking its sort order for them.

    Sorting m matches costs about m x 0.5 us, and m is the count when it is exact. A walk
    testing each row passes about page size x rows / m of them, 2.5 us each, where the matches
    are spread evenly along the sort order (20 x 1,000,000 / 10,000 rows: 5 ms, as much as the
    sort), and far more where they bunch up in it: a contract-number word sorted by contract no
    ("PC058": none before CPC0058000) spent the walk's whole budget before the sort. Several
    words are left to the walk: the index reads each word's matches, however few the rows
    holding them all ("ulti lega": 8,000 together, tens of thousands each)."""
    return (
        search is not None
        and search.common_words == 1
        and not counted.more
        and counted.rows <= SORT_INDEXED_UP_TO
    )


def tests_each_row(
    conn: Connection,
    source: FromClause,
    where: list[ColumnElement[bool]],
    search: TextSearch | None,
    seconds: float,
    listed: RowCount | None = None,
) -> bool:
    """Whether the search's common words are better tested on each row of the list (``where``:
    a salesman's contracts, any tab; ``Grid.fetch`` asks only for lists one user's visibility
    narrows) than read through the search index: the index holds at least as many matches as
    the list has rows.

    Each match the index lists is looked up and tested against the list (0.4 us), each row of
    the list read through its own index and its search text tested (0.55 us): "oluti" is in
    131,000 contracts, 478 of them among sales1's 4,346 expiring ones, counted in 53 ms through
    the index and in 8 ms by testing those 4,346 rows. A list past TESTED_UP_TO rows, or an
    index that holds fewer matches, keeps the index. ``listed``: the list's rows, counted already."""
    common = search.common_matches if search is not None else None
    if common is None or not where:
        return False
    if listed is None or listed.more:
        listed = count_rows(conn, source, where, TESTED_UP_TO, seconds, stepped=False)
        if listed.more:
            return False
    if listed.rows <= common.at_least:
        return True
    found = count_rows(
        conn, common.source, common.where, listed.rows, seconds, common.at_least, stepped=False
    )
    return found.more or found.rows >= listed.rows
