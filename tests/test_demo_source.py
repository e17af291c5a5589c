"""The demo BPO2 source: builds on every engine, deterministic, realistic and consistent."""

from __future__ import annotations

import datetime as dt
import struct
import tempfile
import zlib
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import Boolean, Date, DateTime, Numeric, Table, create_engine, func, select
from sqlalchemy.dialects import mssql, sqlite
from sqlalchemy.schema import CreateIndex, CreateTable

from bpo2_bridge.demo import content
from bpo2_bridge.demo.content import add_months
from bpo2_bridge.demo.generate import DemoError, build_demo, build_demo_file, demo_indexes
from bpo2_bridge.demo.share import MANIFEST
from bpo2_bridge.demo.writer import sqlite_converters
from bpo2_bridge.source.mapping import Mapping, load_mapping
from bpo2_bridge.source.model import ENTITIES

TODAY = dt.date(2026, 11, 22)


@pytest.fixture(scope="module")
def mapping() -> Mapping:
    from bpo2_bridge.settings import package_config_dir

    return load_mapping(package_config_dir() / "mapping.toml")


def _table(mapping: Mapping, entity: str) -> Table:
    return mapping.physical_metadata().tables[mapping[entity].qualified_table]


def fetch(url: Any, mapping: Mapping, entity: str) -> list[dict[str, Any]]:
    """Every row of an entity as a dict keyed by logical column names, in key order."""
    table = _table(mapping, entity)
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            query = select(*(col.label(col.key) for col in table.c)).order_by(*table.primary_key.columns)
            return [dict(row._mapping) for row in conn.execute(query)]
    finally:
        engine.dispose()


def dump(url: Any, mapping: Mapping) -> dict[str, list[dict[str, Any]]]:
    return {e.name: fetch(url, mapping, e.name) for e in ENTITIES}


def build(url: Any, mapping: Mapping, share: Path, **options: Any):
    options.setdefault("size", "tiny")
    options.setdefault("today", TODAY)
    return build_demo(url, mapping=mapping, share_root=share, **options)


def contract_windows(contracts: list[dict[str, Any]], today: dt.date) -> set[str]:
    horizon = add_months(today, 6)
    found = set()
    for row in contracts:
        expiry = row["expiry_date"]
        if row["status"] == "Cancelled":
            found.add("cancelled")
        elif expiry is None:
            found.add("open-ended")
        elif expiry < today:
            found.add("expired")
        elif expiry <= horizon:
            found.add("expiring")
        else:
            found.add("current")
    return found


