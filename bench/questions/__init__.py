"""The grids under rotating distinct questions: the bridge, a bare endpoint and Datasette in one run.

`python -m bench questions` asks each workload's questions (see `catalog`) of three servers on
127.0.0.1, each its own process (see `servers`): the bridge signed in as admin or sales1, a bare
endpoint running one query per request, and Datasette, the last two on one snapshot file. No URL
is asked twice in a run: a warmed, repeated URL measures a cache, not the product. Per workload
and server: the first COLD questions one by one (median and p99 of first answers), then the
rest under load with wrk, 8 keep-alive connections for BPO2_BENCH_SECONDS (see `driver`).

Data, reused when present:
- BPO2_BENCH_DEMO: the large demo source (default /tmp/bench-data/bpo2-demo.sqlite; built once,
  about 3 min, when a cache has to be synced);
- BPO2_BENCH_WEB: the bridge's data folder (default /tmp/bench-questions), synced from the demo
  once (about 75 s) by the bridge under test, which also adds the demo users;
- BPO2_BENCH_BRIDGE: the `bpo2-bridge` executable to measure (default: this venv's), e.g. an older
  checkout's with its own BPO2_BENCH_WEB;
- BPO2_BENCH_SNAPSHOT: the snapshot file the bare endpoint and Datasette read, and the questions
  are drawn from (default: the newest in BPO2_BENCH_WEB/cache; it must have the derived tables);
- BPO2_BENCH_CACHE_URL: a PostgreSQL database for the bridge's cache (synced there once), e.g.
  postgresql+psycopg://postgres@127.0.0.1:5432/bpo2_bench_questions (create it first), with
  BPO2_BENCH_SNAPSHOT naming a SQLite snapshot of the same demo for the other two.
BPO2_BENCH_COLD (300) questions are asked cold, BPO2_BENCH_QUESTIONS (12000) drawn per workload;
BPO2_BENCH_ONLY=a,c runs only those workloads; BPO2_BENCH_BARE=0 leaves the bare endpoint out (it
walks a whole table for a rare contract number: minutes per workload); BPO2_BENCH_PROCESSES=2
runs the bridge as two web processes (see `servers`), the load shared over them; cold questions
go to the first. Server logs stay in a folder the run names.

Targets (the issue): the bridge >= 2x the requests/s of Datasette's table pages
(`_nocount=1&_nofacet=1`) on one customer's lists (a, b), filtered and sorted lists (c) and contract-number search (e,
e-filter: the same trigram index through `_search`); >= 1x Datasette's SQL endpoint on the search
box (d); every grid question cold in p50 <= 25 ms and p99 <= 150 ms. e-sql puts e's questions to
the SQL endpoint too, for reference (no target).
"""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
from pathlib import Path

from bench.questions.catalog import Snapshot, Workload, workloads
from bench.questions.driver import CONNECTIONS, SECONDS, cold, load
from bench.questions.servers import (
    BRIDGE,
    Server,
    prepare_bridge,
    sign_in,
    snapshot_file,
    start_bare,
    start_bridge,
    start_datasette,
)

DATA = Path(os.environ.get("BPO2_BENCH_WEB", "/tmp/bench-questions"))
COLD = int(os.environ.get("BPO2_BENCH_COLD", "300"))
PROCESSES = int(os.environ.get("BPO2_BENCH_PROCESSES", "1"))
QUESTIONS = int(os.environ.get("BPO2_BENCH_QUESTIONS", "12000"))
BARE = os.environ.get("BPO2_BENCH_BARE", "1") != "0"
RATIO_TARGETS = {"a": 2.0, "b": 2.0, "c": 2.0, "d": 1.0, "e": 2.0, "e-filter": 2.0}
COLD_P50_MS, COLD_P99_MS = 25.0, 150.0
TARGETS = ("bridge", "bare", "datasette")
IDLE = {"bridge": "/healthz", "bare": "/healthz", "datasette": "/-/versions.json"}


