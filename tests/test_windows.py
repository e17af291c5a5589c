"""Contract windows and Months Remaining (SPEC §3): the one SQL definition against a small
Python oracle written from the spec, on every engine, in its cache form and its BPO2 form."""

from __future__ import annotations

import calendar
import datetime as dt
import re
from typing import Any

import pytest
import sqlglot
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import Engine, MetaData, bindparam, create_engine, delete, func, insert, select, text

from bpo2_bridge.bridge import Bridge
from bpo2_bridge.cache.schema import DERIVED, cache_metadata, cache_table
from bpo2_bridge.cache.snapshots import META_TABLE
from bpo2_bridge.demo.generate import build_demo
from bpo2_bridge.queries import windows
from bpo2_bridge.queries.grid.filters import compare
from bpo2_bridge.settings import load_settings, package_config_dir
from bpo2_bridge.source.mapping import load_mapping
from bpo2_bridge.sync import derived as derived_rows
from bpo2_bridge.sync import full_sync

MAPPING = load_mapping(package_config_dir() / "mapping.toml")
EXCLUDED = ("Cancelled",)
SETTINGS = load_settings(config_file=None, overrides={"excluded_statuses": list(EXCLUDED)}, environ={})


# -- the oracle, straight from SPEC §3 -----------------------------------------------------


def o_add_months(day: dt.date, months: int) -> dt.date:
    month0 = day.month - 1 + months
    year = day.year + month0 // 12
    month = month0 % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def o_months_remaining(today: dt.date, expiry: dt.date | None) -> int | None:
    if expiry is None:
        return None
    m = (expiry.year - today.year) * 12 + expiry.month - today.month + 1
    while o_add_months(today, m) > expiry:  # the largest m with add_months(today, m) <= expiry
        m -= 1
    return m


def o_window(today: dt.date, expiry: dt.date | None, status: str, months: int) -> str | None:
    if expiry is None or status in EXCLUDED:
        return None
    if expiry < today:
        return "expired"
    if expiry <= o_add_months(today, months):
        return "expiring"
    return "current"


# -- data ----------------------------------------------------------------------------------

SPECIAL = [
    dt.date(2024, 2, 29),
    dt.date(2024, 2, 28),
    dt.date(2023, 2, 28),
    dt.date(2024, 1, 31),
    dt.date(2024, 1, 30),
    dt.date(2024, 3, 31),
    dt.date(2024, 4, 30),
    dt.date(2024, 8, 31),
    dt.date(2025, 12, 31),
    dt.date(2028, 2, 29),
]
todays = st.one_of(st.sampled_from(SPECIAL), st.dates(dt.date(2023, 1, 1), dt.date(2029, 12, 31)))


@st.composite
def expiry_for(draw: Any, today: dt.date) -> dt.date | None:
    kind = draw(st.sampled_from(["none", "near", "month", "month_end", "same"]))
    if kind == "none":
        return None
    if kind == "same":
        return today
    if kind == "near":
        return today + dt.timedelta(days=draw(st.integers(-800, 800)))
    shifted = o_add_months(today, draw(st.integers(-14, 14)))
    if kind == "month_end":
        return shifted.replace(day=calendar.monthrange(shifted.year, shifted.month)[1])
    return shifted + dt.timedelta(days=draw(st.integers(-1, 1)))


@st.composite
def cases(draw: Any) -> tuple[dt.date, int, list[tuple[dt.date | None, str]]]:
    today = draw(todays)
    months = draw(st.sampled_from([1, 6, 12]))
    contracts = draw(
        st.lists(
            st.tuples(expiry_for(today), st.sampled_from(["Active", "Cancelled", "Expired"])), max_size=12
        )
    )
    return today, months, contracts


# -- the two forms of the query on one engine ----------------------------------------------


