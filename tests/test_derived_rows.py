"""The derived rows the grids read (contract_row, customer_row) always equal a fresh derivation
from the cache's entity rows: after a full sync, after an incremental sync and after a Refresh,
whatever changed in BPO2 (a contract moved to another customer, a customer renamed, a machine
added or removed, a salesman renamed, a contract type renamed ...), on SQLite and PostgreSQL
caches. The stored profitability also equals the Contract Performance report's "Last 12
months" of every contract after each sync, whatever changed in its invoice lines and service
calls. And the contract counts that depend on today follow the date without a sync."""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal
from typing import Any

import pytest
import sqlglot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import MetaData, create_engine, delete, func, insert, select, text, update

from bpo2_bridge.bridge import Bridge
from bpo2_bridge.cache.schema import DERIVED, cache_table
from bpo2_bridge.queries import sqlfiles
from bpo2_bridge.report.figures import load_report
from bpo2_bridge.source.mapping import physical_table
from bpo2_bridge.source.model import BY_NAME
from bpo2_bridge.sync import derived as derived_rows
from bpo2_bridge.sync import full_sync, incremental_sync, refresh_customer
from bpo2_bridge.sync.touched import columns_read

HYPO = settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _stored_and_fresh(bridge: Bridge, name: str) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    table = cache_table(name)
    key = next(iter(table.primary_key.columns)).name
    columns = [c.name for c in table.columns]
    with bridge.cache.connect() as conn:
        stored = [tuple(r) for r in conn.execute(select(table).order_by(table.c[key]))]
        values = derived_rows.window_values(bridge.settings, bridge.today())
        fresh_rows = conn.execute(derived_rows.derivation(name, conn.dialect), values).mappings()
        fresh = sorted((tuple(row[c] for c in columns) for row in fresh_rows), key=lambda r: r[0])
    return stored, fresh


PROFIT = (
    "revenue_12m",
    "cost_12m",
    "gross_profit_12m",
    "margin_12m",
    "volume_12m",
    "cost_per_copy_12m",
    "volume_trend",
)


def assert_profitability_equals_the_report(bridge: Bridge) -> None:
    """Every contract's stored profitability is its report's "Last 12 months" (and trend)."""
    table = cache_table("contract_row")
    with bridge.cache.connect() as conn:
        rows = conn.execute(select(table.c.contract_no, *(table.c[c] for c in PROFIT))).all()
        for row in rows:
            report = load_report(conn, row[0], bridge.today())
            f = report.last_12
            expected = (
                f.revenue_total,
                f.cost_total,
                f.gross_profit,
                f.margin,
                f.volume_total,
                f.cost_per_copy,
                report.volume_trend,
            )
            assert tuple(row[1:]) == expected, row[0]


def assert_derived_rows_fresh(bridge: Bridge) -> None:
    for name in DERIVED:
        stored, fresh = _stored_and_fresh(bridge, name)
        assert stored == fresh, name
    assert_profitability_equals_the_report(bridge)


# -- changes a BPO2 user makes ----------------------------------------------------------------


class Source:
    """Writes to the bridge's demo source file through the mapping (tests only), bumping the
    change column where the mapping names one, as BPO2 itself would."""

    def __init__(self, bridge: Bridge) -> None:
        self.bridge = bridge
        self.engine = create_engine(f"sqlite:///{bridge.settings.demo_source_path}")

    def table(self, entity: str):  # type: ignore[no-untyped-def]
        return physical_table(self.bridge.mapping[entity], MetaData())

    def _stamp(self, entity: str, values: dict[str, Any]) -> dict[str, Any]:
        em = self.bridge.mapping[entity]
        table = self.table(entity)
        stamped = dict(values)
        stamped.update({c.key: self.bridge.settings.now() for c in table.c if c.name == em.change_column})
        return stamped

    def ids(self, entity: str, key: str) -> list[int]:
        table = self.table(entity)
        with self.engine.connect() as conn:
            return list(conn.execute(select(table.c[key]).order_by(table.c[key])).scalars())

    def update(self, entity: str, key: str, value: int, **values: Any) -> None:
        table = self.table(entity)
        with self.engine.begin() as conn:
            conn.execute(update(table).where(table.c[key] == value).values(**self._stamp(entity, values)))

    def delete(self, entity: str, key: str, value: int) -> None:
        table = self.table(entity)
        with self.engine.begin() as conn:
            conn.execute(delete(table).where(table.c[key] == value))

    def insert(self, entity: str, **values: Any) -> None:
        table = self.table(entity)
        with self.engine.begin() as conn:
            conn.execute(insert(table).values(**self._stamp(entity, values)))

    def customer_of(self, contract_id: int) -> int:
        table = self.table("contract")
        with self.engine.connect() as conn:
            return int(
                conn.execute(
                    select(table.c.customer_id).where(table.c.contract_id == contract_id)
                ).scalar_one()
            )

    def account_of(self, customer_id: int) -> str:
        table = self.table("customer")
        with self.engine.connect() as conn:
            return str(
                conn.execute(
                    select(table.c.account_no).where(table.c.customer_id == customer_id)
                ).scalar_one()
            )