def check_consistency(data: dict[str, list[dict[str, Any]]], today: dt.date, share: Path) -> None:
    """What a user of the demo relies on, whatever the seed, size or date."""
    midnight = dt.datetime.combine(today, dt.time())
    for entity, rows in data.items():  # change stamps never run ahead of edits made today
        assert all(r["modified_date"] < midnight for r in rows if r.get("modified_date")), entity
        if rows and "_change" in rows[0]:  # a change column that is not a logical column: filled too
            assert all(r["_change"] is not None and r["_change"] < midnight for r in rows), entity
        stamps = [r.get("_change") or r.get("modified_date") for r in rows]
        if any(stamps):
            # spread like real edits: an incremental read of the newest rows is not half a table
            newest = max(s for s in stamps if s)
            assert stamps.count(newest) <= max(5, len(rows) // 100), entity
    assert contract_windows(data["contract"], today) == {
        "expired",
        "expiring",
        "current",
        "open-ended",
        "cancelled",
    }
    readings: dict[int, list[tuple[dt.date, int]]] = defaultdict(list)
    for row in data["meter_reading"]:
        assert row["reading_date"] <= today
        readings[row["meter_id"]].append((row["reading_date"], row["reading"]))
    by_asset_type = {}
    for meter in data["meter"]:
        series = sorted(readings[meter["meter_id"]])
        values = [value for _, value in series]
        assert values == sorted(values) and len(set(values)) == len(values), "readings only go up"
        by_asset_type[(meter["asset_id"], meter["meter_type"])] = dict(series)
        previous = {day: before for (day, _), (_, before) in zip(series[1:], series)}
        by_asset_type[(meter["asset_id"], meter["meter_type"], "previous")] = previous
    meter_lines = [row for row in data["invoice_line"] if row["line_type"] == "Meter"]
    assert meter_lines
    for line in meter_lines:
        key = (line["asset_id"], line["meter_type"])
        current = by_asset_type[key][line["invoice_date"]]
        before = by_asset_type[(*key, "previous")][line["invoice_date"]]
        assert line["volume"] == current - before, "meter volume is the reading delta"
        assert line["amount"] >= 0
    assert {row["line_type"] for row in data["invoice_line"]} == {"Fee", "MinBilling", "Meter"}
    for attachment in data["case_attachment"]:
        if attachment["content"] is not None:
            body = bytes(attachment["content"])
        else:
            body = share.joinpath(*attachment["file_path"].split("/")).read_bytes()
        assert attachment["file_size"] == len(body)
        check_file(attachment["content_type"], body)
    stored = {row["content"] is None for row in data["case_attachment"]}
    assert stored == {True, False}, "some attachments as bytes, some as share paths"
    today_rows = [a for a in data["activity"] if a["scheduled_for"] and a["scheduled_for"].date() == today]
    assert today_rows
    recent = today - dt.timedelta(days=13)
    assert any(a["modified_date"].date() >= recent for a in data["activity"])
    assert {c["status"] for c in data["crm_case"]} >= {"Open", "Closed"}


def check_file(content_type: str, body: bytes) -> None:
    if content_type == "application/pdf":
        assert body.startswith(b"%PDF-1.4") and body.rstrip().endswith(b"%%EOF")
        xref = int(body.rsplit(b"startxref", 1)[1].split()[0])
        assert body[xref:].startswith(b"xref")
    elif content_type == "image/png":
        assert body.startswith(b"\x89PNG\r\n\x1a\n")
        width, height = struct.unpack(">II", body[16:24])
        length = struct.unpack(">I", body[33:37])[0]
        assert body[37:41] == b"IDAT"
        assert len(zlib.decompress(body[41 : 41 + length])) == height * (1 + 3 * width)
    else:
        assert content_type == "text/plain"
        assert body.decode("utf-8").strip()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql", "mariadb"])
def test_tiny_demo_builds_on_every_engine(kind, fresh_database, mapping, tmp_path):
    url = fresh_database(kind)
    summary = build(url, mapping, tmp_path / "share")
    data = dump(url, mapping)
    assert summary.counts == {name: len(rows) for name, rows in data.items()}
    assert all(summary.counts.values()), summary.counts
    assert "***" in summary.url or url.password is None
    check_consistency(data, TODAY, tmp_path / "share")
    engine = create_engine(url)
    with engine.begin() as conn:  # a writer adding a row without an id gets a fresh one
        added = conn.execute(_table(mapping, "site").insert().values(site_name="East London"))
        assert added.inserted_primary_key[0] == len(content.SITES) + 1
    engine.dispose()
    with pytest.raises(DemoError, match="already holds BPO2 tables"):
        build(url, mapping, tmp_path / "share")


def test_same_seed_and_day_give_identical_builds(fresh_database, mapping, tmp_path):
    first, second, other = (fresh_database("sqlite") for _ in range(3))
    build(first, mapping, tmp_path / "a")
    build(second, mapping, tmp_path / "b")
    build(other, mapping, tmp_path / "c", seed=2)
    assert dump(first, mapping) == dump(second, mapping)
    assert dump(first, mapping) != dump(other, mapping)
    assert Path(first.database).read_bytes() == Path(second.database).read_bytes()
    files_a, files_b = (
        {
            p.relative_to(tmp_path / name): p.read_bytes()
            for p in (tmp_path / name).rglob("*")
            if p.is_file() and p.name != MANIFEST  # the file list names its own database
        }
        for name in ("a", "b")
    )
    assert files_a and files_a == files_b


def test_replace_rebuilds_an_existing_demo(fresh_database, mapping, tmp_path):
    url = fresh_database("sqlite")
    build(url, mapping, tmp_path / "share", seed=5)
    summary = build(url, mapping, tmp_path / "share", seed=1, replace=True)
    assert dump(url, mapping)["customer"][0]["customer_id"] == 1
    assert summary.counts["customer"] == content.PROFILES["tiny"].customers


@hsettings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    seed=st.integers(min_value=0, max_value=10**9),
    today=st.dates(min_value=dt.date(2001, 1, 1), max_value=dt.date(2090, 12, 31)),
)
def test_any_seed_and_day_give_a_consistent_demo(mapping, seed, today):
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'demo.sqlite'}"
        build(url, mapping, Path(folder) / "share", seed=seed, today=today)
        check_consistency(dump(url, mapping), today, Path(folder) / "share")


