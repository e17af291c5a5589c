"""Faults a user or ops would notice: BPO2 down at start or lost while serving, the cache
missing or damaged (pages and /healthz), SMTP down, a PDF worker dying, serve stopped while busy,
an incremental sync killed, and midnight passing without a sync.

Faults already covered elsewhere are not repeated here: a full sync cut or killed
(test_sync_faults), Refresh and downloads as pages with BPO2 down (test_web_refresh), SMTP down
on the Email form (test_report_view), a failed sync turning the line red (test_web_freshness).
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import pytest
import requests
from click.testing import CliRunner
from sqlalchemy import MetaData, create_engine, func, select, text, update

from bpo2_bridge.bridge import Bridge
from bpo2_bridge.cache.schema import cache_table
from bpo2_bridge.cli import main
from bpo2_bridge.demo.content import DEMO_ADMIN_LOGIN, DEMO_SALESMAN_LOGIN
from bpo2_bridge.demo.generate import build_demo
from bpo2_bridge.jobs import BY_NAME
from bpo2_bridge.queries.windows import add_months
from bpo2_bridge.scheduler import start_scheduler
from bpo2_bridge.source.mapping import physical_table
from bpo2_bridge.store.database import email_log, sync_runs, users
from bpo2_bridge.store.users import DEMO_PASSWORD, create_demo_users
from bpo2_bridge.sync import derived as derived_rows
from bpo2_bridge.sync import full_sync, incremental_sync
from bpo2_bridge.sync.history import INTERRUPTED
from bpo2_bridge.web.app import create_app

from .helpers import csrf_token, page_token

JSON = {"Accept": "application/json"}


# -- helpers ---------------------------------------------------------------------------------


def _signed_in(bridge: Bridge, login: Callable[..., Any], name: str = DEMO_SALESMAN_LOGIN) -> Any:
    client = create_app(bridge=bridge).test_client()
    assert login(client, name).status_code == 302
    return client


def _first_account(client: Any) -> str:
    return client.get("/contracts?format=json&sort=contract_no").get_json()["rows"][0]["account_no"]


def _file_of(bridge: Bridge, account_no: str) -> int:
    files, customers = cache_table("case_attachment"), cache_table("customer")
    with bridge.cache.connect() as conn:
        file_id = conn.execute(
            select(files.c.file_id)
            .join(customers, customers.c.customer_id == files.c.customer_id)
            .where(customers.c.account_no == account_no)
            .order_by(files.c.file_id)
        ).scalar()
    assert file_id is not None
    return int(file_id)


def _set_in_source(bridge: Bridge, entity: str, where: dict[str, Any], **values: Any) -> None:
    """Change rows in the BPO2 demo source itself (a writer connection; tests only), touching
    the change column as BPO2 does on every update."""
    em = bridge.mapping[entity]
    table = physical_table(em, MetaData())
    change = next((c.key for c in table.c if c.name == em.change_column), None)
    if change is not None:
        values = {**values, change: bridge.settings.now()}
    engine = create_engine(f"sqlite:///{bridge.settings.demo_source_path}")
    with engine.begin() as conn:
        stmt = update(table).values(**values)
        for column, value in where.items():
            stmt = stmt.where(table.c[column] == value)
        conn.execute(stmt)
    engine.dispose()


def _runs(bridge: Bridge, kind: str | None = None) -> list[Any]:
    query = select(sync_runs).order_by(sync_runs.c.id)
    if kind:
        query = query.where(sync_runs.c.kind == kind)
    with bridge.store.connect() as conn:
        return list(conn.execute(query))


def _wait_for(condition: Callable[[], Any], seconds: float, what: str) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _source_away(bridge: Bridge) -> Path:
    """BPO2 goes away (its file moves; pooled connections are dropped)."""
    path = bridge.settings.demo_source_path
    away = path.with_suffix(".away")
    path.rename(away)
    bridge.source.dispose()
    return away


# -- BPO2 unreachable at start ---------------------------------------------------------------


def test_bpo2_unreachable_at_start_serves_cache_turns_line_red_and_retries_with_backoff(
    copied_demo, login
) -> None:
    bridge = copied_demo()
    away = _source_away(bridge)
    client = _signed_in(bridge, login)
    base = 0.25
    scheduler = start_scheduler(bridge, jobs=(BY_NAME["incremental_sync"],), retry_base_seconds=base)
    try:

        def failures() -> list[Any]:
            return [r for r in _runs(bridge, "incremental") if r.status == "failed"]

        runs = _wait_for(lambda: len(failures()) >= 4 and failures(), 20, "four failed start-up syncs")
        assert all("unreachable" in r.error for r in runs)
        starts = [r.started_at for r in runs[:4]]
        gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(starts)]
        # 0.25 s, 0.5 s, 1 s after each failure (plus the time a failing attempt takes)
        assert gaps[0] >= base * 0.9 and gaps[1] >= 2 * base * 0.9 and gaps[2] >= 4 * base * 0.9, gaps
        assert gaps[2] > gaps[0] * 2, gaps

        # the app serves the cache meanwhile, and the line says why it is not fresh
        grid = client.get("/contracts?format=json")
        assert grid.status_code == 200 and grid.get_json()["total"] > 0
        html = client.get("/").get_data(as_text=True)
        assert 'class="freshness freshness-red"' in html
        assert "last sync failed:" in html and "unreachable" in html

        away.rename(bridge.settings.demo_source_path)  # BPO2 is back
        ok = _wait_for(
            lambda: [r for r in _runs(bridge, "incremental") if r.status == "ok"], 20, "a retry succeeding"
        )
        assert len(ok) == 1
        html = client.get("/").get_data(as_text=True)
        assert "freshness-red" not in html and "last sync failed" not in html
        settled = len(_runs(bridge))
        time.sleep(base * 8)  # no more retries once a sync succeeded (the next is an interval away)
        assert len(_runs(bridge)) == settled
    finally:
        scheduler.shutdown(wait=False)


def test_backoff_doubles_up_to_the_interval() -> None:
    from bpo2_bridge.scheduler import Backoff

    backoff = Backoff(30, 15 * 60)
    assert [backoff.failed() for _ in range(8)] == [30, 60, 120, 240, 480, 900, 900, 900]
    backoff.succeeded()
    assert backoff.failed() == 30


def test_scheduled_app_starts_with_bpo2_down(make_app, copied_demo, login) -> None:
    """`serve` with its in-process scheduler: the start-up sync fails, pages still serve."""
    bridge = copied_demo()
    _source_away(bridge)
    app = make_app(bridge, start_scheduler=True)
    try:
        client = app.test_client()
        assert login(client, DEMO_SALESMAN_LOGIN).status_code == 302
        _wait_for(lambda: any(r.status == "failed" for r in _runs(bridge)), 15, "the start-up sync")
        page = client.get("/contracts?tab=expiring")
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        assert "freshness-red" in html and "unreachable" in html
        pending = app.extensions["bpo2_scheduler"].get_job("incremental_sync.retry")
        assert pending is not None  # a retry is on its way, well before the next interval
        wait = (pending.next_run_time - dt.datetime.now(pending.next_run_time.tzinfo)).total_seconds()
        assert 0 < wait <= 30
    finally:
        app.extensions["bpo2_scheduler"].shutdown(wait=False)


# -- BPO2 lost while serving -----------------------------------------------------------------


def test_bpo2_lost_while_serving_json_clients_get_503_and_grids_keep_working(copied_demo, login) -> None:
    bridge = copied_demo()
    client = _signed_in(bridge, login)
    account = _first_account(client)
    page = f"/customers/{account}/contracts?tab=all&sort=contract_no"
    rows = client.get(page + "&format=json").get_json()["rows"]
    _set_in_source(bridge, "contract", {"contract_no": rows[0]["contract_no"]}, status="Suspended")

    token = page_token(client, page)
    done = client.post(f"/customers/{account}/refresh", headers={**JSON, "X-CSRFToken": token})
    assert done.status_code == 200, done.get_data(as_text=True)
    body = done.get_json()
    assert body["changed"] is True and body["changes"] == {
        "contract": {"added": 0, "changed": 1, "removed": 0}
    }
    assert body["as_of"]
    again = client.post(f"/customers/{account}/refresh", headers={**JSON, "X-CSRFToken": token})
    assert again.status_code == 200 and again.get_json()["changed"] is False
    file_id = _file_of(bridge, account)
    assert client.get(f"/files/{file_id}").status_code == 200

    _source_away(bridge)
    lost = client.post(f"/customers/{account}/refresh", headers={**JSON, "X-CSRFToken": token})
    assert lost.status_code == 503
    body = lost.get_json()
    assert body["error"] == "BPO2 is unreachable"
    assert dt.datetime.fromisoformat(body["as_of"]) == bridge.cache.as_of()
    download = client.get(f"/files/{file_id}", headers=JSON)
    assert download.status_code == 503 and download.get_json()["error"] == "BPO2 is unreachable"
    assert download.headers["Retry-After"]

    # the grids read the cache only: all still work, with the refreshed row
    after = client.get(page + "&format=json")
    assert after.status_code == 200
    assert after.get_json()["rows"][0]["status"] == "Suspended"
    for url in (page, f"/customers/{account}/files", "/contracts?tab=expired", "/customers", "/"):
        assert client.get(url).status_code == 200, url


# -- the cache missing or damaged ------------------------------------------------------------


def _delete_snapshot(bridge: Bridge) -> None:
    bridge.cache.dispose()
    for path in bridge.cache.folder.iterdir():
        path.unlink()


def _corrupt_snapshot(bridge: Bridge) -> None:
    bridge.cache.dispose()
    current = bridge.cache.path(bridge.cache.current())
    for suffix in ("-wal", "-shm"):
        Path(f"{current}{suffix}").unlink(missing_ok=True)
    size = current.stat().st_size
    current.write_bytes(b"this is not a database, a disk went bad " * (size // 40 + 1))


def _drop_schema(bridge: Bridge) -> None:
    engine = create_engine(bridge.settings.cache_url)
    with engine.begin() as conn:
        conn.exec_driver_sql(f'DROP SCHEMA "{bridge.cache.current()}" CASCADE')
    engine.dispose()


@pytest.mark.parametrize(
    "damage",
    [_delete_snapshot, _corrupt_snapshot, _drop_schema],
    ids=["sqlite-missing", "sqlite-corrupt", "postgresql-dropped"],
)
def test_cache_missing_or_corrupt_gives_a_clear_page_and_the_next_sync_rebuilds_it(
    copied_demo, fresh_database, login, damage
) -> None:
    if damage is _drop_schema:
        bridge = copied_demo(cache_url=fresh_database("postgresql").render_as_string(hide_password=False))
        full_sync(bridge)
    else:
        bridge = copied_demo()
    client = _signed_in(bridge, login)
    account = _first_account(client)
    with bridge.store.begin() as conn:
        conn.execute(
            email_log.insert().values(
                sent_at=bridge.settings.now(),
                user_login=DEMO_SALESMAN_LOGIN,
                contract_no="CPC0000001",
                to_addr="buyer@customer.test",
                outcome="sent",
            )
        )
    kept = _store_contents(bridge)

    damage(bridge)
    for url in ("/", "/customers", f"/customers/{account}/contracts?tab=expiring", "/contracts"):
        response = client.get(url)
        assert response.status_code == 503, url
        html = response.get_data(as_text=True)
        assert "The cache is being rebuilt" in html and "Try again" in html
        assert "freshness-red" in html and "Cache unavailable" in html
        assert "Traceback" not in html
    response = client.get("/contracts?format=json")
    assert response.status_code == 503
    assert response.get_json()["error"].startswith("The cache is being rebuilt")
    assert _store_contents(bridge) == kept

    result = incremental_sync(bridge)  # what the scheduler runs next
    assert result.kind == "full"
    assert client.get(f"/customers/{account}/contracts?tab=expiring").status_code == 200
    assert client.get("/contracts?format=json").get_json()["total"] > 0
    after = _store_contents(bridge)
    assert after["users"] == kept["users"] and after["email_log"] == kept["email_log"]
    assert after["sync_runs"][: len(kept["sync_runs"])] == kept["sync_runs"]


@pytest.mark.parametrize(
    ("damage", "said"),
    [
        (_delete_snapshot, "missing"),
        (_corrupt_snapshot, "cannot be read"),
        (_drop_schema, "missing"),
    ],
    ids=["sqlite-missing", "sqlite-corrupt", "postgresql-dropped"],
)
def test_healthz_takes_the_host_out_while_the_snapshot_is_missing_or_corrupt(
    make_app, copied_demo, fresh_database, damage, said
) -> None:
    if damage is _drop_schema:
        bridge = copied_demo(cache_url=fresh_database("postgresql").render_as_string(hide_password=False))
        full_sync(bridge)
    else:
        bridge = copied_demo()
    client = make_app(bridge).test_client()  # a load balancer signs in as nobody
    healthy = client.get("/healthz")
    assert healthy.status_code == 200 and healthy.get_json()["status"] == "ok"

    damage(bridge)
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "unavailable" and said in body["reason"], body
    assert "Traceback" not in body["reason"]

    incremental_sync(bridge)  # the scheduler rebuilds the cache: the host comes back
    assert client.get("/healthz").status_code == 200


def test_healthz_is_unavailable_before_the_first_sync(make_app, make_settings) -> None:
    bridge = Bridge(make_settings())
    response = make_app(bridge).test_client().get("/healthz")
    assert response.status_code == 503
    assert "cache is empty" in response.get_json()["reason"]
    bridge.dispose()


def _store_contents(bridge: Bridge) -> dict[str, list[tuple[Any, ...]]]:
    with bridge.store.connect() as conn:
        return {
            "users": [tuple(r) for r in conn.execute(select(users).order_by(users.c.id))],
            "email_log": [tuple(r) for r in conn.execute(select(email_log).order_by(email_log.c.id))],
            "sync_runs": [tuple(r) for r in conn.execute(select(sync_runs).order_by(sync_runs.c.id))],
        }


# -- SMTP down -------------------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_smtp_down_report_email_from_the_command_line_fails_clearly_and_is_logged(copied_demo) -> None:
    bridge = copied_demo()
    contract = cache_table("contract")
    with bridge.cache.connect() as conn:
        contract_no = conn.execute(select(func.min(contract.c.contract_no))).scalar()
    env = {
        "BPO2_BRIDGE_DATA_DIR": bridge.settings.data_dir,
        "BPO2_BRIDGE_TODAY": bridge.settings.today,
        "BPO2_BRIDGE_SMTP_HOST": "127.0.0.1",
        "BPO2_BRIDGE_SMTP_PORT": str(_closed_port()),
        "BPO2_BRIDGE_SMTP_TIMEOUT": "5",
    }
    out = CliRunner().invoke(main, ["report", contract_no, "--email", "buyer@customer.test"], env=env)
    assert out.exit_code == 1, out.output
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "could not be reached" in lines[0], out.stderr
    with bridge.store.connect() as conn:
        logged = conn.execute(select(email_log.c.outcome, email_log.c.contract_no, email_log.c.error)).all()
    assert [(r.outcome, r.contract_no) for r in logged] == [("failed", contract_no)] and logged[0].error


# -- a PDF worker dies -----------------------------------------------------------------------


def test_a_dead_pdf_worker_does_not_fail_the_next_download(copied_demo, login) -> None:
    bridge = copied_demo()
    client = _signed_in(bridge, login)
    rows = client.get("/contracts?format=json&sort=contract_no").get_json()["rows"]
    first, second = rows[0]["contract_no"], rows[1]["contract_no"]
    make_pdf = bridge.reports.pdf  # the app's bridge: its Downloads render there
    make_pdf.use_workers(1, warm=False)
    try:
        make_pdf.clear()
        assert client.get(f"/contracts/{first}/report.pdf").status_code == 200
        worker = make_pdf.worker_pid()
        assert worker is not None and worker != os.getpid()
        psutil.Process(worker).kill()  # out of memory, or an operator's kill, while nobody downloads
        # reaped: the pool has noticed its worker died, and refuses new documents from now on
        _wait_for(lambda: not psutil.pid_exists(worker), 30, "the killed PDF worker to be reaped")

        pdf = client.get(f"/contracts/{second}/report.pdf")
        assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
        assert pdf.data.startswith(b"%PDF")
        assert make_pdf.worker_pid() not in (None, worker)  # a new worker took over by itself
        make_pdf.clear()
        assert client.get(f"/contracts/{first}/report.pdf").status_code == 200
    finally:
        make_pdf.use_workers(0)


# -- serve stopped while busy ----------------------------------------------------------------

CLI = str(Path(sys.executable).with_name("bpo2-bridge"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _blocked_on_a_lock(admin: Any, database: str) -> int:
    """How many sessions on ``database`` wait for a lock (BPO2 busy with a long transaction)."""
    with admin.connect() as conn:
        return int(
            conn.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE datname = :d AND wait_event_type = 'Lock'"),
                {"d": database},
            ).scalar_one()
        )


def test_serve_on_a_port_in_use_says_so_in_one_line_and_exits_2(copied_demo) -> None:
    bridge = copied_demo()
    env = {
        **os.environ,
        "BPO2_BRIDGE_DATA_DIR": bridge.settings.data_dir,
        "BPO2_BRIDGE_TODAY": bridge.settings.today,
        "BPO2_BRIDGE_SECRET_KEY": "x" * 32,
        "BPO2_BRIDGE_PDF_WORKERS": "1",
    }
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [CLI, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 2, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "cannot listen" in errors[0], done.stderr
    assert "Traceback" not in done.stderr and "leaked" not in done.stderr


def _quietly(call: Callable[[], Any]) -> None:
    try:
        call()
    except requests.RequestException:
        pass  # the server went away with the request in flight


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return bool(response.status == 200)
    except urllib.error.URLError:
        return False  # not listening yet


def test_serve_stops_soon_after_sigterm_while_a_sync_waits_on_bpo2(
    fresh_database, make_settings, tmp_path
) -> None:
    url = fresh_database("postgresql")
    source_url = url.render_as_string(hide_password=False)
    overrides = {"source_url": source_url, "statement_timeout": 120}
    bridge = Bridge(make_settings(**overrides))
    build_demo(
        url,
        size="tiny",
        seed=3,
        today=bridge.settings.today_date(),
        mapping=bridge.mapping,
        share_root=tmp_path / "share",
    )
    serving = full_sync(bridge).snapshot
    create_demo_users(bridge.store)
    writer = create_engine(url)
    admin = create_engine("postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    tables = bridge.mapping.physical_metadata().tables
    contract = tables[bridge.mapping["contract"].qualified_table]
    files = tables[bridge.mapping["case_attachment"].qualified_table]
    with writer.connect() as conn:
        file_id = conn.execute(select(func.min(files.c.file_id)).where(files.c.content.is_not(None))).scalar()
    assert file_id is not None
    locked = writer.connect()
    # a long BPO2 transaction holds the contract and attachment tables: the sync's read and a
    # file download wait (up to 120 s)
    for table in (contract, files):
        locked.exec_driver_sql(f"LOCK TABLE {writer.dialect.identifier_preparer.format_table(table)}")
    port = _free_port()
    env = {
        **os.environ,
        "BPO2_BRIDGE_DATA_DIR": bridge.settings.data_dir,
        "BPO2_BRIDGE_TODAY": bridge.settings.today,
        "BPO2_BRIDGE_SOURCE_URL": source_url,
        "BPO2_BRIDGE_STATEMENT_TIMEOUT": "120",
        "BPO2_BRIDGE_SECRET_KEY": "x" * 32,
        "BPO2_BRIDGE_PDF_WORKERS": "1",
    }
    proc = subprocess.Popen(
        [CLI, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # the start-up incremental sync runs, and waits on BPO2's lock
        _wait_for(lambda: proc.poll() is not None or _blocked_on_a_lock(admin, url.database), 60, "the sync")
        assert proc.poll() is None
        # the listener may open a moment after the sync starts; it answers while the sync waits
        _wait_for(
            lambda: proc.poll() is not None or _answers(f"http://127.0.0.1:{port}/healthz"), 60, "the server"
        )
        assert proc.poll() is None
        # and a user's download waits on BPO2 too
        base = f"http://127.0.0.1:{port}"
        session = requests.Session()
        page = session.get(f"{base}/login", timeout=10).text
        token = csrf_token(page)
        signed_in = session.post(
            f"{base}/login",
            data={"login": DEMO_ADMIN_LOGIN, "password": DEMO_PASSWORD, "csrf_token": token},
            timeout=10,
        )
        assert signed_in.status_code == 200
        download = threading.Thread(
            target=lambda: _quietly(lambda: session.get(f"{base}/files/{file_id}", timeout=30)), daemon=True
        )
        download.start()
        _wait_for(lambda: _blocked_on_a_lock(admin, url.database) >= 2, 60, "the download")

        proc.send_signal(signal.SIGTERM)  # a service manager's stop
        # a generous bound: "a few seconds", not a speed measurement
        proc.wait(timeout=5)
        _, err = proc.communicate(timeout=5)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        locked.rollback()
        locked.close()
        writer.dispose()
        admin.dispose()
    assert proc.returncode == 0, err
    lines = [line for line in err.splitlines() if line.startswith("{")]
    records = [json.loads(line) for line in lines]
    assert "Traceback" not in err
    noise = [line for line in err.splitlines() if line.strip() and not line.startswith(("{", "Serving on"))]
    assert noise == [], err  # every line a log record (no warnings of leaked resources either)
    assert not [r for r in records if r["level"] in ("error", "critical") or "exc" in r], err
    assert any("abandon" in r["message"] for r in records), err  # the log says what it left

    # abandoned cleanly: the snapshot still serves, and the next sync runs at once
    assert bridge.cache.current() == serving
    after = incremental_sync(bridge)
    assert after.kind == "incremental" and after.snapshot == serving
    bridge.dispose()


# -- an incremental sync killed --------------------------------------------------------------

KILLED_INCREMENTAL = """
import json, sys, time
from bpo2_bridge.bridge import Bridge
from bpo2_bridge.settings import load_settings
from bpo2_bridge.sync import full_sync, incremental_sync