CHANGES = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "move contract",
                "contract status",
                "contract expiry",
                "contract type",
                "delete contract",
                "add machine",
                "remove machine",
                "rename customer",
                "customer site",
                "main salesman",
                "rename salesman",
                "rename contract type",
                "rename site",
                "add invoice line",
                "invoice amount",
                "move invoice line",
                "delete invoice line",
                "add call cost",
                "call cost",
                "move service call",
                "service call date",
            ]
        ),
        st.integers(0, 10_000),
        st.integers(0, 10_000),
    ),
    min_size=1,
    max_size=6,
)


def apply_change(source: Source, change: tuple[str, int, int], serial: int) -> set[int]:
    """Apply one change; returns the customers it touched (for a Refresh)."""
    kind, a, b = change
    contracts, customers = source.ids("contract", "contract_id"), source.ids("customer", "customer_id")
    contract, customer = contracts[a % len(contracts)], customers[b % len(customers)]
    if kind == "move contract":
        old = source.customer_of(contract)
        source.update("contract", "contract_id", contract, customer_id=customer)
        return {old, customer}
    if kind == "contract status":
        status = ["Active", "Cancelled", "Expired", "Suspended"][b % 4]
        source.update("contract", "contract_id", contract, status=status)
    elif kind == "contract expiry":
        source.update(
            "contract", "contract_id", contract, expiry_date=dt.date(2026, 1, 1) + dt.timedelta(days=b % 900)
        )
    elif kind == "contract type":
        types = source.ids("contract_type", "contract_type_id")
        source.update("contract", "contract_id", contract, contract_type_id=types[b % len(types)])
    elif kind == "delete contract":
        old = source.customer_of(contract)
        items = source.table("contract_item")
        with source.engine.begin() as conn:
            conn.execute(delete(items).where(items.c.contract_id == contract))
        source.delete("contract", "contract_id", contract)
        return {old}
    elif kind == "add machine":
        assets = source.ids("asset", "asset_id")
        source.insert(
            "contract_item",
            contract_item_id=9_000_000 + serial,
            contract_id=contract,
            asset_id=assets[b % len(assets)],
            location_desc="Reception",
        )
    elif kind == "remove machine":
        items = source.table("contract_item")
        with source.engine.connect() as conn:
            found = (
                conn.execute(select(items.c.contract_item_id).where(items.c.contract_id == contract))
                .scalars()
                .first()
            )
        if found is not None:
            source.delete("contract_item", "contract_item_id", found)
    elif kind == "rename customer":
        source.update("customer", "customer_id", customer, customer_name=f"Renamed {serial} ({b})")
        return {customer}
    elif kind == "customer site":
        sites = source.ids("site", "site_id")
        source.update("customer", "customer_id", customer, site_id=sites[a % len(sites)])
        return {customer}
    elif kind == "main salesman":
        links = source.table("customer_salesman")
        with source.engine.begin() as conn:
            conn.execute(update(links).where(links.c.customer_id == customer).values(is_main=False))
            conn.execute(
                update(links)
                .where(
                    links.c.customer_id == customer,
                    links.c.employee_id
                    == select(func.max(links.c.employee_id))
                    .where(links.c.customer_id == customer)
                    .scalar_subquery(),
                )
                .values(is_main=True)
            )
        return {customer}
    elif kind == "rename salesman":
        employees = source.ids("employee", "employee_id")
        source.update(
            "employee", "employee_id", employees[b % len(employees)], full_name=f"Salesman {serial}"
        )
        return set()
    elif kind == "rename contract type":
        types = source.ids("contract_type", "contract_type_id")
        source.update(
            "contract_type", "contract_type_id", types[b % len(types)], description=f"Type {serial}"
        )
        return set()
    elif kind == "rename site":
        sites = source.ids("site", "site_id")
        source.update("site", "site_id", sites[b % len(sites)], site_name=f"Site {serial}")
        return set()
    elif kind in PROFIT_CHANGES:
        return PROFIT_CHANGES[kind](source, contract, a, b, serial)
    return {source.customer_of(contract)}