def test_small_demo_has_the_benchmark_rows_and_demo_logins(fresh_database, mapping, tmp_path):
    url = fresh_database("sqlite")
    summary = build(url, mapping, tmp_path / "share", size="small")
    assert 200 <= summary.counts["customer"] <= 1000
    data = dump(url, mapping)
    customers = {c["account_no"]: c for c in data["customer"]}
    assert {c["status"] for c in data["customer"]} == {"New - CRM", "Released", "Active"}
    bench_customer = customers[content.BENCH_CUSTOMER_ACCOUNT]["customer_id"]
    assert sum(1 for c in data["contract"] if c["customer_id"] == bench_customer) == 200
    bench = next(c for c in data["contract"] if c["contract_no"] == content.BENCH_CONTRACT_NO)
    items = [i for i in data["contract_item"] if i["contract_id"] == bench["contract_id"]]
    assert len(items) == 10
    months = {
        line["invoice_date"] for line in data["invoice_line"] if line["contract_id"] == bench["contract_id"]
    }
    assert len(months) == 36
    calls = {c["call_id"] for c in data["service_call"] if c["contract_id"] == bench["contract_id"]}
    assert {k["cost_type"] for k in data["call_cost"] if k["call_id"] in calls} >= {
        "Labour",
        "Travel",
        "Part",
    }

    employees = {e["login_name"]: e for e in data["employee"]}
    assert employees[content.DEMO_ADMIN_LOGIN]["is_crm_administrator"]
    salesman = employees[content.DEMO_SALESMAN_LOGIN]
    assert not salesman["is_crm_administrator"]
    own = {s["customer_id"] for s in data["customer_salesman"] if s["employee_id"] == salesman["employee_id"]}
    assert len(own) >= 10
    assert any(not s["is_main"] for s in data["customer_salesman"])
    owners = {c["salesman_id"] for c in data["crm_case"] if c["status"] == "Open"}
    assert salesman["employee_id"] in owners and len(owners) >= 3
    today = [
        a
        for a in data["activity"]
        if a["salesman_id"] == salesman["employee_id"] and a["scheduled_for"].date() == TODAY
    ]
    assert len(today) >= 3
    check_consistency(data, TODAY, tmp_path / "share")


def test_a_failed_file_build_leaves_nothing_behind(mapping, tmp_path):
    blocker = tmp_path / "share"
    blocker.write_text("a file where the share folder should be")
    target = tmp_path / "data" / "bpo2-demo.sqlite"
    with pytest.raises(DemoError, match="attachments"):
        build_demo_file(target, size="tiny", today=TODAY, mapping=mapping, share_root=blocker)
    assert not target.exists() and not list(target.parent.iterdir())


@given(
    day=st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(9000, 1, 1)), months=st.integers(-600, 600)
)
def test_add_months_clamps_to_the_month_end(day, months):
    moved = add_months(day, months)
    assert (moved.year * 12 + moved.month) - (day.year * 12 + day.month) == months
    assert moved.day == day.day or (moved.day < day.day and (moved + dt.timedelta(days=1)).day == 1)
    assert add_months(dt.date(2028, 1, 31), 1) == dt.date(2028, 2, 29)


