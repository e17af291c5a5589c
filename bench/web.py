"""Contracts JSON grid throughput against a minimal Flask endpoint running the same query.

`python -m bench web` uses the large demo (BPO2_BENCH_DEMO, default /tmp/bench-data/bpo2-demo.sqlite,
built once when missing), synced into a cache under BPO2_BENCH_WEB (default /tmp/bench-web; reused).
Both servers are waitress on 127.0.0.1 in child processes; a threaded keep-alive load generator
drives each scenario with 8 connections. Figures: requests/s, p50 and p99 latency, and the ratio
of the full app (sign-in, visibility, grid, count, JSON) to the bare endpoint (one query, JSON).
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import multiprocessing
import os
import re
import socket
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlencode

if TYPE_CHECKING:
    from bpo2_bridge.bridge import Bridge

DEMO = Path(os.environ.get("BPO2_BENCH_DEMO", "/tmp/bench-data/bpo2-demo.sqlite"))
DATA = Path(os.environ.get("BPO2_BENCH_WEB", "/tmp/bench-web"))
TODAY = "2026-11-22"
CONNECTIONS = 8
SECONDS = float(os.environ.get("BPO2_BENCH_SECONDS", "10"))
# BPO2_BENCH_ONLY=page,search: only the scenarios whose names contain one of the words
PAGE_SIZE = 20
ADMIN = "admin"


def _settings():  # type: ignore[no-untyped-def]
    from bpo2_bridge.settings import load_settings

    return load_settings(
        config_file=None,
        overrides={
            "data_dir": str(DATA),
            "source_url": f"sqlite:///{DEMO}",
            "share_root": str(DEMO.parent / "share"),
            "today": TODAY,
            "secret_key": "bench-secret",
            "threads": 8,
            "login_attempts_per_minute": 1000,
            "statement_timeout": 3600,  # the one-off full sync streams millions of rows
        },
        environ={},
    )


def fill_cache(bridge: Bridge, where: str) -> None:
    """The large demo synced into the bridge's cache (once), and the demo users."""
    from bpo2_bridge.users import create_demo_users

    if not bridge.cache.exists():
        from bpo2_bridge.sync.full import full_sync

        print(f"syncing {DEMO} into {where} (once)", flush=True)
        started = time.monotonic()
        full_sync(bridge)
        print(f"  full sync {time.monotonic() - started:.0f} s", flush=True)
    create_demo_users(bridge.store)


def prepare() -> None:
    from bpo2_bridge.bridge import Bridge

    if not DEMO.exists():
        from bench.sync import ensure_demo

        ensure_demo("large")
    bridge = Bridge(_settings())
    fill_cache(bridge, str(DATA))
    bridge.dispose()


# -- the two servers ----------------------------------------------------------------------


def _bare_app():  # type: ignore[no-untyped-def]
    """The same contracts query the grid runs for a page, no sign-in, no grid, no template."""
    from flask import Flask, jsonify, request
    from sqlalchemy import func, or_, select

    from bpo2_bridge import windows
    from bpo2_bridge.bridge import Bridge

    bridge = Bridge(_settings())
    app = Flask("bare")

    @app.get("/bare")
    def bare():  # type: ignore[no-untyped-def]
        args = request.args
        with bridge.cache.connect() as conn:
            customer_id = int(args["customer_id"]) if args.get("customer_id") else None
            base = windows.bound_contracts_query(
                conn.dialect, bridge.settings, tab=args.get("tab", "all"), customer_id=customer_id
            ).subquery()
            query = select(base)
            if args.get("q"):
                pattern = f"%{args['q'].lower()}%"
                query = query.where(
                    or_(
                        *(
                            func.lower(base.c[k]).like(pattern)
                            for k in ("contract_no", "account_no", "customer_name")
                        )
                    )
                )
            sort = args.get("sort", "expiry_date")
            column = base.c[sort.lstrip("-")]
            order = [column.desc() if sort.startswith("-") else column.asc(), base.c.contract_id]
            page = int(args.get("page", 1))
            query = query.order_by(*order).offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)
            rows = [
                {k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in r.items()}
                for r in conn.execute(query).mappings()
            ]
        return jsonify({"rows": rows})

    return app


def _serve(which: str, port: int) -> None:
    import logging

    import waitress

    logging.getLogger("waitress").setLevel(logging.ERROR)
    if which == "bare":
        app = _bare_app()
    else:
        from bpo2_bridge.bridge import Bridge
        from bpo2_bridge.web.app import create_app

        app = create_app(bridge=Bridge(_settings()))
    waitress.serve(app, host="127.0.0.1", port=port, threads=8, _quiet=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"server on {port} did not start")