class Stall:
    def start(self, entity): pass
    def advance(self, entity, rows): pass
    def done(self, entity, rows, seconds):
        if entity == "contract":  # its changes are written, the transaction still open
            print("STALLED", flush=True)
            time.sleep(120)

incremental_sync(Bridge(load_settings(None, overrides=json.loads(sys.argv[1]), environ={})), Stall())
"""


def test_killed_incremental_sync_leaves_the_cache_as_it_was(copied_demo, kill_when_stalled) -> None:
    bridge = copied_demo()
    contract = cache_table("contract")

    def statuses() -> list[str]:
        with bridge.cache.connect() as conn:
            return list(conn.execute(select(contract.c.status).order_by(contract.c.contract_id)).scalars())

    before = statuses()
    assert set(before) != {"Suspended"}
    _set_in_source(bridge, "contract", {}, status="Suspended")
    overrides = {"data_dir": bridge.settings.data_dir, "today": bridge.settings.today}
    kill_when_stalled(KILLED_INCREMENTAL, overrides)
    assert statuses() == before  # readers never saw the half-applied sync, and never will

    result = incremental_sync(bridge)  # the dead holder's lock is taken over at once
    # every contract was touched in BPO2 (its change column moved), so every one is re-applied
    assert result.kind == "incremental" and result.changes["contract"]["changed"] == len(before)
    assert set(statuses()) == {"Suspended"}
    killed = _runs(bridge, "incremental")[-2]
    assert (killed.status, killed.error) == ("failed", INTERRUPTED)


# -- midnight without a sync -----------------------------------------------------------------


def _months_remaining(today: dt.date, expiry: dt.date) -> int:
    """The largest m with add_months(today, m) <= expiry (SPEC §3), by search."""
    m = (expiry.year - today.year) * 12 + expiry.month - today.month + 1
    while add_months(today, m) > expiry:
        m -= 1
    return m


def _window(today: dt.date, row: dict[str, Any], months: int) -> str | None:
    if row["expiry_date"] is None or row["status"] == "Cancelled":
        return None
    expiry = dt.date.fromisoformat(row["expiry_date"])
    if expiry < today:
        return "expired"
    return "expiring" if expiry <= add_months(today, months) else "current"


def _all_contracts(client: Any) -> dict[str, dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    url: str | None = "/contracts?format=json&page_size=200&sort=contract_no"
    while url:
        data = client.get(url).get_json()
        rows.update({r["contract_no"]: r for r in data["rows"]})
        url = data["next"]
    return rows


def test_midnight_without_a_sync_moves_windows_and_months_remaining(copied_demo, login) -> None:
    bridge = copied_demo()
    day1 = bridge.settings.today_date()
    day2 = day1 + dt.timedelta(days=1)
    window = bridge.settings.expiring_window_months
    contract = cache_table("contract")
    with bridge.cache.connect() as conn:
        ids = list(
            conn.execute(
                select(contract.c.contract_id)
                .where(contract.c.status == "Active")
                .order_by(contract.c.contract_id)
                .limit(2)
            ).scalars()
        )
    # one contract's last day in force is today; another's is one day past the window's end
    edges = {ids[0]: day1, ids[1]: add_months(day1, window) + dt.timedelta(days=1)}
    with bridge.cache.write() as conn:
        for contract_id, expiry in edges.items():
            conn.execute(
                update(contract).where(contract.c.contract_id == contract_id).values(expiry_date=expiry)
            )
        # the rows the grids read, derived again as a sync would
        touched = derived_rows.Touched()
        touched.note(conn, "contract", [(i,) for i in ids], ["expiry_date"])
        derived_rows.rebuild(conn, touched, bridge.settings, day1)
    runs_before = len(_runs(bridge))

    seen = {}
    for day in (day1, day2):
        on_day = Bridge(bridge.settings.replace(today=day.isoformat()))  # same cache and store
        client = _signed_in(on_day, login, DEMO_ADMIN_LOGIN)
        rows = _all_contracts(client)
        for row in rows.values():
            expiry = dt.date.fromisoformat(row["expiry_date"]) if row["expiry_date"] else None
            expected = _months_remaining(day, expiry) if expiry else None
            assert row["months_remaining"] == expected, (day, row)
            assert row["window"] == _window(day, row, window), (day, row)
        tabs = {
            tab: {
                r["contract_no"]
                for r in client.get(f"/contracts?format=json&tab={tab}&page_size=200").get_json()["rows"]
            }
            for tab in ("expired", "expiring")
        }
        seen[day] = (rows, tabs)
        on_day.dispose()
    assert len(_runs(bridge)) == runs_before  # no sync in between

    (rows1, tabs1), (rows2, tabs2) = seen[day1], seen[day2]
    today_no = _number_of(bridge, ids[0])
    edge_no = _number_of(bridge, ids[1])
    assert (rows1[today_no]["months_remaining"], rows1[today_no]["window"]) == (0, "expiring")
    assert (rows2[today_no]["months_remaining"], rows2[today_no]["window"]) == (-1, "expired")
    assert (
        today_no in tabs1["expiring"] and today_no in tabs2["expired"] and today_no not in tabs2["expiring"]
    )
    assert rows1[edge_no]["window"] == "current" and rows2[edge_no]["window"] == "expiring"
    assert edge_no not in tabs1["expiring"] and edge_no in tabs2["expiring"]
    moved = [no for no in rows1 if rows1[no]["months_remaining"] != rows2[no]["months_remaining"]]
    assert today_no in moved


def _number_of(bridge: Bridge, contract_id: int) -> str:
    contract = cache_table("contract")
    with bridge.cache.connect() as conn:
        return conn.execute(
            select(contract.c.contract_no).where(contract.c.contract_id == contract_id)
        ).scalar()
