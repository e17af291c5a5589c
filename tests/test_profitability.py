"""Every contract's stored last-12-months profitability (contract_row: revenue_12m, cost_12m,
gross_profit_12m, margin_12m, volume_12m, cost_per_copy_12m, volume_trend, and for the Renewals
flags last_billed and cost_per_copy_3m) equals what the
Contract Performance report shows for the same contract and day: for every contract of the
small demo on SQLite and PostgreSQL caches, and after the date moves (the job after midnight)."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, MetaData, create_engine, insert, select

from bpo2_bridge.bridge import Bridge
from bpo2_bridge.cache.schema import cache_table
from bpo2_bridge.queries.windows import add_months
from bpo2_bridge.report.figures import load_report, trend_periods
from bpo2_bridge.settings import load_settings
from bpo2_bridge.source.mapping import physical_table
from bpo2_bridge.sync import derived as derived_rows
from bpo2_bridge.sync import full_sync

TODAY = dt.date(2026, 11, 22)
COLUMNS = (
    "revenue_12m",
    "cost_12m",
    "gross_profit_12m",
    "margin_12m",
    "volume_12m",
    "cost_per_copy_12m",
    "volume_trend",
    "last_billed",
    "cost_per_copy_3m",
)
Figures = tuple[Any, ...]


def stored(conn: Connection) -> dict[str, Figures]:
    """Per contract number: the stored profitability, in COLUMNS order (the last billing date
    as its month: the report's months are what it is compared with)."""
    table = cache_table("contract_row")
    rows = conn.execute(select(table.c.contract_no, *(table.c[c] for c in COLUMNS))).all()
    at = COLUMNS.index("last_billed") + 1
    return {row[0]: (*row[1:at], row[at] and row[at].replace(day=1), *row[at + 1 :]) for row in rows}


def reported(conn: Connection, contract_no: str, today: dt.date) -> Figures:
    """The report's "Last 12 months" figures of one contract, in COLUMNS order."""
    report = load_report(conn, contract_no, today)
    f = report.last_12
    _, recent_from, this_month = trend_periods(today)
    billed = [m.start for m in report.months if m.start >= report.last_12_from and m.figures.revenue]
    recent = [m.figures for m in report.months if recent_from <= m.start < this_month]
    cost = sum((m.cost_total for m in recent), Decimal("0.00"))
    volume = sum(m.volume_total for m in recent)
    return (
        f.revenue_total,
        f.cost_total,
        f.gross_profit,
        f.margin,
        f.volume_total,
        f.cost_per_copy,
        report.volume_trend,
        max(billed, default=None),
        (cost / volume).quantize(Decimal("0.0001")) if volume else None,
    )


def assert_stored_equals_report(bridge: Bridge, contracts: list[str] | None = None) -> dict[str, Figures]:
    """Every (or each named) contract's stored figures equal its report's, as of bridge.today()."""
    with bridge.cache.connect() as conn:
        rows = stored(conn)
        assert rows, "no contract rows"
        wrong = {}
        for contract_no in sorted(rows) if contracts is None else contracts:
            expected = reported(conn, contract_no, bridge.today())
            if rows[contract_no] != expected:
                wrong[contract_no] = {"stored": rows[contract_no], "report": expected}
    assert not wrong, f"{len(wrong)} contracts differ from their report: {list(wrong.items())[:3]}"
    return rows


def _settings(folder: Path, **overrides: object):  # type: ignore[no-untyped-def]
    values = {"data_dir": str(folder), "today": TODAY.isoformat(), "secret_key": "test-secret", **overrides}
    return load_settings(config_file=None, overrides=values, environ={})


@pytest.fixture(scope="module")
def small_demo(tmp_path_factory) -> Path:  # type: ignore[no-untyped-def]
    """The small demo (about 1,200 contracts, 24 billed months each) synced to a SQLite cache."""
    from bpo2_bridge.demo.generate import build_demo_file

    folder = tmp_path_factory.mktemp("small") / "data"
    bridge = Bridge(_settings(folder))
    build_demo_file(
        bridge.settings.demo_source_path,
        size="small",
        today=TODAY,
        mapping=bridge.mapping,
        share_root=bridge.settings.share_path,
    )
    full_sync(bridge)
    bridge.dispose()
    return folder


@pytest.fixture
def small_bridge(small_demo: Path) -> Iterator[Bridge]:
    bridge = Bridge(_settings(small_demo))
    yield bridge
    bridge.dispose()


def _assert_the_demo_has_every_case(rows: dict[str, Figures]) -> None:
    """The comparison covers what can go wrong: margins of every sign, no revenue, no volume,
    trends up and down and none."""
    margins = [r[3] for r in rows.values()]
    trends = [r[6] for r in rows.values()]
    assert len(rows) > 1000
    assert None in margins and any(m is not None and m > 0 for m in margins)
    assert any(r[5] is None for r in rows.values()) and any(r[5] for r in rows.values())
    assert None in trends and any(t is not None and t > 0 for t in trends)
    assert any(t is not None and t < 0 for t in trends)
    assert all(r[2] == r[0] - r[1] for r in rows.values())
    # billed lately and not, cost per copy in the last 3 months above and below the 12 months'
    assert None in (r[7] for r in rows.values()) and len({r[7] for r in rows.values()}) > 2
    rising = [r[8] > r[5] for r in rows.values() if r[8] is not None and r[5] is not None]
    assert any(rising) and not all(rising)


def test_every_contract_equals_its_report_on_sqlite(small_bridge: Bridge) -> None:
    rows = assert_stored_equals_report(small_bridge)
    _assert_the_demo_has_every_case(rows)


def test_every_contract_equals_its_report_on_postgresql(small_demo: Path, tmp_path, fresh_database) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "data"
    shutil.copytree(small_demo, folder)
    url = fresh_database("postgresql").render_as_string(hide_password=False)
    bridge = Bridge(_settings(folder, cache_url=url))
    full_sync(bridge)
    assert bridge.cache.dialect.name == "postgresql"
    rows = assert_stored_equals_report(bridge)
    _assert_the_demo_has_every_case(rows)
    # and the same figures as the SQLite cache of the same source
    sqlite = Bridge(_settings(small_demo))
    with sqlite.cache.connect() as conn:
        assert stored(conn) == rows
    sqlite.dispose()
    bridge.dispose()


# -- the date moves on ----------------------------------------------------------------------


def _add_invoice_line(bridge: Bridge, contract_no: str, day: dt.date, amount: str, volume: int) -> None:
    """A Meter invoice line in BPO2 (the demo source), dated `day`."""
    metadata = MetaData()
    lines = physical_table(bridge.mapping["invoice_line"], metadata)
    contracts = physical_table(bridge.mapping["contract"], metadata)
    engine = create_engine(f"sqlite:///{bridge.settings.demo_source_path}")
    with engine.begin() as conn:
        contract_id = conn.execute(
            select(contracts.c.contract_id).where(contracts.c.contract_no == contract_no)
        ).scalar_one()
        conn.execute(
            insert(lines).values(
                invoice_line_id=8_000_000,
                contract_id=contract_id,
                invoice_date=day,
                line_type="Meter",
                meter_type="Mono",
                volume=volume,
                amount=Decimal(amount),
                modified_date=bridge.settings.now(),
            )
        )
    engine.dispose()


def test_the_job_after_midnight_moves_the_window(copied_demo) -> None:  # type: ignore[no-untyped-def]
    synced = copied_demo()
    today = synced.today()
    with synced.cache.connect() as conn:
        contract_no = next(no for no, figures in sorted(stored(conn).items()) if figures[4] > 0)
    # billed tomorrow (in advance): not earned today, so not in today's figures
    tomorrow = today + dt.timedelta(days=1)
    _add_invoice_line(synced, contract_no, tomorrow, "1234.56", 5000)
    full_sync(synced)
    before = assert_stored_equals_report(synced)

    # the next day, same month: the line counts once the job ran for the new day
    next_day = Bridge(synced.settings.replace(today=tomorrow.isoformat()))
    with next_day.cache.connect() as conn:
        assert stored(conn) == before, "nothing moves before the job"
        assert reported(conn, contract_no, tomorrow) != before[contract_no]
    derived_rows.recount_now(next_day)
    after = assert_stored_equals_report(next_day)
    assert after[contract_no][0] == before[contract_no][0] + Decimal("1234.56")
    assert after[contract_no][4] == before[contract_no][4] + 5000
    with next_day.cache.connect() as conn:
        assert derived_rows.counts_day(conn) == tomorrow
    next_day.dispose()

    # a new month: the 12-month window and the trend's months move for every contract
    next_month = add_months(today.replace(day=1), 1)
    later = Bridge(synced.settings.replace(today=next_month.isoformat()))
    derived_rows.recount_now(later)
    moved = assert_stored_equals_report(later)
    changed = [no for no in moved if moved[no] != after[no]]
    assert len(changed) > len(moved) // 2, "the window moved a month: most contracts' figures change"
    with later.cache.connect() as conn:
        assert derived_rows.counts_day(conn) == next_month
    later.dispose()


def test_a_sync_on_a_new_day_computes_every_contract_for_it(copied_demo) -> None:  # type: ignore[no-untyped-def]
    """No job ran after midnight: the next sync (here a Refresh of one customer) computes every
    contract's figures for the new day, not only those of the customer it refreshed."""
    from bpo2_bridge.sync import refresh_customer

    synced = copied_demo()
    later = Bridge(synced.settings.replace(today=add_months(synced.today(), 2).isoformat()))
    with later.cache.connect() as conn:
        account = conn.execute(select(cache_table("customer_row").c.account_no).limit(1)).scalar_one()
    refresh_customer(later, account)
    assert_stored_equals_report(later)
    later.dispose()
