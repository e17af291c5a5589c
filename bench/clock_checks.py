"""What a statement's time limit costs while other threads of the process run Python.

`python -m bench clock_checks` counts 100,000 expired contracts of the large demo's cache (a
statement of a few milliseconds, as a grid's capped count is) with the time limit's progress
handler armed, looking at the clock every N SQLite instructions, while BUSY other threads run
Python, as a web process's request threads do under load; for each interpreter switch interval.
Each look runs Python in the statement's thread, so it waits for the interpreter's lock:
time_limit.CHECK_EVERY and serve's SWITCH_SECONDS are chosen from these figures.

The cache is the one the questions bench synced (BPO2_BENCH_WEB, default /tmp/bench-questions);
it is synced there when missing (see bench.questions.servers.prepare_bridge).
"""

from __future__ import annotations

import os
import sqlite3
import statistics
import sys
import threading
import time
from pathlib import Path

from bench.questions.servers import prepare_bridge
from bench.sync import TODAY

DATA = Path(os.environ.get("BPO2_BENCH_WEB", "/tmp/bench-questions"))
BUSY = (0, 1, 4)
CHECKS = (10_000, 100_000, 1_000_000)
SWITCHES = (0.005, 0.001)
RUNS = 3
COUNT = (
    "SELECT count(*) FROM (SELECT 1 FROM contract_row WHERE expiry_date < ? "
    "AND status NOT IN ('Cancelled') LIMIT 100001)"
)


def timed(conn: sqlite3.Connection, check_every: int | None) -> float:
    """The median wall time of the count, in ms, with the handler looking every ``check_every``."""
    deadline = time.monotonic() + 3600
    if check_every is None:
        conn.set_progress_handler(None, 0)
    else:
        conn.set_progress_handler(lambda: 1 if time.monotonic() > deadline else 0, check_every)
    walls = []
    for _ in range(RUNS):
        began = time.perf_counter()
        conn.execute(COUNT, (TODAY.isoformat(),)).fetchone()
        walls.append(1000 * (time.perf_counter() - began))
    return statistics.median(walls)


def main() -> None:
    if not any((DATA / "cache").glob("cache-*.sqlite")):
        prepare_bridge(DATA)
    snapshot = max((DATA / "cache").glob("cache-*.sqlite"))
    conn = sqlite3.connect(f"{snapshot.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False)
    default_switch = sys.getswitchinterval()
    print(f"count of 100,000 expired contracts, median of {RUNS} (ms); columns: looks every N instructions")
    print(f"{'busy threads':>12} {'switch':>7} {'no limit':>11}" + "".join(f"{n:>11,}" for n in CHECKS))
    try:
        for busy in BUSY:
            for switch in SWITCHES if busy else SWITCHES[:1]:
                sys.setswitchinterval(switch)
                stop = threading.Event()
                spinners = [threading.Thread(target=_spin, args=(stop,)) for _ in range(busy)]
                for thread in spinners:
                    thread.start()
                try:
                    row = [timed(conn, None)] + [timed(conn, n) for n in CHECKS]
                finally:
                    stop.set()
                    for thread in spinners:
                        thread.join()
                cells = "".join(f"{ms:>11.1f}" for ms in row)
                print(f"{busy:>12} {switch * 1000:>5g}ms{cells}")
    finally:
        sys.setswitchinterval(default_switch)
        conn.close()


def _spin(stop: threading.Event) -> None:
    """A request thread rendering a page: Python, and nothing else."""
    n = 0
    while not stop.is_set():
        n += 1


if __name__ == "__main__":
    main()
