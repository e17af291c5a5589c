"""Time the large demo build (SQLite file): seconds, rows per entity, file size.

`python -m bench demo_large` (about 5 minutes on 2 cores; the build must stay under 10).
"""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

from bpo2_bridge.demo.content import PROFILES
from bpo2_bridge.demo.generate import build_demo_file
from bpo2_bridge.settings import package_config_dir
from bpo2_bridge.source.mapping import load_mapping

BUDGET_SECONDS = 600


def main(size: str = "large") -> None:
    mapping = load_mapping(package_config_dir() / "mapping.toml")
    with tempfile.TemporaryDirectory(prefix="bpo2-demo-bench-") as folder:
        path = Path(folder) / "bpo2-demo.sqlite"
        last = [time.monotonic()]

        def progress(entity: str, rows: int) -> None:
            now = time.monotonic()
            if now - last[0] >= 15:
                print(f"  {entity}: {rows:,} rows", flush=True)
                last[0] = now

        summary = build_demo_file(
            path,
            size=size,
            seed=1,
            today=dt.date(2026, 11, 22),
            mapping=mapping,
            share_root=Path(folder) / "share",
            progress=progress,
        )
        megabytes = path.stat().st_size / 1e6
    cpu = time.process_time()
    for entity, count in summary.counts.items():
        print(f"  {entity:<18} {count:>12,}")
    verdict = "ok" if summary.seconds < BUDGET_SECONDS else f"OVER the {BUDGET_SECONDS}s budget"
    rows = sum(summary.counts.values())
    print(
        f"demo {size}: {rows:,} rows in {summary.seconds:.0f}s ({cpu:.0f}s CPU), {megabytes:,.0f} MB ({verdict})"
    )
    print(f"  customers {PROFILES[size].customers:,} planned, {summary.counts['customer']:,} built")


if __name__ == "__main__":
    main(*sys.argv[1:])
