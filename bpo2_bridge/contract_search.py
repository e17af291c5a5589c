"""Contract searches served by indexes: the grid's text tests on the contract list rewritten
so a search for a contract number reads the contracts it finds, not all of them.

A search word is an OR over every text column of the grid. SQLite answers an OR through
indexes only when every part of it has one, and PostgreSQL's bitmap OR likewise: one part
without (``status LIKE '%x%'``) reads every contract. So each part is rewritten:

- contract number: the trigram index (``search_index``; on PostgreSQL the planner uses its GIN
  index for the ILIKE itself);
- account number and customer name: the customers that pass (found through their own trigram
  indexes), then their contracts through the customer index. On PostgreSQL they are one array
  worked out first (``= ANY``), since ``IN (subquery)`` inside an OR is no index condition there;
- status: the few distinct values that pass, looked up now; a word that passes none of them
  drops out of the OR, one that passes some becomes ``IN (...)``;
- contract type: likewise, as the ids of the types whose description passes (any test but !=).

Each rewrite keeps the grid's own test (``grid_filters.compare``) as the judge of what
matches, so a search answers the rows it answered before, only sooner.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import (
    ARRAY,
    Connection,
    Integer,
    String,
    and_,
    any_,
    cast,
    false,
    func,
    literal,
    select,
    union_all,
)
from sqlalchemy.sql import FromClause
from sqlalchemy.sql.elements import ColumnElement

from . import search_index
from .cache_schema import cache_table
from .web.grid_filters import TEXT_ONLY, compare

Rewrite = Callable[[str, Any], "ColumnElement[bool] | None"]


# a word the contract number index finds in more than this many contracts per row of the list
# is looked for in the list row by row. On the large demo, a salesman's list of 31,000: "CPC0"
# (in all million numbers) took 390 ms through the index against 97 ms row by row; "CPC00"
# (100,000, about 3 a row) 110 against 99 ms; rarer words are quicker through the index
INDEX_MATCHES_PER_ROW = 3
# longer lists always go through the index: counting a common word's matches would cost more
# than it saves (an administrator's million contracts are as slow to read either way)
PROBED_ROWS = 100_000


def search_equivalents(
    conn: Connection,
    base: FromClause,
    remember: Callable[[Any, Callable[[], Any]], Any],
    rows: Callable[[], int] | None = None,
) -> dict[str, Rewrite]:
    """Rewrites of text tests on the contract grid's columns (``Grid.fetch(equivalents=)``).

    ``remember(key, compute)`` keeps a value for as long as the data stays the same (a
    ``grid_counts.Memo.value``): the contracts' distinct statuses are read once per sync, not
    on every search. The types passing a test are asked of their own small table each time.
    ``rows()``, the length of the unfiltered list, lets a word too common for the contract
    number index (``INDEX_MATCHES_PER_ROW``) be looked for row by row."""
    ignores_case = conn.dialect.name == "sqlite"

    def test(col: ColumnElement[Any], op: str, value: Any) -> ColumnElement[bool]:
        return compare(col, "text", op, value, like_ignores_case=ignores_case)

    def narrowed(searched: search_index.Searched, key: ColumnElement[Any], op: str, value: Any) -> Any:
        """``key`` among the rows the trigram index finds for ``value``, or None without one."""
        if op != "contains" or not search_index.present(conn, searched):
            return None
        return search_index.contains(key, searched, value)

    def too_common(value: Any) -> bool:
        listed = rows() if rows is not None else PROBED_ROWS + 1
        if listed > PROBED_ROWS:
            return False
        limit = INDEX_MATCHES_PER_ROW * listed
        return bool(
            remember(
                ("contract numbers with", str(value), limit),
                lambda: search_index.more_than(conn, search_index.CONTRACT_NO, str(value), limit),
            )
        )

    def contract_no(op: str, value: Any) -> ColumnElement[bool] | None:
        candidates = narrowed(search_index.CONTRACT_NO, base.c.contract_id, op, value)
        if candidates is None or too_common(value):
            return None
        return and_(candidates, test(base.c.contract_no, op, value))

    def through_customer(searched: search_index.Searched) -> Rewrite:
        def rewrite(op: str, value: Any) -> ColumnElement[bool] | None:
            if op not in TEXT_ONLY:
                return None
            customer = cache_table("customer")
            passing = test(customer.c[searched.column], op, value)
            candidates = narrowed(searched, customer.c.customer_id, op, value)
            if candidates is not None:
                passing = and_(candidates, passing)
            if conn.dialect.name == "postgresql":
                # = ANY(one array, worked out first): unlike IN (subquery), an index condition,
                # so the OR of a search's parts becomes a BitmapOr of index scans
                found = select(func.array_agg(customer.c.customer_id)).where(passing).scalar_subquery()
                # cast: an expression holding one array, not a subquery of rows, for ANY
                return base.c.customer_id == any_(cast(found, ARRAY(Integer())))
            return base.c.customer_id.in_(select(customer.c.customer_id).where(passing))

        return rewrite

    def among(key: str, distinct: Callable[[], list[str]]) -> Rewrite:
        def rewrite(op: str, value: Any) -> ColumnElement[bool] | None:
            if op not in TEXT_ONLY:
                return None
            known = distinct()
            if not known:
                return false()
            # the values as rows of a query (SQLite has no VALUES with column names)
            listed = union_all(*(select(literal(v, String()).label("v")) for v in known)).subquery()
            passing = [r[0] for r in conn.execute(select(listed.c.v).where(test(listed.c.v, op, value)))]
            return base.c[key].in_(passing) if passing else false()

        return rewrite

    def statuses() -> list[str]:
        contract = cache_table("contract")
        query = select(contract.c.status).distinct().where(contract.c.status.is_not(None))
        found = remember(("contract statuses",), lambda: tuple(conn.execute(query).scalars()))
        return list(found)

    def contract_type(op: str, value: Any) -> ColumnElement[bool] | None:
        # the types whose description passes, looked up now: the description is a subquery per
        # contract, its id a stored column. A contract of no known type passes no test but !=,
        # which keeps empty values (grid_filters.compare): that one is left to the grid
        if op == "!=":
            return None
        kinds = cache_table("contract_type")
        passing = select(kinds.c.contract_type_id).where(test(kinds.c.description, op, value))
        ids = list(conn.execute(passing).scalars())
        return base.c.contract_type_id.in_(ids) if ids else false()

    customer_columns = (search_index.ACCOUNT_NO, search_index.CUSTOMER_NAME)
    rewrites: dict[str, Rewrite] = {s.column: through_customer(s) for s in customer_columns}
    rewrites |= {
        "contract_no": contract_no,
        "contract_type": contract_type,
        "status": among("status", statuses),
    }
    return {key: rewrite for key, rewrite in rewrites.items() if key in base.c}