class Target:
    """Tables for the query on one engine: the cache's (logical) or BPO2's (through the mapping)."""

    def __init__(self, engine: Engine, form: str) -> None:
        self.engine, self.form = engine, form
        if form == "cache":
            md = cache_metadata()
            self.tables = {
                n: md.tables[n] for n in ("customer", "contract_type", "contract", "contract_item")
            }
            # the screens read the contract rows the sync derives from these
            for name in (
                "site",
                "employee",
                "customer_salesman",
                "invoice_line",
                "service_call",
                "call_cost",
                *DERIVED,
            ):
                md.tables[name].create(engine)
            with engine.begin() as conn:
                conn.exec_driver_sql(f"CREATE TABLE {META_TABLE} (key VARCHAR(200) PRIMARY KEY, value TEXT)")
        else:
            md = MAPPING.physical_metadata()
            self.tables = {
                n: md.tables[MAPPING[n].qualified_table]
                for n in ("customer", "contract_type", "contract", "contract_item")
            }
        MetaData().create_all(engine)
        for table in self.tables.values():
            table.create(engine)
        with engine.begin() as conn:
            conn.execute(
                insert(self.tables["customer"]).values(
                    customer_id=1, account_no="A1", customer_name="C", status="Active"
                )
            )
            conn.execute(
                insert(self.tables["contract_type"]).values(contract_type_id=1, description="Service")
            )

    def load(self, contracts: list[tuple[dt.date | None, str]]) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(self.tables["contract_item"]))
            conn.execute(delete(self.tables["contract"]))
            if contracts:
                conn.execute(
                    insert(self.tables["contract"]),
                    [
                        {
                            "contract_id": i + 1,
                            "contract_no": f"C{i}",
                            "customer_id": 1,
                            "contract_type_id": 1,
                            "status": status,
                            "start_date": dt.date(2020, 1, 1),
                            "expiry_date": expiry,
                        }
                        for i, (expiry, status) in enumerate(contracts)
                    ],
                )
                conn.execute(
                    insert(self.tables["contract_item"]),
                    [{"contract_item_id": 1, "contract_id": 1, "asset_id": 1}],
                )
            if self.form == "cache":  # as a sync derives them
                for name in reversed(DERIVED):
                    conn.execute(delete(cache_table(name)))
                derived_rows.build(conn, SETTINGS, dt.date(2026, 1, 1))

    def run(self, tab: str, params: dict[str, Any]) -> dict[int, tuple[Any, Any, int]]:
        dialect = self.engine.dialect
        if self.form == "cache":
            stmt = windows.contracts_query(dialect, tab=tab).bindparams(**params)
            with self.engine.connect() as conn:
                rows = conn.execute(stmt).mappings().all()
        else:
            sql = windows.source_sql(dialect, MAPPING, excluded_statuses=EXCLUDED, tab=tab)
            source_params = {k: v for k, v in params.items() if k != "excluded"}
            with self.engine.connect() as conn:
                rows = conn.execute(text(sql), source_params).mappings().all()
        return {r["contract_id"]: (r["window"], r["months_remaining"], r["machines"]) for r in rows}


ENGINE_FORMS = [
    ("sqlite", "cache"),
    ("postgresql", "cache"),
    ("sqlite", "source"),
    ("postgresql", "source"),
    ("mariadb", "source"),
]


