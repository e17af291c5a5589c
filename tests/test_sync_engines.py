"""Full sync, incremental sync and per-customer refresh reproduce BPO2 exactly, on
SQLite -> SQLite, PostgreSQL source -> SQLite cache and MariaDB (pyodbc) source -> PostgreSQL cache.

Changes are made through a separate writer connection, never the bridge's. The cache is
compared with the source row for row, both read through plain typed SELECTs.
"""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import Engine, MetaData, Table, create_engine, delete, func, insert, select, update
from sqlalchemy.dialects import mssql

from bpo2_bridge.bridge import Bridge
from bpo2_bridge.cache.schema import cache_table
from bpo2_bridge.demo.generate import build_demo
from bpo2_bridge.source.mapping import Mapping
from bpo2_bridge.source.model import ENTITIES
from bpo2_bridge.source.reflection import offline_schema
from bpo2_bridge.sync import full_sync, incremental_sync, refresh_customer
from bpo2_bridge.sync.plan import build_plans, changed_since

COMBOS = [("sqlite", "sqlite"), ("postgresql", "sqlite"), ("mariadb", "postgresql")]


def _norm(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return value.normalize()
    if isinstance(value, float):
        return decimal.Decimal(repr(value)).normalize()
    return value


def _tables(mapping: Mapping) -> tuple[MetaData, dict[str, Table]]:
    md = mapping.physical_metadata()
    return md, {em.name: md.tables[em.qualified_table] for em in mapping}


def source_rows(writer: Engine, mapping: Mapping, name: str) -> list[tuple[Any, ...]]:
    _, tables = _tables(mapping)
    table = tables[name]
    entity = mapping[name].entity
    cols = [c.name for c in entity.cached_columns if mapping[name].has(c.name)]
    with writer.connect() as conn:
        rows = conn.execute(select(*(table.c[c] for c in cols))).all()
    return sorted(tuple(_norm(v) for v in r) for r in rows)


def cache_rows(bridge: Bridge, name: str) -> list[tuple[Any, ...]]:
    table = cache_table(name)
    em = bridge.mapping[name]
    cols = [c.name for c in em.entity.cached_columns if em.has(c.name)]
    with bridge.cache.connect() as conn:
        rows = conn.execute(select(*(table.c[c] for c in cols))).all()
    return sorted(tuple(_norm(v) for v in r) for r in rows)


def assert_cache_matches(bridge: Bridge, writer: Engine, names: list[str] | None = None) -> None:
    for entity in ENTITIES:
        if names is None or entity.name in names:
            assert cache_rows(bridge, entity.name) == source_rows(writer, bridge.mapping, entity.name), (
                entity.name
            )


@pytest.fixture
def engines(fresh_database, make_settings, tmp_path, request):
    """(bridge, writer engine) on a tiny demo source for the (source, cache) kinds asked."""

    def make(source_kind: str, cache_kind: str) -> tuple[Bridge, Engine]:
        source_url = fresh_database(source_kind)
        overrides: dict[str, Any] = {"source_url": source_url.render_as_string(hide_password=False)}
        if cache_kind != "sqlite":
            overrides["cache_url"] = fresh_database(cache_kind).render_as_string(hide_password=False)
        settings = make_settings(sync_batch_size=100, **overrides)
        bridge = Bridge(settings)
        build_demo(
            source_url,
            size="tiny",
            seed=3,
            today=settings.today_date(),
            mapping=bridge.mapping,
            share_root=tmp_path / "share",
        )
        writer = create_engine(source_url)
        request.addfinalizer(writer.dispose)
        request.addfinalizer(bridge.dispose)
        return bridge, writer

    return make


def _next_id(conn: Any, table: Table, column: str) -> int:
    return (conn.execute(select(func.max(table.c[column]))).scalar() or 0) + 1


def _stamp(table: Table) -> str:
    """Key of the table's change column: a logical column, or the physical-only one."""
    return "modified_date" if "modified_date" in table.c else "_change"


def _later(conn: Any, table: Table) -> dt.datetime:
    """A change value after every existing one (what BPO2 itself would write)."""
    top = conn.execute(select(func.max(table.c[_stamp(table)]))).scalar()
    return (top or dt.datetime(2026, 1, 1)).replace(microsecond=0) + dt.timedelta(seconds=5)


def _change_source(writer: Engine, mapping: Mapping) -> dict[str, dict[str, int]]:
    """Inserts, updates and deletes across change-column and no-change-column entities."""
    _, t = _tables(mapping)
    with writer.begin() as conn:
        contract, item, asset, reading = t["contract"], t["contract_item"], t["asset"], t["meter_reading"]
        first = conn.execute(select(contract).order_by(contract.c.contract_id).limit(1)).first()
        conn.execute(
            update(contract)
            .where(contract.c.contract_id == first.contract_id)
            .values(status="Suspended", modified_date=_later(conn, contract))
        )
        new_contract = _next_id(conn, contract, "contract_id")
        conn.execute(
            insert(contract).values(
                contract_id=new_contract,
                contract_no=f"CPC{new_contract:07d}",
                customer_id=first.customer_id,
                contract_type_id=first.contract_type_id,
                site_id=first.site_id,
                status="Active",
                start_date=dt.date(2026, 1, 31),
                expiry_date=dt.date(2027, 2, 28),
                billing_cycle="Monthly",
                modified_date=_later(conn, contract),
            )
        )
        new_asset = _next_id(conn, asset, "asset_id")
        conn.execute(
            insert(asset).values(asset_id=new_asset, serial_no="SN-NEW-1", model_no="M-1", part_code="P")
        )
        conn.execute(
            insert(item).values(
                contract_item_id=_next_id(conn, item, "contract_item_id"),
                contract_id=new_contract,
                asset_id=new_asset,
                location_desc="Reception",
            )
        )
        changed_asset = conn.execute(select(func.min(asset.c.asset_id))).scalar()
        conn.execute(
            update(asset)
            .where(asset.c.asset_id == changed_asset)
            .values(model_no="Changed", **{_stamp(asset): _later(conn, asset)})
        )
        gone = conn.execute(select(func.max(reading.c.reading_id))).scalar()
        conn.execute(delete(reading).where(reading.c.reading_id == gone))
        # a key of two columns, with a change column
        link = t["customer_salesman"]
        one = conn.execute(select(link).order_by(link.c.customer_id, link.c.employee_id).limit(1)).first()
        conn.execute(
            update(link)
            .where(link.c.customer_id == one.customer_id, link.c.employee_id == one.employee_id)
            .values(is_main=not one.is_main, **{_stamp(link): _later(conn, link)})
        )
        contact = t["customer_contact"]
        gone = conn.execute(select(func.min(contact.c.contact_id))).scalar()
        conn.execute(delete(contact).where(contact.c.contact_id == gone))
        # entities without a change column: found by comparing every row
        employee, site = t["employee"], t["site"]
        first_employee = conn.execute(select(func.min(employee.c.employee_id))).scalar()
        conn.execute(
            update(employee).where(employee.c.employee_id == first_employee).values(full_name="Renamed")
        )
        conn.execute(insert(site).values(site_id=_next_id(conn, site, "site_id"), site_name="New Site"))
    return {
        "contract": {"added": 1, "changed": 1, "removed": 0},
        "contract_item": {"added": 1, "changed": 0, "removed": 0},
        "asset": {"added": 1, "changed": 1, "removed": 0},
        "meter_reading": {"added": 0, "changed": 0, "removed": 1},
        "customer_salesman": {"added": 0, "changed": 1, "removed": 0},
        "customer_contact": {"added": 0, "changed": 0, "removed": 1},
        "employee": {"added": 0, "changed": 1, "removed": 0},
        "site": {"added": 1, "changed": 0, "removed": 0},
    }


@pytest.mark.parametrize(("source_kind", "cache_kind"), COMBOS)
def test_full_then_incremental_reproduce_the_source(engines, source_kind: str, cache_kind: str) -> None:
    bridge, writer = engines(source_kind, cache_kind)
    # both ways of finding changes are exercised below
    assert bridge.mapping["employee"].change_column is None and bridge.mapping["site"].change_column is None
    assert bridge.mapping["asset"].change_column and bridge.mapping["contract"].change_column
    result = full_sync(bridge)
    assert result.kind == "full" and bridge.cache.exists()
    assert sum(result.rows.values()) > 100
    assert_cache_matches(bridge, writer)
    assert bridge.cache.as_of() is not None and bridge.cache.last_failure() is None

    expected = _change_source(writer, bridge.mapping)
    result = incremental_sync(bridge)
    assert result.kind == "incremental"
    assert_cache_matches(bridge, writer)
    for name, counts in expected.items():
        assert result.changes[name] == counts, name
    untouched = set(result.changes) - set(expected)
    assert all(result.changes[n] == {"added": 0, "changed": 0, "removed": 0} for n in untouched)

    again = incremental_sync(bridge)
    assert all(not any(c.values()) for c in again.changes.values())
    assert again.snapshot == result.snapshot  # incremental works in place


@pytest.mark.parametrize(("source_kind", "cache_kind"), COMBOS)
def test_refresh_reproduces_one_customer(engines, source_kind: str, cache_kind: str) -> None:
    bridge, writer = engines(source_kind, cache_kind)
    full_sync(bridge)
    _, t = _tables(bridge.mapping)
    contract, customer, item, reading = t["contract"], t["customer"], t["contract_item"], t["meter_reading"]
    with writer.begin() as conn:
        mine, other = conn.execute(select(customer.c.customer_id, customer.c.account_no).limit(2)).all()
        contracts = (
            conn.execute(
                select(contract.c.contract_id)
                .where(contract.c.customer_id == mine.customer_id)
                .order_by(contract.c.contract_id)
            )
            .scalars()
            .all()
        )
        # a changed contract, a contract moved to another customer, a removed machine line
        conn.execute(
            update(contract).where(contract.c.contract_id == contracts[0]).values(status="Suspended")
        )
        conn.execute(
            update(contract)
            .where(contract.c.contract_id == contracts[1])
            .values(customer_id=other.customer_id)
        )
        line = conn.execute(
            select(item.c.contract_item_id).where(item.c.contract_id == contracts[0]).limit(1)
        ).scalar()
        conn.execute(delete(item).where(item.c.contract_item_id == line))
        conn.execute(
            insert(reading).values(
                reading_id=_next_id(conn, reading, "reading_id"),
                meter_id=conn.execute(select(func.min(reading.c.meter_id))).scalar(),
                reading_date=dt.date(2026, 11, 1),
                reading=123456,
            )
        )
    result = refresh_customer(bridge, mine.account_no)
    assert result.customer_id == mine.customer_id
    assert result.changes["contract"] == {"added": 0, "changed": 2, "removed": 0}
    assert result.changes["contract_item"]["removed"] == 1
    assert "contract" in result.summary()
    # every row of this customer now matches; the moved contract is updated, not lost
    assert_cache_matches(bridge, writer, ["contract", "contract_item", "customer"])
    with bridge.cache.connect() as conn:
        owner = conn.execute(
            select(cache_table("contract").c.customer_id).where(
                cache_table("contract").c.contract_id == contracts[1]
            )
        ).scalar()
    assert owner == other.customer_id


def test_source_statements_compile_for_sql_server(settings) -> None:
    bridge = Bridge(settings)
    plans = build_plans(offline_schema(bridge.mapping), mssql.dialect())
    dialect = mssql.dialect()
    for plan in plans:
        statements = [
            plan.select_rows(ordered=True),
            plan.select_keys(),
            plan.select_rows(plan.key_filter([(1,), (2,)])),
        ]
        if plan.entity.customer_link is not None:
            statements.append(plan.select_rows(plan.customer_filter(7)))
        if plan.change is not None:
            statements.append(plan.select_rows(changed_since(plan, dt.datetime(2026, 1, 1))))
        for stmt in statements:
            sql = str(stmt.compile(dialect=dialect))
            assert "SELECT" in sql and "LIMIT" not in sql
            physical = bridge.mapping[plan.name].table
            assert physical in sql  # the mapped physical table, through the reflection layer


class WriteDuring:
    """Progress hook that commits a source change while the sync is running."""

    def __init__(self, writer: Engine, mapping: Mapping, entity: str, lag: dt.timedelta) -> None:
        self.writer, self.mapping, self.entity, self.lag = writer, mapping, entity, lag
        self.written: int | None = None

    def start(self, entity: str) -> None:
        pass

    def advance(self, entity: str, rows: int) -> None:
        pass

    def done(self, entity: str, rows: int, seconds: float) -> None:
        if entity != self.entity or self.written is not None:
            return
        _, t = _tables(self.mapping)
        contract = t["contract"]
        with self.writer.begin() as conn:
            # a transaction that began earlier: its change value is older than the newest row
            stamp = _later(conn, contract) - self.lag
            self.written = conn.execute(select(func.min(contract.c.contract_id))).scalar()
            conn.execute(
                update(contract)
                .where(contract.c.contract_id == self.written)
                .values(status="Expired", modified_date=stamp)
            )


@pytest.mark.parametrize("lag", [dt.timedelta(0), dt.timedelta(minutes=5)])
def test_rows_committed_during_a_sync_are_never_missed(engines, lag: dt.timedelta) -> None:
    bridge, writer = engines("sqlite", "sqlite")
    full_sync(bridge)
    hook = WriteDuring(writer, bridge.mapping, "contract", lag)
    incremental_sync(bridge, hook)  # the change lands after contract's watermark was taken
    assert hook.written is not None
    incremental_sync(bridge)
    assert_cache_matches(bridge, writer, ["contract"])


def test_a_delete_and_an_unstamped_insert_between_syncs_are_both_found(engines) -> None:
    """Same row count before and after: the new identity key still gives the difference away."""
    bridge, writer = engines("sqlite", "sqlite")
    full_sync(bridge)
    _, t = _tables(bridge.mapping)
    asset = t["asset"]
    with writer.begin() as conn:
        keys = conn.execute(select(asset.c.asset_id).order_by(asset.c.asset_id)).scalars().all()
        conn.execute(delete(asset).where(asset.c.asset_id == keys[len(keys) // 2]))
        conn.execute(
            insert(asset).values(asset_id=keys[-1] + 1, serial_no="SN-NEW-2", model_no="M-2", part_code="P")
        )
    result = incremental_sync(bridge)
    assert result.changes["asset"] == {"added": 1, "changed": 0, "removed": 1}
    assert_cache_matches(bridge, writer, ["asset"])


OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("insert"), st.sampled_from(["customer_contact", "site"]), st.booleans()),
        st.tuples(st.just("update"), st.sampled_from(["customer_contact", "site"]), st.integers(0, 10**6)),
        st.tuples(st.just("delete"), st.sampled_from(["customer_contact", "site"]), st.integers(0, 10**6)),
    ),
    max_size=6,
)


@hsettings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rounds=st.lists(OPERATIONS, min_size=1, max_size=3))
def test_incremental_sync_reproduces_any_writes(engines, rounds) -> None:
    """Inserts (stamped or not), stamped updates and deletes, on an entity with a change column
    and one without; after each round the incremental sync leaves the cache equal to BPO2."""
    bridge, writer = engines("sqlite", "sqlite")
    full_sync(bridge)
    _, t = _tables(bridge.mapping)
    for operations in rounds:
        with writer.begin() as conn:
            for kind, name, arg in operations:
                table = t[name]
                key = table.c[bridge.mapping[name].entity.pk[0]]
                text = table.c["name" if name == "customer_contact" else "site_name"]
                stamp = {_stamp(table): _later(conn, table)} if bridge.mapping[name].change_column else {}
                keys = conn.execute(select(key).order_by(key)).scalars().all()
                if kind == "insert":
                    values = {key.key: (keys[-1] if keys else 0) + 1, text.key: "Inserted"}
                    if name == "customer_contact":
                        values["customer_id"] = 1
                    conn.execute(insert(table).values(**values, **(stamp if arg else {})))
                elif keys and kind == "update":
                    conn.execute(
                        update(table)
                        .where(key == keys[arg % len(keys)])
                        .values({text.key: "Updated", **stamp})
                    )
                elif keys:
                    conn.execute(delete(table).where(key == keys[arg % len(keys)]))
        incremental_sync(bridge)
        assert_cache_matches(bridge, writer, ["customer_contact", "site"])