# -- changes to what the profitability sums: invoice lines, service calls, their costs ----------

TODAY = dt.date(2026, 11, 22)  # the demo's pinned today


def _day(b: int) -> dt.date:
    """From 460 days before today (outside the 12 months) to 9 days after (not yet earned)."""
    return TODAY + dt.timedelta(days=b % 470 - 460)


def _amount(b: int) -> Decimal:
    """Any amount to the cent, credits (negative) included."""
    return Decimal(b - 3000) / 100


def _pick(source: Source, entity: str, key: str, b: int) -> int:
    ids = source.ids(entity, key)
    return ids[b % len(ids)]


def _contract_of(source: Source, entity: str, key: str, value: int) -> int | None:
    table = source.table(entity)
    with source.engine.connect() as conn:
        return conn.execute(select(table.c.contract_id).where(table.c[key] == value)).scalar()


def _owners(source: Source, *contracts: int | None) -> set[int]:
    """The customers of those contracts still in BPO2 (an invoice line or a call may name a
    contract an earlier change deleted: it has no customer to refresh)."""
    table = source.table("contract")
    found = [c for c in contracts if c is not None]
    with source.engine.connect() as conn:
        return set(conn.execute(select(table.c.customer_id).where(table.c.contract_id.in_(found))).scalars())


def _add_invoice_line(source: Source, contract: int, a: int, b: int, serial: int) -> set[int]:
    line_type = ("Meter", "Fee", "MinBilling", "Meter")[a % 4]
    source.insert(
        "invoice_line",
        invoice_line_id=9_100_000 + serial,
        contract_id=contract,
        invoice_date=_day(b),
        line_type=line_type,
        meter_type=("Mono", "Colour")[b % 2] if line_type == "Meter" else None,
        volume=b % 7000 if line_type == "Meter" else 0,
        amount=_amount(a),
    )
    return _owners(source, contract)


def _invoice_amount(source: Source, contract: int, a: int, b: int, serial: int) -> set[int]:
    line = _pick(source, "invoice_line", "invoice_line_id", a)
    source.update("invoice_line", "invoice_line_id", line, amount=_amount(b), volume=b % 5000)
    return _owners(source, _contract_of(source, "invoice_line", "invoice_line_id", line))


def _move_invoice_line(source: Source, contract: int, a: int, b: int, serial: int) -> set[int]:
    line = _pick(source, "invoice_line", "invoice_line_id", b)
    old = _contract_of(source, "invoice_line", "invoice_line_id", line)
    source.update("invoice_line", "invoice_line_id", line, contract_id=contract, invoice_date=_day(a))
    return _owners(source, old, contract)


def _delete_invoice_line(source: Source, contract: int, a: int, b: int, serial: int) -> set[int]:
    line = _pick(source, "invoice_line", "invoice_line_id", b)
    old = _contract_of(source, "invoice_line", "invoice_line_id", line)
    source.delete("invoice_line", "invoice_line_id", line)
    return _owners(source, old)


def _add_call_cost(source: Source, contract: int, a: int, b: int, serial: int) -> set[int]:
    call = _pick(source, "service_call", "call_id", a)
    source.insert(
        "call_cost",
        call_cost_id=9_200_000 + serial,
        call_id=call,
        cost_type=("Part", "Toner", "Labour", "Travel", "Other")[b % 5],
        quantity=Decimal(1),
        cost_amount=_amount(b) + 30,
    )
    return _owners(source, _contract_of(source, "service_call", "call_id", call))


def _call_cost(source: Source, contract: int, a: int, b: int, serial: int) -> set[int]:
    cost = _pick(source, "call_cost", "call_cost_id", a)
    source.update("call_cost", "call_cost_id", cost, cost_amount=_amount(b))
    costs, calls = source.table("call_cost"), source.table("service_call")
    with source.engine.connect() as conn:
        owner = conn.execute(
            select(calls.c.contract_id)
            .join(costs, costs.c.call_id == calls.c.call_id)
            .where(costs.c.call_cost_id == cost)
        ).scalar()
    return _owners(source, owner)


def _move_service_call(source: Source, contract: int, a: int, b: int, serial: int) -> set[int]:
    call = _pick(source, "service_call", "call_id", b)
    old = _contract_of(source, "service_call", "call_id", call)
    source.update("service_call", "call_id", call, contract_id=contract)
    return _owners(source, old, contract)


