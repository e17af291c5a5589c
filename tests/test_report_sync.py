"""The report's figures come from what the sync brings into the cache: the demo on PostgreSQL
reconciles after a full sync, and a customer Refresh shows new invoice lines at once."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import create_engine, func, select

from bpo2_bridge.bridge import Bridge
from bpo2_bridge.cache.schema import cache_table
from bpo2_bridge.report.figures import load_report

from .helpers import assert_reconciles, oracle


def _tables(mapping):  # type: ignore[no-untyped-def]
    metadata = mapping.physical_metadata()
    return {em.name: metadata.tables[em.qualified_table] for em in mapping}


def test_demo_on_postgresql_reconciles_after_full_sync(fresh_database, make_settings, tmp_path) -> None:
    from bpo2_bridge.demo.generate import build_demo
    from bpo2_bridge.sync.full import full_sync

    url = fresh_database("postgresql")
    settings = make_settings(source_url=url.render_as_string(hide_password=False))
    bridge = Bridge(settings)
    try:
        build_demo(
            url,
            size="tiny",
            today=settings.today_date(),
            mapping=bridge.mapping,
            share_root=tmp_path / "share",
        )
        full_sync(bridge)
        tables = _tables(bridge.mapping)
        with bridge.source.connect() as source, bridge.cache.connect() as cache:
            numbers = [r[0] for r in source.execute(select(tables["contract"].c.contract_no))]
            for contract_no in numbers[:: max(1, len(numbers) // 8)]:
                truth = oracle(source, tables, contract_no, settings.today_date())
                assert_reconciles(load_report(cache, contract_no, settings.today_date()), truth)
                on_source = load_report(source, contract_no, settings.today_date(), mapping=bridge.mapping)
                assert_reconciles(on_source, truth)
    finally:
        bridge.dispose()


def test_customer_refresh_updates_the_report(copied_demo) -> None:
    from bpo2_bridge.sync.refresh import refresh_customer

    bridge = copied_demo()
    tables = _tables(bridge.mapping)
    today = bridge.today()
    with bridge.cache.connect() as cache:
        contract, customer = cache_table("contract"), cache_table("customer")
        row = cache.execute(
            select(contract.c.contract_id, contract.c.contract_no, customer.c.account_no)
            .join_from(contract, customer, customer.c.customer_id == contract.c.customer_id)
            .order_by(contract.c.contract_id)
            .limit(1)
        ).one()
        before = load_report(cache, row.contract_no, today)
    writable = create_engine(f"sqlite:///{bridge.settings.demo_source_path}")
    lines = tables["invoice_line"]
    with writable.begin() as conn:
        next_id = conn.execute(select(func.max(lines.c.invoice_line_id))).scalar_one() + 1
        conn.execute(
            lines.insert().values(
                invoice_line_id=next_id,
                contract_id=row.contract_id,
                invoice_date=today - dt.timedelta(days=1),
                line_type="Fee",
                asset_id=None,
                meter_type=None,
                volume=None,
                amount=Decimal("1234.56"),
                modified_date=dt.datetime.combine(today, dt.time(7, 0)),
            )
        )
    writable.dispose()
    refresh_customer(bridge, row.account_no)
    with bridge.cache.connect() as cache:
        after = load_report(cache, row.contract_no, today)
    assert after.to_date.revenue_total - before.to_date.revenue_total == Decimal("1234.56")
    assert after.last_12.revenue.get("Fee", 0) - before.last_12.revenue.get("Fee", 0) == Decimal("1234.56")
