"""Mixed intranet load on the large demo, with a full sync running during it.

`python -m bench load` (or `python -m bench.load --users 50 --seconds 60 --cache sqlite`) starts
`bpo2-bridge serve --no-scheduler` on 127.0.0.1 (with the allocator setting of the shipped web
unit) against the large demo cache (SQLite under
BPO2_BENCH_WEB, default /tmp/bench-web, synced on first use; PostgreSQL: a database on the
local server, data under /tmp/bench-web-pg), signs in USERS simulated users (mostly salesmen,
every fifth an administrator), and has each one loop: think, then one action drawn from the mix
below — grids, filters, tab switches, dashboards, report views, PDF downloads, file downloads,
Refresh presses. A few seconds in, `bpo2-bridge sync --full` runs in its own process, as the
scheduler would (at the niceness of the shipped scheduler unit, `--sync-nice`); the load goes on
until the new snapshot serves and the old one's memory is given back (at least SECONDS).
`--servers 2` starts two web processes on the same cache and spreads the users over them, as the
deployment guide's topology does.

Figures: requests/s, errors, p50/p95/p99 per kind and per phase (before / during the sync /
after the switch), the longest stretch without a successful response, whether any reader saw
the old data after the new had been served, and the server's RSS after warm-up and at the end.
Targets: zero errors, grid p99 < 300 ms, RSS growth < 10 %, the sync ok with no gap.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

from bench.load_client import GRID_KINDS, TARGET_P99_MS, Catalog, Recorder, Session, discover, sign_in
from bench.load_server import CLI, RSS_PARTS, SECRET, Server, prepare, scheduler_nice

TARGET_RSS_GROWTH = 0.10
# load after the sync ends: the first requests on the new snapshot are part of the measure
AFTER_SYNC_SECONDS = 15
# weights of the mix: what an intranet day looks like, grids first
MIX = {"grid": 25, "filter": 20, "tab": 15, "page": 10, "report": 10, "pdf": 4, "file": 8, "refresh": 5}


# -- the users ----------------------------------------------------------------------------


def user_loop(
    session: Session, catalog: Catalog, recorder: Recorder, stop: threading.Event, think: tuple[float, float]
) -> None:
    rng = random.Random(session.seed)
    kinds, weights = list(MIX), list(MIX.values())
    while not stop.is_set():
        if stop.wait(rng.uniform(*think)):
            break
        action = catalog.action(rng.choices(kinds, weights)[0], rng)
        session.perform(action, recorder)


def run(
    cache: str,
    users: int,
    seconds: float,
    warmup: float,
    think: tuple[float, float],
    sync_at: float,
    admin_every: int = 5,
    sync_nice: int = 0,
    servers: int = 1,
    web_threads: int | None = None,
) -> dict[str, object]:
    config = prepare(cache, web_threads)
    web: list[Server] = []
    sync_proc: subprocess.Popen[bytes] | None = None
    try:
        web += [Server(config, n) for n in range(servers)]
        logins = [
            "admin" if admin_every and i % admin_every == 0 else ("sales1" if i % 2 else "sales2")
            for i in range(users)
        ]
        # each user stays on one process, as behind a load balancer with sticky sessions
        sessions = [sign_in(web[i % servers].port, login, seed=i) for i, login in enumerate(logins)]
        catalogs = {login: discover(next(s for s in sessions if s.login == login)) for login in set(logins)}
        for login, catalog in sorted(catalogs.items()):
            print(f"  {login}: {catalog.summary()}", flush=True)

        recorder = Recorder()
        stop = threading.Event()
        threads = [
            threading.Thread(
                target=user_loop, args=(s, catalogs[s.login], recorder, stop, think), daemon=True
            )
            for s in sessions
        ]
        for t in threads:
            t.start()
        time.sleep(warmup)
        recorder.start()
        rss = [[server.memory_mb() for server in web]]
        began = time.monotonic()
        sync_started = sync_ended = None
        sync_output = b""
        max_seconds = seconds + 900  # the sync may outlast SECONDS: wait for its switch, bounded
        while True:
            time.sleep(1.0)
            elapsed = time.monotonic() - began
            rss.append([server.memory_mb() for server in web])
            if sync_proc is None and 0 <= sync_at <= elapsed:
                env = {**os.environ, "BPO2_BRIDGE_SECRET_KEY": SECRET}
                sync_proc = subprocess.Popen(
                    [*CLI, "--config", str(config), "sync", "--full", "--format", "json"],
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    preexec_fn=(lambda: os.nice(sync_nice)) if sync_nice else None,
                )
                sync_started = time.monotonic() - began
            if sync_proc is not None and sync_ended is None and sync_proc.poll() is not None:
                sync_ended = time.monotonic() - began
                sync_output = sync_proc.stdout.read() if sync_proc.stdout else b""
            waiting = sync_at >= 0 and sync_ended is None
            done = not waiting and elapsed >= max(seconds, (sync_ended or 0) + AFTER_SYNC_SECONDS)
            if done or elapsed >= max_seconds:
                break
        stop.set()
        for t in threads:
            t.join(timeout=90)
        total = time.monotonic() - began
        # the process that grew most speaks for all
        worst = max(range(servers), key=lambda n: rss[-1][n]["VmRSS"] / rss[0][n]["VmRSS"])
        mine = [sample[worst]["VmRSS"] for sample in rss]
        parts = {part: (rss[0][worst][part], rss[-1][worst][part]) for part in RSS_PARTS[1:]}
        return {
            "cache": cache,
            "users": users,
            "servers": servers,
            "seconds": total,
            "think": think,
            "stats": recorder.summary(total, sync_started, sync_ended),
            "rss_start_mb": mine[0],
            "rss_end_mb": mine[-1],
            "rss_max_mb": max(mine),
            "rss_every_10s_mb": [round(x) for x in mine[::10]],
            "rss_parts_mb": parts,
            "sync": {
                "nice": sync_nice,
                "started_at": sync_started,
                "ended_at": sync_ended,
                "exit": sync_proc.returncode if sync_proc is not None else None,
                "output": sync_output.decode(errors="replace")[-600:],
            },
            "server_log": ", ".join(str(server.log_path) for server in web),
            "server_errors_logged": sum(_server_errors(server.log_path) for server in web),
        }
    finally:
        if sync_proc is not None and sync_proc.poll() is None:
            sync_proc.terminate()
            sync_proc.wait(timeout=30)
        for server in web:
            server.stop()


def _server_errors(log: Path) -> int:
    """Requests the server itself logged with a 5xx status, and error-level log lines."""
    count = 0
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            if record.get("level") in ("error", "critical") or int(record.get("status") or 0) >= 500:
                count += 1
    return count


# -- the report ---------------------------------------------------------------------------


def report(result: dict[str, object]) -> bool:
    stats: dict = result["stats"]  # type: ignore[assignment]
    sync: dict = result["sync"]  # type: ignore[assignment]
    print(
        f"{result['cache']}: {result['users']} users on {result['servers']} web process(es), {result['seconds']:.0f} s, think "
        f"{result['think'][0]}-{result['think'][1]} s: {stats['requests']:,} requests, "  # type: ignore[index]
        f"{stats['rps']:.1f} req/s, {stats['errors']} errors"
    )
    print(
        f"  {'kind':<10} {'count':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8} {'errors':>6}"
    )
    for kind, row in stats["kinds"].items():
        print(
            f"  {kind:<10} {row['count']:>7} {row['p50']:>8.0f} {row['p95']:>8.0f} {row['p99']:>8.0f}"
            f" {row['max']:>8.0f} {row['errors']:>6}"
        )
    for phase, row in stats["phases"].items():
        print(
            f"  grid pages {phase:<14} {row['count']:>6} requests p99 {row['p99']:6.0f} ms, {row['errors']} errors"
        )
    print("  slowest routes (p99): " + "; ".join(f"{r} {ms:.0f} ms" for r, ms in stats["slowest"]))
    over = stats["grids_over_target"]
    print(
        f"  grid requests at or over {TARGET_P99_MS:.0f} ms: {sum(n for _, n in over)} of "
        f"{stats['kinds']['all grids']['count']}: " + "; ".join(f"{r} {n}" for r, n in over)
    )
    for sample in stats["error_samples"]:
        print(f"  error: {sample}")
    growth = result["rss_end_mb"] / result["rss_start_mb"] - 1  # type: ignore[operator]
    print(
        f"  server RSS (the process that grew most) {result['rss_start_mb']:.0f} MB after warm-up -> {result['rss_end_mb']:.0f} MB at the end"
        f" (max {result['rss_max_mb']:.0f} MB, growth {growth:+.1%}, target < {TARGET_RSS_GROWTH:.0%});"
        f" every 10 s: {result['rss_every_10s_mb']}"
    )
    print(
        "  of which "
        + ", ".join(f"{part} {a:.0f} -> {b:.0f} MB" for part, (a, b) in result["rss_parts_mb"].items())  # type: ignore[attr-defined]
    )
    ok_sync = sync["exit"] == 0
    if sync["started_at"] is not None:
        print(
            f"  full sync during load (nice {sync['nice']}): exit {sync['exit']}, from {sync['started_at']:.0f} s to "
            f"{(sync['ended_at'] or float('nan')):.0f} s; longest stretch without a successful response "
            f"{stats['longest_gap_ms']:.0f} ms (at {stats['longest_gap_at']:.0f} s); as_of switched {stats['as_of_switches']}x, "
            f"{stats['stale_after_switch']} responses with old data after the new had been served"
        )
    if sync["started_at"] is not None and not ok_sync:
        print("  sync output: " + sync["output"].replace("\n", " | "))
    grid_p99 = max((stats["kinds"][k]["p99"] for k in GRID_KINDS if k in stats["kinds"]), default=0.0)
    verdicts = {
        "zero errors": stats["errors"] == 0 and result["server_errors_logged"] == 0,
        f"grid p99 < {TARGET_P99_MS:.0f} ms ({grid_p99:.0f})": grid_p99 < TARGET_P99_MS,
        f"RSS growth < {TARGET_RSS_GROWTH:.0%}": growth < TARGET_RSS_GROWTH,
        "sync ok, no gap": (ok_sync or sync["started_at"] is None)
        and stats["stale_after_switch"] == 0
        and stats["longest_gap_ms"] < 2000,
    }
    print("  " + "; ".join(f"{name}: {'ok' if good else 'MISSED'}" for name, good in verdicts.items()))
    print(json.dumps({k: v for k, v in result.items() if k != "stats"} | {"stats": stats}, default=str))
    return all(verdicts.values())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=int(os.environ.get("BPO2_BENCH_USERS", "50")))
    parser.add_argument(
        "--seconds", type=float, default=float(os.environ.get("BPO2_BENCH_LOAD_SECONDS", "60"))
    )
    parser.add_argument(
        "--cache",
        choices=("sqlite", "postgresql", "both"),
        default=os.environ.get("BPO2_BENCH_LOAD_CACHE", "both"),
    )
    parser.add_argument(
        "--servers", type=int, default=1, help="Web processes sharing the cache (users spread over them)."
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="Worker threads per web process (default: the setting's)."
    )
    parser.add_argument("--warmup", type=float, default=10.0, help="Seconds of load before measuring.")
    parser.add_argument("--think", default="0.5-1.5", help="Think time range per user, seconds (MIN-MAX).")
    parser.add_argument(
        "--admin-every", type=int, default=5, help="Every Nth user is an administrator (0: none)."
    )
    parser.add_argument(
        "--sync-at",
        type=float,
        default=5.0,
        help="Start the full sync this many seconds in (negative: no sync).",
    )
    parser.add_argument(
        "--sync-nice",
        type=int,
        default=scheduler_nice(),
        help="Niceness of the sync process (default: Nice= of deploy/systemd/bpo2-bridge-scheduler.service).",
    )
    args = parser.parse_args(argv if argv is not None else [])
    low, _, high = args.think.partition("-")
    think = (float(low), float(high or low))
    caches = ("sqlite", "postgresql") if args.cache == "both" else (args.cache,)
    good = True
    for cache in caches:
        print(f"-- load on the {cache} cache", flush=True)
        try:
            result = run(
                cache,
                args.users,
                args.seconds,
                args.warmup,
                think,
                args.sync_at,
                args.admin_every,
                args.sync_nice,
                args.servers,
                args.threads,
            )
        except Exception as exc:  # PostgreSQL down: report and go on with the other cache
            if cache != "postgresql" or args.cache == "postgresql":
                raise
            print(f"  skipped: {type(exc).__name__}: {str(exc).splitlines()[0]}")
            continue
        good = report(result) and good
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