def _service_call_date(source: Source, contract: int, a: int, b: int, serial: int) -> set[int]:
    call = _pick(source, "service_call", "call_id", a)
    logged = dt.datetime.combine(_day(b), dt.time(9, 30))
    source.update("service_call", "call_id", call, logged_date=logged)
    return _owners(source, _contract_of(source, "service_call", "call_id", call))


PROFIT_CHANGES = {
    "add invoice line": _add_invoice_line,
    "invoice amount": _invoice_amount,
    "move invoice line": _move_invoice_line,
    "delete invoice line": _delete_invoice_line,
    "add call cost": _add_call_cost,
    "call cost": _call_cost,
    "move service call": _move_service_call,
    "service call date": _service_call_date,
}


def _run(copied_demo, make_cache_url, changes, how: str) -> None:  # type: ignore[no-untyped-def]
    overrides = {"cache_url": make_cache_url()} if make_cache_url is not None else {}
    bridge = copied_demo(**overrides)
    if overrides:
        full_sync(bridge)
    assert_derived_rows_fresh(bridge)
    source = Source(bridge)
    touched: set[int] = set()
    for serial, change in enumerate(changes):
        touched |= apply_change(source, change, serial)
    if how == "incremental":
        incremental_sync(bridge)
    elif how == "refresh":
        for customer in sorted(touched)[:3]:
            refresh_customer(bridge, source.account_of(customer))
    else:
        full_sync(bridge)
    assert_derived_rows_fresh(bridge)
    source.engine.dispose()


@pytest.mark.parametrize("how", ["incremental", "refresh", "full"])
@HYPO
@given(changes=CHANGES)
def test_derived_rows_equal_a_fresh_derivation_on_sqlite(copied_demo, changes, how: str) -> None:  # type: ignore[no-untyped-def]
    _run(copied_demo, None, changes, how)


@pytest.fixture
def postgresql_cache(fresh_database):  # type: ignore[no-untyped-def]
    """A new PostgreSQL database URL per call (a cache of its own)."""
    return lambda: fresh_database("postgresql").render_as_string(hide_password=False)