def main() -> None:
    prepare_bridge(DATA)
    snapshot = snapshot_file(DATA)
    if not _has_derived_rows(snapshot):
        raise SystemExit(f"{snapshot} has no contract_row: name a new snapshot in BPO2_BENCH_SNAPSHOT")
    snap = Snapshot.read(snapshot)
    only = [w for w in os.environ.get("BPO2_BENCH_ONLY", "").split(",") if w]
    work = [w for w in workloads(snap, QUESTIONS) if not only or w.key in only]
    for path in {snapshot, *sorted((DATA / "cache").glob("cache-*.sqlite"))[-1:]}:
        _read_through(path)  # every server starts with the files in the OS page cache
    logs = Path(tempfile.mkdtemp(prefix="bpo2-bench-questions-"))
    print(
        f"bridge {BRIDGE} ({PROCESSES} process{'es' if PROCESSES > 1 else ''}) on {DATA}; bare and Datasette on {snapshot}; {CONNECTIONS} connections,"
        f" {SECONDS:g} s per load; {COLD} cold questions; logs in {logs}; {_machine()}",
        flush=True,
    )
    servers: dict[str, list[Server]] = {}
    try:
        servers["bridge"] = start_bridge(DATA, logs, PROCESSES)
        if BARE:
            servers["bare"] = [start_bare(snapshot, logs)]
        servers["datasette"] = [start_datasette(snapshot, logs)]
        # one session for all the bridge's processes: they share the store and the signing key
        cookies = {login: sign_in(servers["bridge"][0].port, login) for login in ("admin", "sales1")}
        results = []
        for w in work:
            results.append(_measure(w, servers, cookies))
            _progress(results[-1])
    finally:
        for server in (s for started in servers.values() for s in started):
            server.stop()
    print()
    print(table(results))
    print(
        json.dumps({"bridge": str(BRIDGE), "data": str(DATA), "snapshot": str(snapshot), "results": results})
    )


def _measure(w: Workload, servers: dict[str, list[Server]], cookies: dict[str, str]) -> dict[str, object]:
    row: dict[str, object] = {
        "workload": w.key,
        "title": w.title,
        "login": w.login,
        "questions": len(w.questions),
    }
    for name in TARGETS:
        paths = [getattr(q, name) for q in w.questions]
        if name not in servers or any(p is None for p in paths):
            continue
        cookie = cookies[w.login] if name == "bridge" else ""
        ports = [s.port for s in servers[name]]
        row[name] = {
            "cold": cold(ports[0], paths[:COLD], cookie),
            "load": load(ports, paths[COLD:], cookie, IDLE[name]),
        }
    return row


def _progress(row: dict[str, object]) -> None:
    parts = []
    for name in TARGETS:
        if name in row:
            c, ld = row[name]["cold"], row[name]["load"]
            parts.append(
                f"{name} {ld['rps']:.1f} req/s p50 {ld['p50_ms']:.1f} p99 {ld['p99_ms']:.1f}"
                f" err {ld['errors'] + c['errors']} cold {c['p50_ms']:.1f}/{c['p99_ms']:.1f} ms"
                + (" (list ran out)" if ld["exhausted"] else "")
            )
    print(f"{row['workload']:<8} " + " | ".join(parts), flush=True)


def table(results: list[dict[str, object]]) -> str:
    head = (
        f"{'workload':<40} {'bridge req/s':>12} {'cold p50/p99 ms':>16} {'bare req/s':>10}"
        f" {'Datasette req/s':>15} {'bridge/DS':>9}  {'target':<8} {'cold target':<11} notes"
    )
    lines = [head, "-" * len(head)]
    for row in results:
        bridge = row["bridge"]
        bare, ds = row.get("bare"), row.get("datasette")
        ratio = bridge["load"]["rps"] / ds["load"]["rps"] if ds and ds["load"]["rps"] else None
        wanted = RATIO_TARGETS.get(row["workload"])
        target = (
            "-"
            if wanted is None or ratio is None
            else f">={wanted:g} " + ("ok" if ratio >= wanted else "MISS")
        )
        c = bridge["cold"]
        cold_ok = c["p50_ms"] <= COLD_P50_MS and c["p99_ms"] <= COLD_P99_MS
        notes = []
        for name in TARGETS:
            if name in row:
                run = row[name]
                errors = run["cold"]["errors"] + run["load"]["errors"]
                if errors:
                    notes.append(f"{name} {errors} errors")
                if run["load"]["exhausted"]:
                    notes.append(
                        f"{name} asked all {run['load']['answered']} in {run['load']['seconds']:.1f} s"
                    )
        lines.append(
            f"{row['workload'] + ' ' + str(row['title']):<40} {bridge['load']['rps']:>12.1f}"
            f" {c['p50_ms']:>7.1f} / {c['p99_ms']:<6.1f}"
            f" {_rps(bare):>10} {_rps(ds):>15} {'-' if ratio is None else f'{ratio:.2f}':>9}"
            f"  {target:<8} {'ok' if cold_ok else 'MISS':<11} {'; '.join(notes)}"
        )
    return "\n".join(lines)


def _rps(run: object) -> str:
    return "-" if not run else f"{run['load']['rps']:.1f}"


def _machine() -> str:
    return f"{os.cpu_count()} CPUs, load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def _has_derived_rows(path: Path) -> bool:
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'contract_row'").fetchone() is not None
    finally:
        conn.close()


def _read_through(path: Path) -> None:
    with path.open("rb") as f:
        while f.read(8 << 20):
            pass
