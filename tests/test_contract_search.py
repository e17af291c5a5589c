"""Contract searches through indexes (contract_search, search_index): each rewritten text test
keeps exactly the rows the grid's own LIKE keeps, on SQLite and PostgreSQL; the trigram index
follows the contracts through inserts, updates and deletes, and serves the grid's expression."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import Engine, create_engine, delete, insert, select, update

from bpo2_bridge import contract_search, search_index, windows
from bpo2_bridge.cache_schema import cache_metadata
from bpo2_bridge.contract_search import search_equivalents
from bpo2_bridge.web.grid_filters import compare

TODAY = dt.date(2026, 11, 22)
COLUMNS = ("contract_no", "account_no", "customer_name", "contract_type", "status")
OPERATORS = ("contains", "startswith", "=", "!=", "<")
# few characters, so that terms often match; the quote, wildcards and a non-ASCII letter are
# where an index lookup could part from LIKE
CHARS = "aAbB-019 %_\"'éÉK"
words = st.text(CHARS, max_size=6)


@st.composite
def worlds(draw: Any) -> dict[str, list[tuple[Any, ...]]]:
    customers = draw(st.lists(st.tuples(words, words), min_size=1, max_size=4))
    types = draw(st.lists(words.filter(bool), max_size=3))
    contracts = draw(
        st.lists(
            st.tuples(
                words,
                st.integers(0, len(customers) - 1),
                st.one_of(st.none(), st.integers(0, max(0, len(types) - 1))) if types else st.none(),
                st.sampled_from(["Active", "Cancelled", "On hold", "ACTIVE"]),
            ),
            max_size=12,
        )
    )
    return {"customers": customers, "types": types, "contracts": contracts}


class Cache:
    """The cache's contract tables on one engine, with the search index built as a sync builds it."""

    NAMES = ("customer", "contract_type", "contract", "contract_item")

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        metadata = cache_metadata()
        self.t = {name: metadata.tables[name] for name in self.NAMES}
        for table in self.t.values():
            table.create(engine)
        with engine.begin() as conn:
            assert search_index.build(conn)

    def load(self, world: dict[str, list[tuple[Any, ...]]]) -> None:
        t = self.t
        with self.engine.begin() as conn:
            for name in ("contract", "contract_type", "customer"):
                conn.execute(delete(t[name]))
            for i, (account, name) in enumerate(world["customers"], 1):
                conn.execute(
                    insert(t["customer"]).values(
                        customer_id=i, account_no=account or "-", customer_name=name or "-", status="Active"
                    )
                )
            for i, description in enumerate(world["types"], 1):
                conn.execute(insert(t["contract_type"]).values(contract_type_id=i, description=description))
            for i, (number, customer, kind, status) in enumerate(world["contracts"], 1):
                conn.execute(
                    insert(t["contract"]).values(
                        contract_id=i,
                        contract_no=number or "-",
                        customer_id=customer + 1,
                        contract_type_id=999 if kind is None else kind + 1,  # 999: a type BPO2 lost
                        status=status,
                        expiry_date=TODAY,
                    )
                )


def _base(engine: Engine, make_settings: Any) -> Any:
    bound = windows.params(make_settings(), TODAY)
    return windows.contracts_query(engine.dialect).bindparams(**bound).subquery()


def _ids(conn: Any, base: Any, condition: Any) -> set[int]:
    return set(conn.execute(select(base.c.contract_id).where(condition)).scalars())


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_search_rewrites_keep_the_rows_like_keeps(fresh_database, make_settings, kind: str) -> None:
    engine = create_engine(fresh_database(kind))
    cache = Cache(engine)
    base = _base(engine, make_settings)
    ignores_case = kind == "sqlite"

    @hsettings(
        max_examples=60 if kind == "sqlite" else 25,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(worlds(), st.lists(words, min_size=1, max_size=3), st.data())
    def check(world: dict[str, list[tuple[Any, ...]]], terms: list[str], data: st.DataObject) -> None:
        cache.load(world)
        # terms taken from the data as well: the matches that must all be found
        numbers = [c[0] for c in world["contracts"] if len(c[0]) >= 3]
        numbers += [text for customer in world["customers"] for text in customer if len(text) >= 3]
        if numbers:
            number = data.draw(st.sampled_from(numbers))
            start = data.draw(st.integers(0, len(number) - 3))
            terms = [*terms, number[start : start + 3], number.swapcase()]
        with engine.connect() as conn:
            rewrites = search_equivalents(conn, base, lambda _key, compute: compute())
            for key in COLUMNS:
                for op in OPERATORS:
                    for term in terms:
                        rewritten = rewrites[key](op, term)
                        if rewritten is None:
                            continue
                        grid_test = compare(base.c[key], "text", op, term, like_ignores_case=ignores_case)
                        assert _ids(conn, base, rewritten) == _ids(conn, base, grid_test), (key, op, term)

    try:
        check()
    finally:
        engine.dispose()


def test_the_indexes_read_numbers_and_names_on_sqlite(fresh_database, make_settings) -> None:
    """Where the SQLite snapshot has the indexes, a search word of three or more characters goes
    through them; shorter words (no trigram) and other operators keep the plain LIKE."""
    engine = create_engine(fresh_database("sqlite"))
    Cache(engine).load(
        {"customers": [("A1", "Acme")], "types": [], "contracts": [("CPC-0042", 0, None, "Active")]}
    )
    base = _base(engine, make_settings)
    with engine.connect() as conn:
        rewrites = search_equivalents(conn, base, lambda _key, compute: compute())
        assert rewrites["contract_no"]("contains", "c-00") is not None
        assert rewrites["contract_no"]("contains", "42") is None
        assert rewrites["contract_no"]("=", "CPC-0042") is None
        for key, term, searched in (
            ("contract_no", "c-00", search_index.CONTRACT_NO),
            ("customer_name", "acm", search_index.CUSTOMER_NAME),
            ("account_no", "a1a", search_index.ACCOUNT_NO),
        ):
            query = select(base.c.contract_id).where(rewrites[key]("contains", term))
            sql = str(query.compile(conn, compile_kwargs={"literal_binds": True}))
            plan = " ".join(str(row[-1]) for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql))
            assert f"SCAN {searched.trigrams} VIRTUAL TABLE INDEX" in plan, plan