@pytest.mark.parametrize("how", ["incremental", "refresh"])
@settings(
    max_examples=4,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(changes=CHANGES)
def test_derived_rows_equal_a_fresh_derivation_on_postgresql(
    copied_demo, postgresql_cache, changes, how: str
) -> None:  # type: ignore[no-untyped-def]
    _run(copied_demo, postgresql_cache, changes, how)


# -- today moves on -----------------------------------------------------------------------------


def _customers(client) -> dict[str, tuple[int, int]]:  # type: ignore[no-untyped-def]
    rows = client.get("/customers?format=json&page_size=200").get_json()["rows"]
    return {r["account_no"]: (r["active_contracts"], r["expiring_contracts"]) for r in rows}


def _live_counts(bridge: Bridge) -> dict[str, tuple[int, int]]:
    values = derived_rows.window_values(bridge.settings, bridge.today())
    with bridge.cache.connect() as conn:
        rows = conn.execute(derived_rows.derivation("customer_row", conn.dialect), values).mappings()
        return {r["account_no"]: (r["active_contracts"], r["expiring_contracts"]) for r in rows}


def test_counts_and_windows_follow_the_date_without_a_sync(make_app, copied_demo, login) -> None:  # type: ignore[no-untyped-def]

    synced = copied_demo()
    synced_day = synced.today()
    with synced.cache.connect() as conn:
        assert derived_rows.counts_day(conn) == synced_day
        expiring = conn.execute(
            text("SELECT MIN(expiry_date) FROM contract_row WHERE expiry_date >= :d AND status = 'Active'"),
            {"d": synced_day},
        ).scalar_one()
    expiring = dt.date.fromisoformat(str(expiring)[:10])
    # the next morning, past that contract's last day: no sync has run since
    later = Bridge(synced.settings.replace(today=(expiring + dt.timedelta(days=1)).isoformat()))
    client = make_app(later).test_client()
    login(client, "admin")
    assert _customers(client) == {k: v for k, v in _live_counts(later).items() if k in _customers(client)}
    assert _live_counts(later) != _live_counts(synced), "the date moved some contract out of its window"
    rows = client.get(
        "/contracts?tab=expired&format=json&page_size=200&f_expiry_date=" + expiring.isoformat()
    ).get_json()["rows"]
    assert rows and all(r["window"] == "expired" and r["months_remaining"] == -1 for r in rows)
    # the job after midnight counts them again for the new day, and stores them
    derived_rows.recount_now(later)
    with later.cache.connect() as conn:
        assert derived_rows.counts_day(conn) == later.today()
    assert _customers(client) == {k: v for k, v in _live_counts(later).items() if k in _customers(client)}
    later.dispose()


# -- what an incremental sync derives again ------------------------------------------------------


def test_every_column_a_derivation_reads_is_known_to_touch_derived_rows() -> None:
    """A change to a column no derived row reads derives nothing again, so every entity column
    the derivations read (sql/derive_*.sql with sql/_profitability.sql) must be listed: one
    missing would leave a grid row stale after an incremental sync."""
    reads = columns_read()
    missing = set()
    for name in ("derive_customer_rows", "derive_contract_rows"):
        tree = sqlglot.parse_one(sqlfiles.render(name, "sqlite").replace(":", "@"), read="sqlite")
        tables = {t.alias_or_name: t.name for t in tree.find_all(sqlglot.exp.Table)}
        for col in tree.find_all(sqlglot.exp.Column):
            entity = BY_NAME.get(tables.get(col.table, ""))
            if (
                entity is not None
                and col.name not in entity.pk
                and col.name not in reads.get(entity.name, ())
            ):
                missing.add(f"{entity.name}.{col.name}")
    assert not missing


def _searched(client, words: str) -> int:  # type: ignore[no-untyped-def]
    return len(client.get(f"/contracts?format=json&page_size=200&q={words}").get_json()["rows"])


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_a_change_reaching_most_contract_rows_derives_them_wholesale(  # type: ignore[no-untyped-def]
    make_app, copied_demo, postgresql_cache, login, caplog, engine: str
) -> None:
    """Renaming every contract type reaches every contract row: the sync derives both tables
    anew in its transaction (cheaper than row by row past a share), and the result is the same
    as row by row: equal to a fresh derivation, searchable, and kept current by later syncs."""
    bridge = copied_demo(**({"cache_url": postgresql_cache()} if engine == "postgresql" else {}))
    if engine == "postgresql":
        full_sync(bridge)
    source = Source(bridge)
    for type_id in source.ids("contract_type", "contract_type_id"):
        source.update("contract_type", "contract_type_id", type_id, description=f"Kind{type_id}x")
    for serial, change in enumerate([("move contract", 3, 5), ("invoice amount", 7, 11)]):
        apply_change(source, change, serial)
    with caplog.at_level(logging.INFO, logger="bpo2_bridge.sync.derived"):
        incremental_sync(bridge)
    assert any("wholesale" in r.getMessage() for r in caplog.records)
    assert_derived_rows_fresh(bridge)
    client = make_app(bridge).test_client()
    login(client, "admin")
    with bridge.cache.connect() as conn:
        kind = conn.execute(text("SELECT MIN(contract_type) FROM contract_row")).scalar_one()
        expected = conn.execute(
            text("SELECT COUNT(*) FROM contract_row WHERE contract_type = :k"), {"k": kind}
        ).scalar_one()
    assert _searched(client, kind) == min(expected, 200)
    # a small change afterwards: row by row again, through the rebuilt indexes
    caplog.clear()
    contract = source.ids("contract", "contract_id")[0]
    source.update("contract", "contract_id", contract, contract_no="ZZQ0000001")
    with caplog.at_level(logging.INFO, logger="bpo2_bridge.sync.derived"):
        incremental_sync(bridge)
    assert not any("wholesale" in r.getMessage() for r in caplog.records)
    assert_derived_rows_fresh(bridge)
    assert _searched(client, "ZZQ0000001") == 1
    source.engine.dispose()


def test_a_snapshot_built_without_an_index_of_the_schema_is_rebuilt_by_the_next_sync(  # type: ignore[no-untyped-def]
    copied_demo, monkeypatch
) -> None:
    """A snapshot an older version built, before an index a grid's plan counts on was added,
    is not synced on incrementally: the next sync builds a new snapshot, which has it."""
    from bpo2_bridge.cache import snapshots

    bridge = copied_demo()
    table = cache_table("contract_row")
    (index,) = [
        i for i in table.indexes if [c.name for c in i.columns] == ["status", "start_date", "contract_id"]
    ]
    table.indexes.discard(index)
    try:
        older = snapshots.schema_fingerprint()
    finally:
        table.indexes.add(index)
    assert older != snapshots.schema_fingerprint()
    before = bridge.cache.current()
    with bridge.cache.write() as conn:
        conn.exec_driver_sql(f"DROP INDEX {index.name}")
        bridge.cache.write_meta(conn, {"fingerprint": older})
    result = incremental_sync(bridge)
    assert result.kind == "full" and bridge.cache.current() != before
    with bridge.cache.connect() as conn:
        names = {r[0] for r in conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert index.name in names
