"""Scale-out on one machine: the cache and the application store on PostgreSQL, two
`serve --no-scheduler` processes and one `scheduler` process sharing them.

A Refresh pressed on one web process is seen on the other at once; a sign-in made on one is
valid on the other (one shared secret key); only the scheduler process runs scheduled syncs.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import select

from bpo2_bridge.bridge import Bridge
from bpo2_bridge.demo.content import DEMO_SALESMAN_LOGIN
from bpo2_bridge.demo.generate import build_demo_file
from bpo2_bridge.settings import load_settings
from bpo2_bridge.store.database import locks, sync_runs

from .helpers import csrf_token

PASSWORD = "scale-out-pass-2026"
CLI = str(Path(sys.executable).with_name("bpo2-bridge"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_up(base: str, proc: subprocess.Popen[Any], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"{base} exited with {proc.returncode}"
        try:
            if requests.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{base} did not come up")


def _token(session: requests.Session, url: str) -> str:
    return csrf_token(session.get(url, timeout=10).text)


def _expiry_of(session: requests.Session, base: str, account: str, contract_no: str) -> str:
    rows = session.get(
        f"{base}/customers/{account}/contracts",
        params={"format": "json", "tab": "all", "f_contract_no": f"={contract_no}"},
        timeout=10,
    ).json()["rows"]
    return next(r["expiry_date"] for r in rows if r["contract_no"] == contract_no)


def _refresh(session: requests.Session, base: str, account: str) -> requests.Response:
    token = _token(session, f"{base}/customers/{account}/contracts")
    return session.post(
        f"{base}/customers/{account}/refresh",
        headers={"Accept": "application/json", "X-CSRFToken": token, "Referer": f"{base}/"},
        timeout=30,
    )


def test_two_web_processes_and_a_scheduler_share_cache_store_and_sessions(
    change_expiry_in_source, fresh_database, tmp_path
) -> None:
    cache_url = fresh_database("postgresql").render_as_string(hide_password=False)
    store_url = fresh_database("postgresql").render_as_string(hide_password=False)
    env = {
        **os.environ,
        "BPO2_BRIDGE_DATA_DIR": str(tmp_path / "data"),
        "BPO2_BRIDGE_CACHE_URL": cache_url,
        "BPO2_BRIDGE_STORE_URL": store_url,
        "BPO2_BRIDGE_TODAY": "2026-11-22",
        "BPO2_BRIDGE_SECRET_KEY": "one-secret-for-every-web-process",
        "BPO2_BRIDGE_SCHEDULER_LOCK_SECONDS": "10",
        "PYTHONWARNINGS": "ignore",
    }
    settings = load_settings(config_file=None, environ=env)
    bridge = Bridge(settings)
    build_demo_file(
        settings.demo_source_path,
        size="tiny",
        today=settings.today_date(),
        mapping=bridge.mapping,
        share_root=settings.share_path,
    )
    synced = subprocess.run([CLI, "sync", "--full"], env=env, capture_output=True, text=True, timeout=120)
    assert synced.returncode == 0, synced.stderr
    added = subprocess.run(
        [CLI, "users", "add", "ann", "--role", "user", "--employee", DEMO_SALESMAN_LOGIN],
        input=PASSWORD + "\n",
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert added.returncode == 0, added.stderr

    ports = [_free_port(), _free_port()]
    procs: list[subprocess.Popen[Any]] = []
    try:
        for port in ports:
            command = [CLI, "serve", "--no-scheduler", "--host", "127.0.0.1", "--port", str(port)]
            procs.append(subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL))
        scheduler = subprocess.Popen([CLI, "scheduler"], env=env, stderr=subprocess.DEVNULL)
        procs.append(scheduler)
        a, b = (f"http://127.0.0.1:{port}" for port in ports)
        _wait_up(a, procs[0])
        _wait_up(b, procs[1])

        # sign in through A; the same cookie is a valid session on B
        on_a = requests.Session()
        token = _token(on_a, f"{a}/login")
        signed = on_a.post(
            f"{a}/login",
            data={"login": "ann", "password": PASSWORD, "csrf_token": token},
            allow_redirects=False,
            timeout=10,
        )
        assert signed.status_code == 302, signed.text
        on_b = requests.Session()
        assert on_b.get(f"{b}/contracts", allow_redirects=False, timeout=10).status_code == 302  # not yet
        on_b.cookies.update(on_a.cookies)
        home_b = on_b.get(f"{b}/", allow_redirects=False, timeout=10)
        assert home_b.status_code == 200 and 'class="user"' in home_b.text  # signed in on B

        row = on_a.get(f"{a}/contracts", params={"format": "json", "sort": "contract_no"}, timeout=10).json()[
            "rows"
        ][0]
        account, contract_no = row["account_no"], row["contract_no"]
        assert _expiry_of(on_b, b, account, contract_no) == row["expiry_date"]

        # Refresh on A after a change in BPO2: B shows it at once
        change_expiry_in_source(bridge, contract_no, dt.date(2020, 1, 31))
        done = _refresh(on_a, a, account)
        assert done.status_code == 200, done.text
        assert done.json()["changes"]["contract"]["changed"] == 1
        assert _expiry_of(on_b, b, account, contract_no) == "2020-01-31"

        # and the other way round: Refresh on B, seen on A
        change_expiry_in_source(bridge, contract_no, dt.date(2031, 3, 31))
        done_b = _refresh(on_b, b, account)
        assert done_b.status_code == 200, done_b.text
        assert _expiry_of(on_a, a, account, contract_no) == "2031-03-31"

        # everything shared lives in PostgreSQL: no SQLite cache or store was made on the side
        assert bridge.cache.kind == "postgresql" and bridge.store.dialect.name == "postgresql"
        assert (
            not (tmp_path / "data" / "cache").exists() and not (tmp_path / "data" / "store.sqlite").exists()
        )

        # only the scheduler process runs scheduled syncs: its start-up incremental sync, once
        # (waited for up to 90 s: on a busy machine it has taken more than 30)
        deadline = time.monotonic() + 90
        kinds: list[tuple[str, str]] = []
        while time.monotonic() < deadline:
            with bridge.store.connect() as conn:
                kinds = [tuple(r) for r in conn.execute(select(sync_runs.c.kind, sync_runs.c.status))]
            if ("incremental", "ok") in kinds:
                break
            time.sleep(0.2)
        assert sorted(kinds) == [
            ("customer", "ok"),
            ("customer", "ok"),
            ("full", "ok"),
            ("incremental", "ok"),
        ]
        with bridge.store.connect() as conn:
            holder = conn.execute(select(locks.c.holder).where(locks.c.name == "scheduler")).scalar()
        assert holder is not None and f":{scheduler.pid}:" in holder
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        bridge.dispose()
