"""The stored last-12-months profitability on the large demo: what it adds to a full sync, and
the job after local midnight that computes it again for the new day.

`python -m bench profitability` full-syncs the large demo (BPO2_BENCH_DEMO names another
source file; the source is only read) into a temporary cache, prints the full sync's time, then
times the job after midnight twice: for the next day (the same
month: few figures change) and for the first day of the next month (the 12-month window moves:
every contract's figures are computed again), and for 13 months later (every contract with
billing in its window changes: the most the job ever writes). Targets: the job <= 60 s for 1 M contracts; a
full sync grows by <= 15 % (compare with the same run on the commit before the columns).
"""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from pathlib import Path

from sqlalchemy import text

from bpo2_bridge.bridge import Bridge
from bpo2_bridge.queries.windows import add_months
from bpo2_bridge.settings import load_settings
from bpo2_bridge.sync import derived as derived_rows
from bpo2_bridge.sync import full_sync

from .sync import TODAY, ensure_demo


def _settings(folder: Path, source: Path, today: dt.date):  # type: ignore[no-untyped-def]
    overrides = {"data_dir": str(folder), "source_url": f"sqlite:///{source}", "today": today.isoformat()}
    return load_settings(None, overrides=overrides, environ={})


def _job(folder: Path, source: Path, today: dt.date) -> float:
    bridge = Bridge(_settings(folder, source, today))
    began = time.perf_counter()
    derived_rows.recount_now(bridge)
    seconds = time.perf_counter() - began
    bridge.dispose()
    return seconds


def main() -> None:
    source = ensure_demo()  # builds the large demo once when missing
    with tempfile.TemporaryDirectory(prefix="bpo2-bench-profit-") as work:
        folder = Path(work) / "data"
        bridge = Bridge(_settings(folder, source, TODAY))
        full = full_sync(bridge)
        with bridge.cache.connect() as conn:
            contracts = conn.execute(text("SELECT COUNT(*) FROM contract_row")).scalar_one()
            with_revenue = conn.execute(text("SELECT COUNT(margin_12m) FROM contract_row")).scalar_one()
        bridge.dispose()
        next_day = _job(folder, source, TODAY + dt.timedelta(days=1))
        next_month = _job(folder, source, add_months(TODAY.replace(day=1), 1))
        next_year = _job(folder, source, add_months(TODAY, 13))
    print(f"source: {source} ({contracts:,} contracts, {with_revenue:,} with revenue in the last 12 months)")
    print(f"full sync:            {full.seconds:8.1f} s")
    print(f"job, next day:        {next_day:8.1f} s")
    print(f"job, next month:      {next_month:8.1f} s")
    print(
        f"job, 13 months later: {next_year:8.1f} s  (every figure changes: "
        f"{next_year * 1e6 / contracts:.1f} s per 1 M contracts, target <= 60)"
    )


if __name__ == "__main__":
    main()
