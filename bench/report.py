"""Time the Contract Performance report of a 36-month, 10-machine contract (median of 20).

`python -m bench report`. Targets: the HTML view < 50 ms, the PDF < 400 ms.

Set-up: the tiny demo BPO2 (SQLite) plus one sample contract of 36 months and 10 machines,
fully synced into the cache; the administrator is signed in. Timed through the app (a Flask
test client, so the whole request: sign-in check, figures from the cache, page and report
markup): GET /contracts/<no>/report and GET /contracts/<no>/report.pdf (the PDF cache cleared
before each request, so every PDF is rendered afresh). The library calls are timed too.
CPU time is shown beside wall time: on a machine whose cores are shared, wall time includes
waiting for a core.
"""

from __future__ import annotations

import datetime as dt
import re
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import create_engine

from bpo2_bridge.bridge import Bridge
from bpo2_bridge.demo.generate import build_demo_file
from bpo2_bridge.report import sample
from bpo2_bridge.report.figures import load_report
from bpo2_bridge.settings import load_settings
from bpo2_bridge.store.users import DEMO_PASSWORD, create_demo_users
from bpo2_bridge.sync.full import full_sync

TODAY = dt.date(2026, 11, 22)
RUNS = 20
TARGET_HTML_MS, TARGET_PDF_MS = 50, 400
CONTRACT_NO = "CPC0036010"
ADMIN = "admin"


def prepare(folder: Path) -> Bridge:
    """Tiny demo source + the 36-month, 10-machine contract, synced; demo users created."""
    settings = load_settings(
        None, {"data_dir": str(folder), "today": TODAY.isoformat(), "secret_key": "bench"}, environ={}
    )
    bridge = Bridge(settings)
    build_demo_file(
        settings.demo_source_path,
        size="tiny",
        today=TODAY,
        mapping=bridge.mapping,
        share_root=settings.share_path,
    )
    metadata = bridge.mapping.physical_metadata()
    tables = {em.name: metadata.tables[em.qualified_table] for em in bridge.mapping}
    spec = sample.SampleContract(
        900_000, CONTRACT_NO, dt.date(2023, 12, 1), dt.date(2026, 11, 30), machines=10
    )
    rows = sample.contract_rows(spec, TODAY)
    for row in rows["contract"]:
        row["contract_type_id"] = 1
    writable = create_engine(f"sqlite:///{settings.demo_source_path}")
    with writable.begin() as conn:
        sample.insert_rows(conn, tables, rows)
    writable.dispose()
    full_sync(bridge)
    create_demo_users(bridge.store)
    return bridge


def timed(action: Callable[[], object]) -> tuple[float, float, float]:
    """Median and worst wall-clock milliseconds, and median CPU milliseconds of this process."""
    action()  # warm up: first Pango / font set-up, compiled templates
    wall, cpu = [], []
    for _ in range(RUNS):
        started, started_cpu = time.perf_counter(), time.process_time()
        action()
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
    return statistics.median(wall), max(wall), statistics.median(cpu)


def report_line(name: str, action: Callable[[], object], target: int | None) -> None:
    median, worst, cpu = timed(action)
    verdict = "" if target is None else (" ok" if median < target else f" OVER the {target} ms target")
    print(
        f"  {name:12s} median {median:7.1f} ms  max {worst:7.1f} ms  cpu {cpu:7.1f} ms  (n={RUNS}){verdict}",
        flush=True,
    )


def main() -> None:
    from bpo2_bridge.web.app import create_app

    with tempfile.TemporaryDirectory(prefix="bpo2-report-bench-") as folder:
        bridge = prepare(Path(folder) / "data")
        client = create_app(bridge=bridge).test_client()
        login_page = client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', login_page)
        assert token, "no CSRF token on the sign-in page"
        client.post("/login", data={"login": ADMIN, "password": DEMO_PASSWORD, "csrf_token": token.group(1)})

        with bridge.cache.connect() as conn:
            report = load_report(conn, CONTRACT_NO, TODAY)
        print(
            f"contract {CONTRACT_NO}: {len(report.months)} months, {len(report.machines)} machines, "
            f"revenue to date {report.to_date.revenue_total}",
            flush=True,
        )

        def page() -> object:
            response = client.get(f"/contracts/{CONTRACT_NO}/report")
            assert response.status_code == 200, response.status_code
            return response

        def pdf_page() -> object:
            bridge.reports.pdf.clear()
            response = client.get(f"/contracts/{CONTRACT_NO}/report.pdf")
            assert response.status_code == 200, response.status_code
            return response

        def figures() -> object:
            with bridge.cache.connect() as conn:
                return load_report(conn, CONTRACT_NO, TODAY)

        def body() -> object:
            return bridge.reports.body(report)

        def pdf_only() -> object:
            bridge.reports.pdf.clear()
            return bridge.reports.pdf_bytes(report)

        print("through the app:", flush=True)
        report_line("HTML view", page, TARGET_HTML_MS)
        report_line("PDF", pdf_page, TARGET_PDF_MS)
        print("library calls:", flush=True)
        report_line("figures", figures, None)
        report_line("markup", body, None)
        report_line("PDF render", pdf_only, None)
        bridge.dispose()


if __name__ == "__main__":
    main()
