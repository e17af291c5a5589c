"""Asking the questions: first one by one (cold), then under load with wrk.

- cold: each question once, in turn, on one keep-alive connection; the latency of every first
  answer (no URL is asked twice, so none is answered from anything a server kept of it);
- load: `wrk` with CONNECTIONS keep-alive connections for SECONDS, walking the remaining
  questions in order (walk.lua), each asked once; when the list runs out before the time is up,
  the run stops there and requests/s are counted over the time it took.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

CONNECTIONS = 8
SECONDS = float(os.environ.get("BPO2_BENCH_SECONDS", "10"))
WALK = Path(__file__).with_name("walk.lua")


def answered_well(status: int, body: bytes) -> bool:
    return status == 200 and body.lstrip()[:1] in (b"{", b"<", b"[")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))] if ordered else float("nan")


def cold(port: int, paths: list[str], cookie: str) -> dict[str, object]:
    """Each path once, one after the other; median and p99 of the first answers, in ms."""
    headers = {"Cookie": cookie} if cookie else {}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    latencies, errors, failed = [], 0, []
    for path in paths:
        started = time.perf_counter()
        try:
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            body = response.read()
            ok = answered_well(response.status, body)
            status = response.status
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            ok, status = False, str(exc)
        latencies.append((time.perf_counter() - started) * 1000)
        if not ok:
            errors += 1
            if len(failed) < 3:
                failed.append(f"{status} {path}")
    conn.close()
    slowest = max(range(len(paths)), key=latencies.__getitem__) if paths else None
    return {
        "questions": len(paths),
        "p50_ms": statistics.median(latencies) if latencies else float("nan"),
        "p99_ms": percentile(latencies, 0.99),
        "max_ms": max(latencies, default=float("nan")),
        "slowest": paths[slowest] if slowest is not None else None,
        "errors": errors,
        "failed": failed,
    }


def load(ports: list[int], paths: list[str], cookie: str, idle: str) -> dict[str, object]:
    """The paths walked by wrk with CONNECTIONS connections for up to SECONDS, the connections
    and the paths shared out over `ports` (one wrk each, run together) as a load balancer in
    front of several processes of one server would share them."""
    if not paths:
        return {"questions": 0}
    share = max(1, CONNECTIONS // len(ports))
    with tempfile.TemporaryDirectory(prefix="bpo2-bench-walk-") as folder:
        runs = []
        for n, port in enumerate(ports):
            listed = Path(folder) / f"paths-{n}.txt"
            listed.write_text("\n".join(paths[n :: len(ports)]) + "\n")
            args = [
                wrk(),
                "-t1",
                f"-c{share}",
                f"-d{SECONDS:g}s",
                "--timeout",
                "60s",
                "-s",
                str(WALK),
                f"http://127.0.0.1:{port}",
                "--",
                str(listed),
                cookie,
                idle,
            ]
            runs.append(subprocess.Popen(args, stdout=subprocess.PIPE, text=True))
        outs = [run.communicate()[0] for run in runs]
        if any(run.returncode for run in runs):
            raise RuntimeError(f"wrk failed: {outs}")
    walks = [
        json.loads(next(x for x in out.splitlines() if x.startswith("walk ")).removeprefix("walk "))
        for out in outs
    ]
    seconds = max(w["seconds"] for w in walks)
    answered = sum(w["answered"] for w in walks)
    return {
        "questions": sum(w["questions"] for w in walks),
        "answered": answered,
        "errors": sum(w["errors"] + w["socket_errors"] for w in walks),
        "seconds": seconds,
        "exhausted": any(w["exhausted"] for w in walks),
        # over several processes: the median of their medians, and the worst of their p99s
        "p50_ms": statistics.median(w["p50_ms"] for w in walks),
        "p99_ms": max(w["p99_ms"] for w in walks),
        "rps": answered / seconds if seconds > 0 else float("nan"),
    }


def wrk() -> str:
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("bench questions needs wrk (apt-get install wrk; `make bench` installs it)")
    return found
