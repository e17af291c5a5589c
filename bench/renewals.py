"""The profitability columns and Renewals on the large demo: the issue's performance questions,
measured in-process (the Flask app on a Bridge, through its test client: no HTTP server).

- sorting every contract by margin_12m (/contracts, administrator): first request, p50, p99;
- unprofitable and expiring (/contracts?tab=expiring&f_margin_12m=<20, and the Renewals flag
  /renewals?f_unprofitable=yes), administrator: first request, p50, p99;
- the Renewals page for a salesman (sales1, HTML with its flag counts): p50, p99.
Targets: the first two <= 150 ms at p99, the third <= 50 ms at p50.

`python -m bench renewals` reads the cache the questions bench synced (BPO2_BENCH_QUESTIONS_DATA,
default /tmp/bench-questions; never synced here). It measures a copy of it
(BPO2_BENCH_RENEWALS_DATA, default /tmp/bench-renewals): a snapshot synced before the stored
profitability columns existed gets them there, computed by the job after midnight's own
statement, as a full sync would have stored them.
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import time
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, inspect, text

from bpo2_bridge.bridge import Bridge
from bpo2_bridge.cache.schema import cache_table
from bpo2_bridge.settings import load_settings
from bpo2_bridge.sync import derived as derived_rows

from .sync import TODAY

SOURCE = Path(os.environ.get("BPO2_BENCH_QUESTIONS_DATA", "/tmp/bench-questions"))
WORK = Path(os.environ.get("BPO2_BENCH_RENEWALS_DATA", "/tmp/bench-renewals"))
REPEATS = int(os.environ.get("BPO2_BENCH_REPEATS", "40"))
QUESTIONS = (
    # for comparison: the same grids without the profitability columns in the question
    ("admin", "baseline: every contract by contract_no", "/contracts?tab=all"),
    ("sales1", "baseline: expiring contracts (salesman)", "/contracts?tab=expiring"),
    ("admin", "sort every contract by margin_12m", "/contracts?tab=all&sort=margin_12m"),
    ("admin", "sort every contract by -margin_12m", "/contracts?tab=all&sort=-margin_12m"),
    ("admin", "unprofitable + expiring (Filter Row)", "/contracts?tab=expiring&f_margin_12m=%3C20"),
    (
        "admin",
        "unprofitable + expiring (Create Filter)",
        "/contracts?tab=all&filter=margin_12m%20%3C%2020%20AND%20window%20%3D%20%22expiring%22",
    ),
    ("admin", "Renewals, unprofitable", "/renewals?f_unprofitable=yes"),
    # the grid's own query without the page's tab counts and header drop-downs
    ("admin", "JSON: every contract by margin_12m", "/contracts?tab=all&sort=margin_12m&format=json"),
    ("admin", "JSON: unprofitable + expiring", "/contracts?tab=expiring&f_margin_12m=%3C20&format=json"),
    ("admin", "baseline JSON: expiring contracts", "/contracts?tab=expiring&format=json"),
    ("sales1", "Renewals page (salesman)", "/renewals"),
    ("sales1", "Renewals page 12 months (salesman)", "/renewals?horizon=12"),
    ("sales1", "Home with the Renewals tile (salesman)", "/"),
)


def _settings(folder: Path) -> Any:
    overrides = {"data_dir": str(folder), "today": TODAY.isoformat(), "secret_key": "bench-renewals"}
    return load_settings(None, overrides=overrides, environ={})


def _derive_copy() -> Bridge:
    """WORK as a copy of SOURCE's store and serving snapshot, its contract rows completed."""
    if not (WORK / "store.sqlite").exists():
        original = Bridge(_settings(SOURCE))
        name = original.cache.current()
        original.dispose()
        if name is None:
            raise SystemExit(f"{SOURCE} has no synced cache: run the questions bench first")
        (WORK / "cache").mkdir(parents=True, exist_ok=True)
        print(f"copying {SOURCE} (snapshot {name}) to {WORK}", flush=True)
        shutil.copy2(SOURCE / "cache" / f"{name}.sqlite", WORK / "cache" / f"{name}.sqlite")
        shutil.copy2(SOURCE / "store.sqlite", WORK / "store.sqlite")
        bridge = Bridge(_settings(WORK))
        with bridge.store.begin() as conn:
            bridge.cache.publish(conn, name)
        _complete(WORK / "cache" / f"{name}.sqlite")
        return bridge
    return Bridge(_settings(WORK))


def _complete(path: Path) -> None:
    """The contract row columns (and indexes) the snapshot lacks, computed for TODAY."""
    engine = create_engine(f"sqlite:///{path}")
    table = cache_table("contract_row")
    have = {c["name"] for c in inspect(engine).get_columns("contract_row")}
    began = time.perf_counter()
    with engine.begin() as conn:
        for column in table.columns:
            if column.name not in have:
                kind = column.type.compile(engine.dialect)
                default = " NOT NULL DEFAULT 0" if not column.nullable else ""
                conn.execute(text(f"ALTER TABLE contract_row ADD COLUMN {column.name} {kind}{default}"))
        derived_rows.recount(conn, _settings(WORK), TODAY)
    for index in table.indexes:
        index.create(engine, checkfirst=True)
    with engine.begin() as conn:
        conn.execute(text("ANALYZE contract_row"))
    engine.dispose()
    print(f"columns computed and indexed in {time.perf_counter() - began:.0f} s", flush=True)


def _client(app: Any, login: str) -> Any:
    from bpo2_bridge.store.users import DEMO_PASSWORD

    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token, "no sign-in form"
    client.post("/login", data={"login": login, "password": DEMO_PASSWORD, "csrf_token": token.group(1)})
    return client


def _ms(client: Any, url: str) -> float:
    began = time.perf_counter()
    response = client.get(url)
    seconds = time.perf_counter() - began
    if response.status_code != 200:
        raise SystemExit(f"{url}: {response.status_code}")
    return seconds * 1000


def main() -> None:
    from bpo2_bridge.web.app import create_app

    bridge = _derive_copy()
    app = create_app(bridge=bridge)
    clients = {login: _client(app, login) for login in ("admin", "sales1")}
    with bridge.cache.connect() as conn:
        contracts = conn.execute(text("SELECT COUNT(*) FROM contract_row")).scalar_one()
    print(f"{contracts:,} contracts, in-process, {REPEATS} requests each after the first")
    print(f"{'question':44} {'first':>8} {'p50':>8} {'p99':>8}  (ms)")
    for login, label, url in QUESTIONS:
        first = _ms(clients[login], url)
        times = sorted(_ms(clients[login], url) for _ in range(REPEATS))
        p99 = times[min(len(times) - 1, round(0.99 * (len(times) - 1)))]
        print(f"{label:44} {first:8.1f} {statistics.median(times):8.1f} {p99:8.1f}", flush=True)
    bridge.dispose()


if __name__ == "__main__":
    main()
