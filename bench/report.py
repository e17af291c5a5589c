"""Time the Contract Performance report of a 36-month, 10-machine contract (median of 20).

`python -m bench report`. Targets: HTML view < 50 ms (figures from the cache + the report
markup), PDF < 400 ms (figures + WeasyPrint, rendered afresh each time, not from the PDF cache).

The contract sits in a SQLite cache file (the cache schema with its indexes) among 1,000 other
sample contracts, so every lookup goes through the contract_id indexes as it does on a large cache.
To time an existing cache instead (e.g. the synced large demo): BENCH_REPORT_CACHE_URL=<SQLAlchemy
URL of the snapshot> BENCH_REPORT_CONTRACT=<contract no>.
"""

from __future__ import annotations

import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import create_engine

from bpo2_bridge.cache_schema import cache_metadata
from bpo2_bridge.report import sample
from bpo2_bridge.report.figures import load_report
from bpo2_bridge.report.render import make_pdf, render_body, render_pdf
from bpo2_bridge.settings import load_settings

TODAY = dt.date(2026, 11, 22)
RUNS = 20
TARGET_HTML_MS, TARGET_PDF_MS = 50, 400
CONTRACT_NO = "CPC0036010"
BACKGROUND = 1000


def build_cache(path: Path) -> str:
    url = f"sqlite:///{path}"
    engine = create_engine(url)
    metadata = cache_metadata()
    metadata.create_all(engine)
    start = dt.date(2023, 12, 1)  # 36 months up to November 2026
    specs = [sample.SampleContract(20_000_000, CONTRACT_NO, start, dt.date(2026, 11, 30), machines=10)]
    specs += [
        sample.SampleContract(
            10_000 * (i + 1),
            f"CPC{i + 1:07d}",
            dt.date(2024 + i % 3, 1 + i % 12, 1),
            None,
            machines=1 + i % 3,
        )
        for i in range(BACKGROUND)
    ]
    with engine.begin() as conn:
        sample.insert_rows(conn, metadata.tables, sample.reference_rows())
        for spec in specs:
            sample.insert_rows(conn, metadata.tables, sample.contract_rows(spec, TODAY))
        conn.exec_driver_sql("ANALYZE")
    engine.dispose()
    return url


def median_ms(action: Callable[[], object]) -> tuple[float, float, float]:
    """Median and worst wall-clock milliseconds, and median CPU milliseconds of this process
    (CPU time shows the cost when other work shares the machine's cores)."""
    action()  # warm up: first Pango / font set-up, compiled templates
    times, cpu = [], []
    for _ in range(RUNS):
        started, started_cpu = time.perf_counter(), time.process_time()
        action()
        times.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
    return statistics.median(times), max(times), statistics.median(cpu)


def main() -> None:
    settings = load_settings(None, {"today": TODAY.isoformat()}, environ={})
    with tempfile.TemporaryDirectory(prefix="bpo2-report-bench-") as folder:
        url = os.environ.get("BENCH_REPORT_CACHE_URL") or build_cache(Path(folder) / "cache.sqlite")
        contract_no = os.environ.get("BENCH_REPORT_CONTRACT", CONTRACT_NO)
        engine = create_engine(url)
        with engine.connect() as conn:
            report = load_report(conn, contract_no, TODAY)
            print(
                f"contract {contract_no}: {len(report.months)} months, {len(report.machines)} machines, "
                f"revenue to date {report.to_date.revenue_total}",
                flush=True,
            )

            def figures() -> object:
                return load_report(conn, contract_no, TODAY)

            def html() -> object:
                return render_body(load_report(conn, contract_no, TODAY), settings)

            def pdf() -> object:
                make_pdf.clear()
                return render_pdf(load_report(conn, contract_no, TODAY), settings)

            results = [
                ("figures", figures, None),
                ("html", html, TARGET_HTML_MS),
                ("pdf", pdf, TARGET_PDF_MS),
            ]
            for name, action, target in results:
                median, worst, cpu = median_ms(action)
                verdict = (
                    "" if target is None else (" ok" if median < target else f" OVER the {target} ms target")
                )
                print(
                    f"  {name:8s} median {median:7.1f} ms  max {worst:7.1f} ms  cpu {cpu:7.1f} ms"
                    f"  (n={RUNS}){verdict}",
                    flush=True,
                )
        engine.dispose()


if __name__ == "__main__":
    main()
    sys.exit(0)
