"""Status (ops): one report for the page and `bpo2-bridge status`, read from the store; the page
never reaches BPO2, and Run full sync is a request the scheduler's lease holder picks up."""

from __future__ import annotations

import datetime as dt
import json
import re
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import func, inspect, select

from bpo2_bridge.bridge import Bridge
from bpo2_bridge.scheduler import start_scheduler
from bpo2_bridge.store.database import open_store, schema_checks, sync_requests
from bpo2_bridge.sync import history
from bpo2_bridge.web.context import filesize

from .helpers import page_token, sign_in


@pytest.fixture
def ops_client(make_app):  # type: ignore[no-untyped-def]
    """ops_client(bridge): the ops user signed in to an app without an in-process scheduler, as
    under `serve --no-scheduler`."""

    def make(bridge: Bridge):  # type: ignore[no-untyped-def]
        client = make_app(bridge).test_client()
        sign_in(client, "ops")
        return client

    return make


def _press(client) -> str:  # type: ignore[no-untyped-def]
    token = page_token(client, "/status")
    response = client.post("/status/full-sync", data={"csrf_token": token})
    assert response.status_code == 302
    return str(client.get("/status").get_data(as_text=True))


def _requests(bridge: Bridge) -> list[tuple[str, str, dt.datetime | None]]:
    with bridge.store.connect() as conn:
        query = select(sync_requests.c.kind, sync_requests.c.requested_by, sync_requests.c.picked_at)
        return [tuple(r) for r in conn.execute(query.order_by(sync_requests.c.id))]  # type: ignore[misc]


def test_page_without_an_in_process_scheduler_lists_syncs_and_next_runs(copied_demo, ops_client) -> None:
    bridge = copied_demo()
    html = ops_client(bridge).get("/status").get_data(as_text=True)
    assert re.search(r"<td>full</td>.*?status-ok", html, re.S)
    assert "customer: 20" in html
    # next runs come from the job registry and the settings, not from a scheduler in this process
    runs = dict(re.findall(r"<dt>Next: (\w+)</dt><dd class=\"next-run\">([^<]+)</dd>", html))
    assert {"incremental_sync", "full_sync", "sql_checks", "schema_check"} <= set(runs)
    tomorrow = bridge.settings.now().date() + dt.timedelta(days=1)
    assert runs["full_sync"] in (f"{bridge.settings.now():%Y-%m-%d} 02:00", f"{tomorrow:%Y-%m-%d} 02:00")
    assert "not running anywhere" in html  # no process holds the scheduler lease
    # the demo's full sync checked the schema as it started: the page shows that, with its age
    assert "All mapped tables and columns found" in html
    assert re.search(r"checked \d{4}-\d\d-\d\d \d\d:\d\d \([^)]*\) by full sync", html)