def _converter_pairs() -> list[tuple[Any, Any, Any]]:
    from bpo2_bridge.settings import package_config_dir

    mapping = load_mapping(package_config_dir() / "mapping.toml")
    dialect = sqlite.dialect()
    pairs = []
    for entity in ENTITIES:
        table = _table(mapping, entity.name)
        for col, fast in zip(table.c, sqlite_converters(table, dialect)):
            pairs.append((col, fast, col.type.dialect_impl(dialect).bind_processor(dialect)))
    return pairs


CONVERTERS = _converter_pairs()


@hsettings(deadline=None)
@given(
    moment=st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(9999, 12, 31)),
    amount=st.decimals(min_value=-(10**12), max_value=10**12, places=2),
)
def test_fast_sqlite_inserts_store_what_sqlalchemy_stores(moment, amount):
    for col, fast, own in CONVERTERS:
        value = {DateTime: moment, Date: moment.date(), Numeric: amount, Boolean: True}.get(type(col.type))
        if value is not None:
            assert fast(value) == (own(value) if own else value), col


def test_stored_datetimes_match_sqlalchemy_bound_parameters(fresh_database, mapping, tmp_path):
    url = fresh_database("sqlite")
    build(url, mapping, tmp_path / "share")
    rows = fetch(url, mapping, "activity")
    table = _table(mapping, "activity")
    moment = rows[3]["modified_date"]
    engine = create_engine(url)
    with engine.connect() as conn:
        found = conn.execute(select(func.count()).where(table.c.modified_date >= moment)).scalar()
    engine.dispose()
    assert found == sum(1 for r in rows if r["modified_date"] >= moment)


def test_ddl_compiles_for_sql_server(mapping):
    metadata = mapping.physical_metadata()
    for table in metadata.tables.values():
        sql = str(CreateTable(table).compile(dialect=mssql.dialect()))
        assert sql.startswith(f"\nCREATE TABLE [{table.name}]") or f"CREATE TABLE {table.name}" in sql
    indexes = demo_indexes(mapping, metadata)
    changes = {(em.table, (em.change_column,)) for em in mapping if em.change_column}
    indexed = {(index.table.name, tuple(col.name for col in index.columns)) for index in indexes}
    assert changes <= indexed, "every change column is indexed"
    assert len(indexes) >= sum(len(e.indexes) for e in ENTITIES)
    for index in indexes:
        assert "CREATE INDEX" in str(CreateIndex(index).compile(dialect=mssql.dialect()))
    modern = mssql.dialect(deprecate_large_types=True)  # SQL Server 2012 and later
    attachment = str(CreateTable(_table(mapping, "case_attachment")).compile(dialect=modern))
    assert f"[{mapping['case_attachment'].physical('content')}] VARBINARY(max)" in attachment


def _invoke(runner, *args: str):  # type: ignore[no-untyped-def]
    return runner.invoke("demo-db", *args)


def test_demo_db_command_builds_the_default_file(runner, tmp_path):
    result = _invoke(runner, "--size", "tiny")
    assert result.exit_code == 0, result.output
    path = tmp_path / "data" / "bpo2-demo.sqlite"
    assert f"sqlite:///{path}" in result.output
    assert path.exists() and not list(path.parent.glob("*.part*"))
    again = _invoke(runner, "--size", "tiny")
    assert again.exit_code == 2 and "already exists" in again.output
    assert _invoke(runner, "--size", "tiny", "--replace", "--seed", "3").exit_code == 0


def test_demo_db_command_builds_into_a_url(runner, tmp_path, fresh_database):
    url = fresh_database("postgresql")
    result = _invoke(runner, "--size", "tiny", "--url", url.render_as_string(hide_password=False))
    assert result.exit_code == 0, result.output
    assert url.render_as_string(hide_password=True) in result.output


@pytest.mark.parametrize(
    "args, message",
    [
        (["--size", "huge"], "--size must be one of"),
        (["--seed", "x"], "--seed must be a whole number"),
        (["--today", "2026-13-01"], "--today must be a date"),
        (["--url", "not a url"], "--url is not a valid database URL"),
    ],
)
def test_demo_db_command_refuses_bad_input_in_one_line(runner, tmp_path, args, message):
    result = _invoke(runner, *args)
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0], result.output
