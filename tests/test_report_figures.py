"""Contract Performance figures reconcile exactly with plain sums over the rows they come from.

The oracle (tests/helpers.py) reads the rows with SQLAlchemy (cache tables, or BPO2-like tables
built from the mapping) and adds them up in Python, sharing no code with bpo2_bridge.report.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import Table, create_engine, select
from sqlalchemy.pool import StaticPool

from bpo2_bridge.cache.schema import cache_metadata
from bpo2_bridge.report import sample
from bpo2_bridge.report.figures import Report, ReportNotFound, load_report
from bpo2_bridge.source.mapping import load_mapping

from .helpers import assert_reconciles, flatten, oracle

TODAY = dt.date(2026, 11, 22)


# -- databases holding sample contracts -------------------------------------------------------


def memory_cache() -> Any:
    engine = create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
    metadata = cache_metadata()
    metadata.create_all(engine)
    return engine, dict(metadata.tables)


def load(engine: Any, tables: dict[str, Table], *specs: sample.SampleContract) -> None:
    rows = sample.merge(sample.reference_rows(), *(sample.contract_rows(s, TODAY) for s in specs))
    with engine.begin() as conn:
        sample.insert_rows(conn, tables, rows)


SPECS = st.builds(
    sample.SampleContract,
    base=st.just(1000),
    contract_no=st.just("CPC0001000"),
    start=st.dates(dt.date(2019, 1, 1), TODAY),
    expiry=st.one_of(st.none(), st.dates(dt.date(2019, 6, 1), dt.date(2030, 12, 31))),
    machines=st.integers(0, 4),
    invoices=st.booleans(),
    calls=st.booleans(),
    colour_every=st.integers(1, 3),
    seed=st.integers(0, 10_000),
)


@hsettings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=SPECS)
def test_cache_figures_reconcile_with_row_sums(spec: sample.SampleContract) -> None:
    engine, tables = memory_cache()
    load(engine, tables, spec)
    with engine.connect() as conn:
        report = load_report(conn, spec.contract_no, TODAY)
        assert_reconciles(report, oracle(conn, tables, spec.contract_no, TODAY))
    engine.dispose()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql", "mariadb"])
def test_same_sql_on_source_reconciles(kind: str, fresh_database, settings) -> None:
    """The report SQL run on a BPO2-like source (physical names through the mapping) gives the
    figures the oracle sums from the same rows, and the cache gives the same report."""
    mapping = load_mapping(settings.mapping_path)
    metadata = mapping.physical_metadata()
    engine = create_engine(fresh_database(kind))
    metadata.create_all(engine)
    by_entity = {em.name: metadata.tables[em.qualified_table] for em in mapping}
    specs = [
        sample.SampleContract(1000, "CPC0001000", dt.date(2023, 2, 14), dt.date(2027, 2, 13), machines=4),
        sample.SampleContract(2000, "CPC0002000", dt.date(2020, 5, 1), dt.date(2023, 4, 30), machines=2),
    ]
    load(engine, by_entity, *specs)
    cache, cache_tables = memory_cache()
    load(cache, cache_tables, *specs)
    try:
        with engine.connect() as conn, cache.connect() as cache_conn:
            for spec in specs:
                report = load_report(conn, spec.contract_no, TODAY, mapping=mapping)
                assert_reconciles(report, oracle(conn, by_entity, spec.contract_no, TODAY))
                cached = load_report(cache_conn, spec.contract_no, TODAY)
                assert flatten(cached.to_date) == flatten(report.to_date)
                assert flatten(cached.last_12) == flatten(report.last_12)
                assert report.contract["salesman"] == "John Smith"
    finally:
        engine.dispose()
        cache.dispose()


def test_demo_contracts_reconcile_with_source(demo_bridge) -> None:
    """On the synced tiny demo: every report total, for a sample of contracts, equals the sum
    over the BPO2 source rows."""
    mapping = demo_bridge.mapping
    metadata = mapping.physical_metadata()
    by_entity = {em.name: metadata.tables[em.qualified_table] for em in mapping}
    today = demo_bridge.today()
    with demo_bridge.source.connect() as source, demo_bridge.cache.connect() as cache:
        numbers = [r[0] for r in source.execute(select(by_entity["contract"].c.contract_no))]
        assert numbers
        picked = numbers[:: max(1, len(numbers) // 12)]
        with_revenue = 0
        for contract_no in picked:
            report = load_report(cache, contract_no, today)
            assert_reconciles(report, oracle(source, by_entity, contract_no, today))
            with_revenue += bool(report.to_date.revenue_total)
        assert with_revenue >= len(picked) // 3


# -- edge cases ------------------------------------------------------------------------------


def one(spec: sample.SampleContract) -> Report:
    engine, tables = memory_cache()
    load(engine, tables, spec)
    with engine.connect() as conn:
        report = load_report(conn, spec.contract_no, TODAY)
    engine.dispose()
    return report


def test_contract_without_invoices_has_blank_margin() -> None:
    report = one(
        sample.SampleContract(1000, "CPC1", dt.date(2025, 1, 1), dt.date(2027, 1, 1), invoices=False)
    )
    assert report.to_date.revenue_total == 0
    assert report.to_date.margin is None and report.last_12.margin is None
    assert report.to_date.revenue_per_copy is None and report.to_date.cost_per_copy is None
    assert report.to_date.gross_profit == -report.to_date.cost_total


def test_contract_without_service_calls_keeps_all_revenue() -> None:
    report = one(sample.SampleContract(1000, "CPC2", dt.date(2024, 3, 1), dt.date(2027, 2, 28), calls=False))
    assert report.to_date.cost_total == 0 and report.to_date.calls == 0
    assert report.to_date.margin == Decimal("100.0")
    assert report.to_date.cost_per_copy == 0


def test_contract_one_month_old() -> None:
    start = TODAY - dt.timedelta(days=20)
    report = one(sample.SampleContract(1000, "CPC3", start, dt.date(2029, 10, 31)))
    assert [m.start for m in report.months] == [dt.date(2026, 11, 1)]
    assert report.to_date.revenue_total == report.last_12.revenue_total > 0
    assert report.contract["months_remaining"] == 35


def test_contract_expired_years_ago() -> None:
    report = one(sample.SampleContract(1000, "CPC4", dt.date(2018, 1, 1), dt.date(2021, 12, 31)))
    assert report.contract["months_remaining"] < -50
    assert report.last_12.revenue_total == 0 and report.last_12.margin is None
    assert report.to_date.revenue_total > 0
    assert report.months[-1].start == dt.date(2021, 12, 1)
    assert len(report.months) == 36 and report.earlier_months == 12


def test_unknown_contract() -> None:
    engine, _tables = memory_cache()
    with engine.connect() as conn, pytest.raises(ReportNotFound):
        load_report(conn, "NOPE", TODAY)