@pytest.fixture
def black_hole() -> Iterator[tuple[int, list[int]]]:
    """A TCP port that accepts connections and never answers; counts who connects."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    seen: list[int] = []
    stop = threading.Event()

    def accept() -> None:
        held = []
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            seen.append(1)
            held.append(conn)
        for conn in held:
            conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1], seen
    stop.set()
    thread.join(timeout=5)
    listener.close()


def test_page_renders_from_the_store_without_reaching_bpo2(copied_demo, black_hole, ops_client) -> None:
    port, connections = black_hole
    bridge = copied_demo(source_url=f"postgresql+psycopg://bpo2@127.0.0.1:{port}/bpo2")
    client = ops_client(bridge)
    started = time.monotonic()
    response = client.get("/status")
    assert response.status_code == 200
    assert time.monotonic() - started < 5
    html = response.get_data(as_text=True)
    assert "All mapped tables and columns found" in html and "by full sync" in html
    assert connections == []  # BPO2 (a server that would never answer) was not even connected to


def test_page_shows_a_stored_unreachable_check_and_its_age(copied_demo, tmp_path, ops_client, runner) -> None:
    bridge = copied_demo(source_url=f"sqlite:///{tmp_path / 'missing' / 'bpo2.sqlite'}")
    check = runner.invoke("schema", "check", bridge=bridge, source_url=bridge.settings.source_url)
    assert check.exit_code == 2 and "BPO2 source unreachable" in check.stderr
    html = ops_client(bridge).get("/status").get_data(as_text=True)
    assert 'class="status-bad">BPO2 unreachable</span>' in html
    assert re.search(r"checked [\d\- :]+ \(just now\) by schema check command", html)
    assert not (tmp_path / "missing").exists()


def test_run_full_sync_is_a_request_the_scheduler_picks_up(copied_demo, ops_client) -> None:
    bridge = copied_demo()
    client = ops_client(bridge)
    before = history.recent(bridge.store, 50)
    threads = set(threading.enumerate())

    html = _press(client)
    assert "no scheduler is running anywhere" in html  # said plainly: nothing will pick it up yet
    assert re.search(r"full sync requested by ops at \d\d:\d\d, waiting: no scheduler is running", html)
    again = _press(client)
    assert "A full sync request is already pending (requested by ops at" in again
    assert _requests(bridge) == [("full", "ops", None)]  # exactly one request
    time.sleep(1)
    assert history.recent(bridge.store, 50) == before  # the web process ran nothing
    assert set(threading.enumerate()) <= threads  # and started no thread to run it later

    scheduler = start_scheduler(bridge, jobs=(), request_poll_seconds=1)
    try:
        deadline = time.monotonic() + 90
        runs = before
        while time.monotonic() < deadline:
            runs = history.recent(bridge.store, 50)
            if len(runs) > len(before) and runs[0]["status"] != "running":
                break
            time.sleep(0.2)
        html = client.get("/status").get_data(as_text=True)
    finally:
        scheduler.shutdown()
    assert len(runs) == len(before) + 1 and runs[0]["kind"] == "full" and runs[0]["status"] == "ok"
    [(kind, by, picked_at)] = _requests(bridge)
    assert (kind, by) == ("full", "ops")
    assert picked_at is not None and picked_at <= runs[0]["started_at"] + dt.timedelta(seconds=1)
    assert "running in this process" in html  # this test's process held the scheduler lease
    assert "full sync requested by" not in html  # nothing pending any more


def test_command_and_page_show_the_same_figures(copied_demo, ops_client, runner) -> None:
    bridge = copied_demo()
    runner.invoke("schema", "check", bridge=bridge)  # a check of its own, newer than the sync's
    html = ops_client(bridge).get("/status").get_data(as_text=True)
    out = runner.invoke("status", "--format", "json", bridge=bridge)
    assert out.exit_code == 0, out.output
    report = json.loads(out.stdout)

    assert f'class="cache-size">{filesize(report["cache"]["size_bytes"])}<' in html
    for name in ("full_sync", "sql_checks", "contract_counts", "prune_history"):
        when = dt.datetime.fromisoformat(report["next_runs"][name])
        assert f'<dt>Next: {name}</dt><dd class="next-run">{when:%Y-%m-%d %H:%M}</dd>' in html
    check = report["schema_check"]
    assert check["checked_by"] == "schema check command" and check["problems"] == []
    assert f"checked {dt.datetime.fromisoformat(check['checked_at']):%Y-%m-%d %H:%M}" in html
    assert report["scheduler"] is None and "not running anywhere" in html
    last = report["syncs"][0]
    assert (
        f"<td>{last['kind']}</td>" in html
        and f"{dt.datetime.fromisoformat(last['started_at']):%Y-%m-%d %H:%M}" in html
    )
    assert report["pending_request"] is None and report["running"] is None

    table = runner.invoke("status", bridge=bridge).stdout
    assert "scheduler:  not running anywhere" in table
    assert "schema:     all mapped tables and columns found" in table


def test_an_older_store_gets_the_new_tables(make_settings) -> None:
    settings = make_settings()
    store = open_store(settings)
    with store.begin() as conn:
        conn.exec_driver_sql("DROP TABLE sync_requests")
        conn.exec_driver_sql("DROP TABLE schema_checks")
    store.dispose()
    store = open_store(settings)  # as a new release opens a store made before these tables
    assert {"sync_requests", "schema_checks"} <= set(inspect(store).get_table_names())
    with store.connect() as conn:
        assert conn.execute(select(func.count()).select_from(schema_checks)).scalar() == 0
    store.dispose()