def _sign_in(port: int) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port)
    conn.request("GET", "/login")
    response = conn.getresponse()
    html = response.read().decode()
    cookie = response.getheader("Set-Cookie", "").split(";")[0]
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    from bpo2_bridge.users import DEMO_PASSWORD

    body = urlencode({"login": ADMIN, "password": DEMO_PASSWORD, "csrf_token": token})
    conn.request(
        "POST",
        "/login",
        body=body,
        headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie},
    )
    response = conn.getresponse()
    response.read()
    assert response.status == 302, response.status
    conn.close()
    return response.getheader("Set-Cookie", "").split(";")[0]


# -- the load generator -------------------------------------------------------------------


def load(port: int, path: str, cookie: str | None) -> dict[str, float]:
    """CONNECTIONS keep-alive clients hitting `path` for SECONDS; throughput and latencies."""
    latencies: list[list[float]] = [[] for _ in range(CONNECTIONS)]
    errors = [0]
    stop = time.monotonic() + SECONDS
    headers = {"Cookie": cookie} if cookie else {}

    def client(slot: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while time.monotonic() < stop:
            started = time.perf_counter()
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            body = response.read()
            if response.status != 200 or body.lstrip()[:1] not in (b"{", b"<"):
                errors[0] += 1
            latencies[slot].append(time.perf_counter() - started)
        conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CONNECTIONS)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    every = sorted(x for slot in latencies for x in slot)
    return {
        "requests": len(every),
        "rps": len(every) / elapsed,
        "p50_ms": statistics.median(every) * 1000,
        "p99_ms": every[min(len(every) - 1, int(len(every) * 0.99))] * 1000,
        "errors": errors[0],
    }


def scenarios(customer_id: int, account_no: str) -> list[tuple[str, str, str]]:
    """(name, full app path, bare path)."""
    return [
        (
            "customer page",
            f"/customers/{account_no}/contracts?tab=all&format=json",
            f"/bare?tab=all&customer_id={customer_id}",
        ),
        (
            "all expired by expiry",
            "/contracts?tab=expired&sort=expiry_date&format=json",
            "/bare?tab=expired&sort=expiry_date",
        ),
        ("text search", "/contracts?tab=all&q=CPC00123&format=json", "/bare?tab=all&q=cpc00123"),
        ("page 1", "/contracts?tab=all&format=json", "/bare?tab=all"),
        ("page 2000", "/contracts?tab=all&page=2000&format=json", "/bare?tab=all&page=2000"),
        # the HTML page: sign-in, grid, three tab counts, layout and template
        (
            "expired page as HTML",
            "/contracts?tab=expired&sort=expiry_date",
            "/bare?tab=expired&sort=expiry_date",
        ),
    ]


def main() -> None:
    prepare()
    from sqlalchemy import text

    from bpo2_bridge.bridge import Bridge
    from bpo2_bridge.demo.content import BENCH_CUSTOMER_ACCOUNT

    bridge = Bridge(_settings())
    with bridge.cache.connect() as conn:
        customer_id = conn.execute(
            text("SELECT customer_id FROM customer WHERE account_no = :a"), {"a": BENCH_CUSTOMER_ACCOUNT}
        ).scalar_one()
        contracts = conn.execute(text("SELECT COUNT(*) FROM contract")).scalar_one()
    bridge.dispose()
    ports = {"app": _free_port(), "bare": _free_port()}
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_serve, args=(which, port), daemon=True) for which, port in ports.items()]
    for p in procs:
        p.start()
    try:
        for port in ports.values():
            _wait(port)
        cookie = _sign_in(ports["app"])
        print(f"{contracts:,} contracts; {CONNECTIONS} connections, {SECONDS:.0f} s per run", flush=True)
        results = []
        only = [w for w in os.environ.get("BPO2_BENCH_ONLY", "").split(",") if w]
        for name, app_path, bare_path in scenarios(customer_id, BENCH_CUSTOMER_ACCOUNT):
            if only and not any(w in name for w in only):
                continue
            load(ports["app"], app_path, cookie)  # warm caches once
            app = load(ports["app"], app_path, cookie)
            bare = load(ports["bare"], bare_path, None)
            ratio = app["rps"] / bare["rps"] if bare["rps"] else float("nan")
            results.append({"scenario": name, "app": app, "bare": bare, "ratio": ratio})
            print(
                f"{name:<24} app {app['rps']:7.1f} req/s p50 {app['p50_ms']:7.1f} ms p99 {app['p99_ms']:7.1f} ms"
                f" | bare {bare['rps']:7.1f} req/s p99 {bare['p99_ms']:7.1f} ms | ratio {ratio:.2f}"
                f"{'  ERRORS ' + str(app['errors'] + bare['errors']) if app['errors'] + bare['errors'] else ''}",
                flush=True,
            )
        print(json.dumps(results, indent=None, default=float))
    finally:
        for p in procs:
            p.terminate()
            p.join(timeout=10)


if __name__ == "__main__":
    main()
    sys.exit(0)
