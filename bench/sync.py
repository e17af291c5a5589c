"""Sync figures on a demo source (SQLite -> SQLite): full, incremental (1 % changed), refresh.

`python -m bench sync` uses the large demo under /tmp/bench-data (built there once, then
reused; BPO2_BENCH_DEMO names another source file). The full sync is reported as rows/s and
as a ratio to a baseline measured in the same run: the same rows read with the raw DBAPI
(fetchmany) and written with the raw DBAPI (executemany, one transaction). Targets: ratio
>= 0.5, peak RSS < 250 MB, incremental <= 10 % of the full sync, refresh median < 300 ms.
The incremental is measured twice: 1 % of every entity's rows changed in a column each (mostly
ones no grid row reads), and the same rows changed in columns the derived rows read (contract
and account numbers, invoice line types), which the sync must derive again.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.schema import CreateTable

from bpo2_bridge.bridge import Bridge
from bpo2_bridge.cache.schema import CACHE
from bpo2_bridge.demo.content import BENCH_CUSTOMER_ACCOUNT
from bpo2_bridge.settings import load_settings
from bpo2_bridge.source.reflection import offline_schema
from bpo2_bridge.sync import full_sync, incremental_sync, refresh_customer
from bpo2_bridge.sync.plan import build_plans
from bpo2_bridge.sync.touched import columns_read

DEMO = Path(os.environ.get("BPO2_BENCH_DEMO", "/tmp/bench-data/bpo2-demo.sqlite"))
TODAY = dt.date(2026, 11, 22)


def peak_rss_mb() -> float | None:
    try:
        import resource
    except ImportError:  # Windows
        return None
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def ensure_demo(size: str = "large") -> Path:
    if DEMO.exists():
        return DEMO
    from bpo2_bridge.demo.generate import build_demo_file
    from bpo2_bridge.settings import package_config_dir
    from bpo2_bridge.source.mapping import load_mapping

    print(f"building the {size} demo at {DEMO} (once)", flush=True)
    mapping = load_mapping(package_config_dir() / "mapping.toml")
    build_demo_file(DEMO, size=size, seed=1, today=TODAY, mapping=mapping, share_root=DEMO.parent / "share")
    return DEMO


def baseline(source: Path, target: Path, batch: int) -> tuple[int, float]:
    """The same rows moved with nothing but the DBAPI: fetchmany in, executemany out."""
    settings = load_settings(None, overrides={"source_url": f"sqlite:///{source}"}, environ={})
    bridge = Bridge(settings)
    dialect = sqlite_dialect.dialect()
    plans = build_plans(offline_schema(bridge.mapping), dialect)
    src = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)
    dst = sqlite3.connect(target, isolation_level=None)
    dst.execute("PRAGMA journal_mode=OFF")
    dst.execute("PRAGMA synchronous=OFF")
    for table in CACHE.sorted_tables:
        dst.execute(str(CreateTable(table).compile(dialect=dialect)))
    rows = 0
    began = time.perf_counter()
    dst.execute("BEGIN")
    for plan in plans:
        select = str(plan.select_rows().compile(dialect=dialect))
        cursor = src.execute(select)
        insert = plan.insert_sql()
        while True:
            part = cursor.fetchmany(batch)
            if not part:
                break
            dst.executemany(insert, part)
            rows += len(part)
    dst.execute("COMMIT")
    seconds = time.perf_counter() - began
    src.close()
    dst.close()
    bridge.dispose()
    return rows, seconds


INCREMENTAL_ROUNDS = 3


def change_one_percent(path: Path, bridge: Bridge, derived: bool = False) -> int:
    """Touch every 100th row of every entity in the (copied) source, as BPO2 would: a text
    column (else a number) of each; ``derived``: a column the derived rows read where the
    entity has one (contract numbers, account numbers, invoice line types and volumes), so the
    sync has grid rows and profitability to derive again, not only entity rows to apply."""
    reads = columns_read()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    changed = 0
    for em in bridge.mapping:
        pk = em.physical(em.entity.pk[0])
        values = [
            c for c in em.entity.cached_columns if not c.pk and not c.name.endswith("_id") and em.has(c.name)
        ]
        texts = [c for c in values if "String" in type(c.type).__name__]
        numbers = [c for c in values if "Integer" in type(c.type).__name__]
        read = [c for c in texts + numbers if c.name in reads.get(em.entity.name, ())]
        if derived and read:
            texts, numbers = [c for c in read if c in texts][:1], [c for c in read if c in numbers][:1]
        if texts:
            col = em.physical(texts[-1].name)
            sets = [f"\"{col}\" = COALESCE(\"{col}\", '') || '*'"]
        elif numbers:
            col = em.physical(numbers[-1].name)
            sets = [f'"{col}" = "{col}" + 1']
        else:
            continue
        if em.change_column:
            # as BPO2 does: the change value moves past every existing one
            top = conn.execute(f'SELECT MAX("{em.change_column}") FROM "{em.table}"').fetchone()[0]
            sets.append(
                f"\"{em.change_column}\" = strftime('%Y-%m-%d %H:%M:%f000', '{top[:19]}', '+1 second')"
            )
        cur = conn.execute(f'UPDATE "{em.table}" SET {", ".join(sets)} WHERE "{pk}" % 100 = 7')
        changed += cur.rowcount
    conn.execute("COMMIT")
    conn.close()
    return changed


def main() -> None:
    source = ensure_demo()
    batch = 5000
    with tempfile.TemporaryDirectory(prefix="bpo2-bench-sync-") as folder:
        work = Path(folder)
        copy = work / "bpo2.sqlite"
        shutil.copyfile(source, copy)
        settings = load_settings(
            None,
            overrides={
                "data_dir": str(work / "data"),
                "source_url": f"sqlite:///{copy}",
                "today": TODAY.isoformat(),
                "sync_batch_size": batch,
            },
            environ={},
        )
        bridge = Bridge(settings)

        full = full_sync(bridge)
        rss = peak_rss_mb()
        total = sum(full.rows.values())
        full_rate = total / full.seconds

        base_rows, base_seconds = baseline(copy, work / "baseline.sqlite", batch)
        base_rate = base_rows / base_seconds

        # three rounds, each changing 1 % anew: one incremental alone is at the mercy of the machine
        rounds = []
        for _ in range(INCREMENTAL_ROUNDS):
            changed = change_one_percent(copy, bridge)
            rounds.append(incremental_sync(bridge))
        incremental = sorted(rounds, key=lambda r: r.seconds)[len(rounds) // 2]
        applied = sum(c["changed"] + c["added"] + c["removed"] for c in incremental.changes.values())
        # the same share of rows, changed in columns the grid rows and profitability read
        derived_rounds = []
        for _ in range(INCREMENTAL_ROUNDS):
            change_one_percent(copy, bridge, derived=True)
            derived_rounds.append(incremental_sync(bridge))
        derived = sorted(derived_rounds, key=lambda r: r.seconds)[len(derived_rounds) // 2]

        timings = []
        for _ in range(15):
            began = time.perf_counter()
            refresh_customer(bridge, BENCH_CUSTOMER_ACCOUNT)
            timings.append((time.perf_counter() - began) * 1000)
        bridge.dispose()

    print(f"source: {source} ({total:,} rows)")
    print(f"full sync:        {full.seconds:8.1f} s  {full_rate:>10,.0f} rows/s")
    print(f"baseline (DBAPI): {base_seconds:8.1f} s  {base_rate:>10,.0f} rows/s")
    print(f"ratio:            {full_rate / base_rate:8.2f}   (target >= 0.5)")
    print(f"peak RSS:         {rss:8.0f} MB (target < 250)" if rss else "peak RSS: n/a")
    print(
        f"incremental:      {incremental.seconds:8.1f} s  {changed:,} rows changed, {applied:,} applied, "
        f"{incremental.seconds / full.seconds:.1%} of full (target <= 10 %), median of "
        + ", ".join(f"{r.seconds:.1f}" for r in rounds)
        + " s"
    )
    print(
        f"incr. (derived):  {derived.seconds:8.1f} s  the same rows changed in columns derived rows read, "
        f"{derived.seconds / full.seconds:.1%} of full, median of "
        + ", ".join(f"{r.seconds:.1f}" for r in derived_rounds)
        + " s"
    )
    print(
        f"refresh {BENCH_CUSTOMER_ACCOUNT}:  median {statistics.median(timings):6.0f} ms, "
        f"min {min(timings):.0f}, max {max(timings):.0f} (target median < 300 ms)"
    )
    for name, seconds in sorted(full.seconds_per_entity.items(), key=lambda kv: -kv[1])[:6]:
        print(f"  full {name:<18} {full.rows[name]:>12,} rows {seconds:7.1f} s")
    for name, seconds in sorted(incremental.seconds_per_entity.items(), key=lambda kv: -kv[1])[:6]:
        print(f"  incr {name:<18} {incremental.changes[name]} {seconds:7.1f} s")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
