"""Service time of each route of the load mix, one request at a time, on an idle server.

`python -m bench routes` starts the same server as `bench load` (large demo, SQLite cache) and
asks every route of the load mix REPEAT times in turn as an administrator and as a salesman,
with nothing else running: the median is what one request costs the server. Under load that
cost, times the mix's weights, is what the two cores must serve per second.
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import time
from collections import defaultdict

from bench.load import MIX
from bench.load_client import Recorder, discover, sign_in
from bench.load_server import Server, prepare

REPEAT = int(os.environ.get("BPO2_BENCH_REPEAT", "7"))


def main(cache: str = "sqlite") -> None:
    config = prepare(cache)
    server = Server(config)
    try:
        for login in ("admin", "sales1"):
            session = sign_in(server.port, login, seed=1)
            catalog = discover(session)
            timings: dict[str, list[float]] = defaultdict(list)
            rng = random.Random(7)
            recorder = Recorder()
            for _ in range(REPEAT):
                for kind in MIX:
                    for _ in range(6):  # each kind has up to six routes: try them all
                        action = catalog.action(kind, rng)
                        started = time.perf_counter()
                        session.perform(action, recorder)
                        timings[f"{kind:<8} {action.route}"].append((time.perf_counter() - started) * 1000)
            print(f"-- {login} ({catalog.summary()})")
            weighted = 0.0
            for route, values in sorted(timings.items(), key=lambda kv: -statistics.median(kv[1])):
                print(f"  {statistics.median(values):8.1f} ms  (max {max(values):7.1f})  {route}")
            for kind, weight in MIX.items():
                mine = [statistics.median(v) for r, v in timings.items() if r.startswith(f"{kind:<8} ")]
                weighted += weight * statistics.mean(mine) if mine else 0.0
            mean = weighted / sum(MIX.values())
            print(f"  mix-weighted mean {mean:.1f} ms: at most {2000 / mean:.0f} req/s on 2 cores")
            sys.stdout.flush()
    finally:
        server.stop()


if __name__ == "__main__":
    main(*sys.argv[1:])