@pytest.mark.parametrize(("kind", "form"), ENGINE_FORMS)
def test_window_sql_matches_the_spec(fresh_database, make_settings, kind: str, form: str) -> None:
    engine = create_engine(fresh_database(kind))
    target = Target(engine, form)

    @hsettings(
        max_examples=60 if kind == "sqlite" else 30,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(cases())
    def check(case: tuple[dt.date, int, list[tuple[dt.date | None, str]]]) -> None:
        today, months, contracts = case
        settings = make_settings(expiring_window_months=months, excluded_statuses=list(EXCLUDED))
        params = windows.params(settings, today)
        target.load(contracts)
        everything = target.run("all", params)
        assert len(everything) == len(contracts)
        for i, (expiry, status) in enumerate(contracts):
            window, remaining, machines = everything[i + 1]
            assert remaining == o_months_remaining(today, expiry), (today, expiry)
            assert window == o_window(today, expiry, status, months), (today, expiry, status)
            assert machines == (1 if i == 0 else 0)
        for tab in ("expired", "expiring"):
            expected = {i + 1 for i, (e, s) in enumerate(contracts) if o_window(today, e, s, months) == tab}
            assert set(target.run(tab, params)) == expected, tab

    try:
        check()
    finally:
        engine.dispose()


MONTHS_OPERATORS = ("=", "!=", "<", "<=", ">", ">=")
month_values = st.one_of(
    st.integers(-30, 30),
    st.integers(-30, 30).map(lambda k: k + 0.5),
    st.sampled_from([-(2**62), -100_000, 100_000, 2**62, 1e300, -1e300]),
)


def o_compare(months: int | None, op: str, value: float) -> bool:
    if months is None:
        return op == "!="  # "differs" keeps empty cells, as every grid column does
    return {
        "=": months == value,
        "!=": months != value,
        "<": months < value,
        "<=": months <= value,
        ">": months > value,
        ">=": months >= value,
    }[op]


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_months_remaining_filters_as_expiry_ranges(fresh_database, make_settings, kind: str) -> None:
    """A Months Remaining filter, run as bounds on the expiry date, keeps exactly the rows the
    computed column would (any today, any operator, whole or not, or past the calendar's end)."""
    engine = create_engine(fresh_database(kind))
    target = Target(engine, "cache")

    @hsettings(
        max_examples=60 if kind == "sqlite" else 30,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(cases(), st.lists(month_values, max_size=3), st.randoms())
    def check(
        case: tuple[dt.date, int, list[tuple[dt.date | None, str]]], extra: list[float], rng: Any
    ) -> None:
        today, months, contracts = case
        target.load(contracts)
        base = (
            windows.contracts_query(engine.dialect)
            .bindparams(**windows.params(make_settings(expiring_window_months=months), today))
            .subquery()
        )
        # values at and beside the contracts' own months, where an off-by-one would show
        near = sorted(
            {
                m + step
                for expiry, _ in contracts
                if (m := o_months_remaining(today, expiry)) is not None
                for step in (-1, -0.5, 0, 0.5, 1)
            }
        )
        values = rng.sample(near, min(len(near), 6)) + extra
        with engine.connect() as conn:
            for op in MONTHS_OPERATORS:
                for value in values:
                    condition = windows.months_remaining_condition(base.c.expiry_date, today, op, value)
                    kept = set(conn.execute(select(base.c.contract_id).where(condition)).scalars())
                    expected = {
                        i + 1
                        for i, (expiry, _) in enumerate(contracts)
                        if o_compare(o_months_remaining(today, expiry), op, value)
                    }
                    assert kept == expected, (today, op, value)

    try:
        check()
    finally:
        engine.dispose()


WINDOW_OPERATORS = ("contains", "startswith", "=", "!=", "<", ">=")
window_values = st.one_of(
    # pieces of the words in any case, where a rewrite could be off
    st.tuples(st.sampled_from(windows.WINDOW_WORDS), st.integers(0, 8), st.integers(0, 8), st.randoms()).map(
        lambda t: "".join(
            ch.upper() if t[3].random() < 0.5 else ch for ch in t[0][min(t[1], t[2]) : max(t[1], t[2])]
        )
    ),
    st.sampled_from(["", " ", "%", "_", "expir%", "EXPİRED", "curr_nt", "CPC0012"]),
    st.text(max_size=6),
)


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_window_filters_as_expiry_ranges(fresh_database, make_settings, kind: str) -> None:
    """A text filter or search on Window, run on the stored expiry date and status, keeps exactly
    the rows the computed column would (any today, window length, status, operator, value)."""
    engine = create_engine(fresh_database(kind))
    target = Target(engine, "cache")
    like_ignores_case = kind == "sqlite"

    @hsettings(
        max_examples=60 if kind == "sqlite" else 30,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(cases(), st.lists(window_values, min_size=1, max_size=4))
    def check(case: tuple[dt.date, int, list[tuple[dt.date | None, str]]], values: list[str]) -> None:
        today, months, contracts = case
        end = o_add_months(today, months)
        day = dt.timedelta(days=1)
        contracts = contracts + [(d, "Active") for d in (today - day, today, end, end + day)]  # edges
        target.load(contracts)
        bound = windows.params(
            make_settings(expiring_window_months=months, excluded_statuses=list(EXCLUDED)), today
        )
        base = windows.contracts_query(engine.dialect).bindparams(**bound).subquery()
        with engine.connect() as conn:
            for op in WINDOW_OPERATORS:
                for value in values:
                    column = compare(base.c.window, "text", op, value, like_ignores_case=like_ignores_case)
                    rewritten = windows.window_condition(base.c.expiry_date, base.c.status, bound, op, value)
                    if op in ("<", ">=") or not value.isascii():
                        assert rewritten is None
                        continue
                    assert rewritten is not None
                    kept, expected = (
                        set(conn.execute(select(base.c.contract_id).where(c)).scalars())
                        for c in (rewritten, column)
                    )
                    assert kept == expected, (today, months, op, value)

    try:
        check()
    finally:
        engine.dispose()


def test_months_remaining_examples() -> None:
    today = dt.date(2026, 1, 31)
    assert windows.add_months(today, 1) == dt.date(2026, 2, 28)
    assert windows.add_months(dt.date(2024, 1, 31), 1) == dt.date(2024, 2, 29)
    assert windows.add_months(dt.date(2024, 2, 29), 12) == dt.date(2025, 2, 28)
    assert windows.add_months(dt.date(2024, 3, 31), -1) == dt.date(2024, 2, 29)
    assert o_months_remaining(today, today) == 0
    assert o_months_remaining(today, today - dt.timedelta(days=1)) == -1
    assert o_months_remaining(today, dt.date(2026, 2, 28)) == 1  # month end counts as the full month


@given(st.dates(dt.date(1990, 1, 1), dt.date(2090, 12, 31)), st.integers(-240, 240))
def test_add_months_matches_oracle(day: dt.date, months: int) -> None:
    assert windows.add_months(day, months) == o_add_months(day, months)


@pytest.mark.parametrize("tab", windows.TABS)
def test_renders_for_sql_server_and_parses_as_tsql(tab: str) -> None:
    sql = windows.mssql_sql(MAPPING, EXCLUDED, tab=tab)
    parsed = sqlglot.parse(sql, read="tsql")
    assert len(parsed) == 1
    assert MAPPING["contract"].physical("expiry_date") in sql  # through the mapping
    assert "[window]" in sql


def test_tab_filters_are_sargable_and_use_the_index(tmp_path) -> None:
    for tab in ("expired", "expiring"):
        sql = windows.render_sql("sqlite", tab=tab, by_customer=True)
        where = sql.split("WHERE 1 = 1", 1)[1]
        uses = re.findall(r"[^\s]*expiry_date[^\s]*", where)
        assert uses and all(u == "c.expiry_date" for u in uses), uses  # bare column, no function around it
    engine = create_engine(f"sqlite:///{tmp_path / 'c.sqlite'}")
    cache_metadata().create_all(engine)
    params = {
        "today": dt.date(2026, 1, 1),
        "window_end": dt.date(2026, 7, 1),
        "today_ym": 0,
        "today_day": 1,
        "excluded": ["x"],
    }
    explain = text("EXPLAIN QUERY PLAN " + windows.render_sql("sqlite", tab="expiring")).bindparams(
        bindparam("excluded", expanding=True)
    )
    with engine.connect() as conn:
        plan = " ".join(str(r[-1]) for r in conn.execute(explain, params))
    engine.dispose()
    assert "expiry_date>" in plan.replace(" ", "") and "USING INDEX" in plan


def test_months_remaining_filters_use_the_expiry_index(tmp_path, make_settings) -> None:
    """Filtering every contract by Months Remaining reads an index range, not every contract."""
    engine = create_engine(f"sqlite:///{tmp_path / 'c.sqlite'}")
    cache_metadata().create_all(engine)
    today = dt.date(2026, 1, 31)
    base = (
        windows.contracts_query(engine.dialect)
        .bindparams(**windows.params(make_settings(), today))
        .subquery()
    )
    plans = {}
    for name, condition in {
        "computed": base.c.months_remaining < 0,
        "ranges": windows.months_remaining_condition(base.c.expiry_date, today, "<", 0),
    }.items():
        sql = str(
            select(func.count())
            .select_from(base)
            .where(condition)
            .compile(engine, compile_kwargs={"literal_binds": True})
        )
        with engine.connect() as conn:
            plans[name] = " ".join(str(r[-1]) for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql))
    engine.dispose()
    assert "SCAN c" in plans["computed"]  # the computed column is worked out for every row
    assert "SCAN c" not in plans["ranges"] and "expiry_date<?" in plans["ranges"].replace(" ", "")


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_same_rows_on_the_source_as_on_the_cache(fresh_database, make_settings, tmp_path, kind: str) -> None:
    url = fresh_database(kind)
    settings = make_settings(source_url=url.render_as_string(hide_password=False))
    bridge = Bridge(settings)
    build_demo(
        url,
        size="tiny",
        seed=2,
        today=settings.today_date(),
        mapping=bridge.mapping,
        share_root=tmp_path / "s",
    )
    full_sync(bridge)
    params = windows.params(settings)
    for tab in windows.TABS:
        with bridge.cache.connect() as conn:
            cached = conn.execute(
                windows.bound_contracts_query(bridge.cache.dialect, settings, tab=tab)
            ).all()
        # the columns both forms have: not the profitability and search text the cache alone stores
        cached = [row[: len(windows.SHARED_COLUMNS)] for row in cached]
        sql = windows.source_sql(
            bridge.source.dialect, bridge.mapping, excluded_statuses=settings.excluded_statuses, tab=tab
        )
        with bridge.source.connect() as conn:
            direct = conn.execute(
                text(sql).columns(**windows.SHARED_COLUMNS),
                {k: v for k, v in params.items() if k != "excluded"},
            ).all()
        assert sorted(cached) == sorted(direct) and cached, tab
    bridge.dispose()