def test_a_word_too_common_for_the_index_is_looked_for_row_by_row(
    fresh_database, make_settings, monkeypatch
) -> None:
    """A word in more contract numbers than INDEX_MATCHES_PER_ROW times the list's rows ("CPC-",
    in all ten here) is tested on the list's own rows; a rarer one goes through the index. Lists
    longer than PROBED_ROWS always do, without counting the word's matches."""
    engine = create_engine(fresh_database("sqlite"))
    Cache(engine).load(
        {
            "customers": [("A1", "Acme")],
            "types": [],
            "contracts": [(f"CPC-000{i}", 0, None, "Active") for i in range(10)],
        }
    )
    base = _base(engine, make_settings)
    monkeypatch.setattr(contract_search, "INDEX_MATCHES_PER_ROW", 3)
    with engine.connect() as conn:
        assert search_index.more_than(conn, search_index.CONTRACT_NO, "CPC-", 9)
        assert not search_index.more_than(conn, search_index.CONTRACT_NO, "CPC-", 10)
        assert not search_index.more_than(conn, search_index.CONTRACT_NO, "0007", 1)

        def indexed(listed: int | None, term: str) -> bool:
            rows = None if listed is None else (lambda: listed)
            rewrites = search_equivalents(conn, base, lambda _key, compute: compute(), rows)
            return rewrites["contract_no"]("contains", term) is not None

        assert not indexed(2, "CPC-")  # 10 matches > 3 x 2 rows
        assert indexed(4, "CPC-")  # 10 matches <= 3 x 4 rows
        assert indexed(2, "0007")  # one match
        assert indexed(None, "CPC-")  # the list's length unknown: the index, as before
        monkeypatch.setattr(contract_search, "PROBED_ROWS", 1)
        assert indexed(2, "CPC-")


def test_the_index_follows_inserts_updates_and_deletes(fresh_database, make_settings) -> None:
    """Incremental syncs and Refreshes write the serving snapshot in place: the triggers keep the
    trigram indexes in step, so a changed number (or customer name) is found by its new text and
    not its old."""
    engine = create_engine(fresh_database("sqlite"))
    cache = Cache(engine)
    cache.load(
        {
            "customers": [("A1", "Acme")],
            "types": [],
            "contracts": [("CPC-1111", 0, None, "Active"), ("CPC-2222", 0, None, "Active")],
        }
    )
    contract, customer = cache.t["contract"], cache.t["customer"]
    with engine.begin() as conn:
        conn.execute(update(customer).where(customer.c.customer_id == 1).values(customer_name="Zenith"))
        conn.execute(update(contract).where(contract.c.contract_id == 1).values(contract_no="CPC-3333"))
        conn.execute(delete(contract).where(contract.c.contract_id == 2))
        conn.execute(
            insert(contract).values(
                contract_id=3,
                contract_no="CPC-4444",
                customer_id=1,
                contract_type_id=1,
                status="Active",
                expiry_date=TODAY,
            )
        )
    base = _base(engine, make_settings)
    with engine.connect() as conn:
        rewrites = search_equivalents(conn, base, lambda _key, compute: compute())
        found = {
            term: _ids(conn, base, rewrites["contract_no"]("contains", term))
            for term in ("1111", "2222", "3333", "4444", "cpc-")
        }
        named = {
            term: _ids(conn, base, rewrites["customer_name"]("contains", term)) for term in ("acme", "ZENI")
        }
    assert found == {"1111": set(), "2222": set(), "3333": {1}, "4444": {3}, "cpc-": {1, 3}}
    assert named == {"acme": set(), "ZENI": {1, 3}}


def test_postgresql_searches_contract_numbers_through_the_trigram_index(
    fresh_database, make_settings
) -> None:
    """The GIN index is on the very expression the grid's case-insensitive search compares."""
    engine = create_engine(fresh_database("postgresql"))
    Cache(engine).load(
        {"customers": [("A1", "Acme")], "types": [], "contracts": [("CPC-0042", 0, None, "Active")]}
    )
    base = _base(engine, make_settings)
    search = select(base.c.contract_id).where(compare(base.c.contract_no, "text", "contains", "c-004"))
    with engine.connect() as conn:
        conn.exec_driver_sql("SET enable_seqscan = off")  # one row: make the planner show it can
        sql = str(search.compile(conn, compile_kwargs={"literal_binds": True}))
        plan = "\n".join(row[0] for row in conn.exec_driver_sql("EXPLAIN " + sql))
        assert search_index.CONTRACT_NO.pg_index in plan, plan
        assert conn.execute(search).scalars().all() == [1]
