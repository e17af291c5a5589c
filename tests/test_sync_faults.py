"""A sync that fails or is killed leaves the previous snapshot serving, unchanged, with the
failure recorded; the next sync succeeds. The application store outlives the cache."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import sqlglot
from click.testing import CliRunner
from sqlalchemy import create_engine, select, text, update
from sqlalchemy.dialects import mssql

from bpo2_bridge.bridge import Bridge
from bpo2_bridge.cache.schema import cache_table
from bpo2_bridge.cache.snapshots import CacheMissing
from bpo2_bridge.cli import main
from bpo2_bridge.demo.generate import build_demo
from bpo2_bridge.jobs import BY_NAME
from bpo2_bridge.scheduler import start_scheduler
from bpo2_bridge.source.engines import SourceError
from bpo2_bridge.source.reflection import offline_schema, select_watermark
from bpo2_bridge.store.database import locks, sync_runs, users
from bpo2_bridge.sync import (
    SyncBusy,
    SyncFailed,
    clean_abandoned,
    full_sync,
    incremental_sync,
    refresh_customer,
)
from bpo2_bridge.sync.full import SyncStopped
from bpo2_bridge.sync.history import INTERRUPTED
from bpo2_bridge.sync.plan import dump_watermark, load_watermark

CLI = str(Path(sys.executable).with_name("bpo2-bridge"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_healthy(base: str, proc: subprocess.Popen[str], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        assert proc.poll() is None, f"serve exited with {proc.returncode}"
        assert time.monotonic() < deadline, f"serve did not answer in {seconds} s"
        time.sleep(0.2)


def _demo(bridge: Bridge, url: Any, tmp_path: Path) -> None:
    build_demo(
        url,
        size="tiny",
        seed=5,
        today=bridge.settings.today_date(),
        mapping=bridge.mapping,
        share_root=tmp_path / "s",
    )


def _contracts(bridge: Bridge) -> list[tuple[Any, ...]]:
    table = cache_table("contract")
    with bridge.cache.connect() as conn:
        return [tuple(r) for r in conn.execute(select(table).order_by(table.c.contract_id))]


def _suspend_all(url: Any, bridge: Bridge) -> None:
    table = bridge.mapping.physical_metadata().tables[bridge.mapping["contract"].qualified_table]
    writer = create_engine(url)
    with writer.begin() as conn:
        conn.execute(update(table).values(status="Suspended"))
    writer.dispose()


class CutSource:
    """Progress hook that kills every PostgreSQL session on the source in mid-stream."""

    def __init__(self, database: str, entity: str) -> None:
        self.database, self.entity, self.cut = database, entity, False

    def start(self, entity: str) -> None:
        pass

    def advance(self, entity: str, rows: int) -> None:
        if entity == self.entity and not self.cut:
            self.cut = True
            admin = create_engine(
                "postgresql+psycopg://postgres@127.0.0.1:5432/postgres", isolation_level="AUTOCOMMIT"
            )
            with admin.connect() as conn:
                conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :d AND pid <> pg_backend_pid()"
                    ),
                    {"d": self.database},
                )
            admin.dispose()

    def done(self, entity: str, rows: int, seconds: float) -> None:
        pass


def test_source_cut_mid_sync_keeps_previous_snapshot(fresh_database, make_settings, tmp_path) -> None:
    url = fresh_database("postgresql")
    bridge = Bridge(make_settings(source_url=url.render_as_string(hide_password=False), sync_batch_size=100))
    _demo(bridge, url, tmp_path)
    first = full_sync(bridge)
    before = _contracts(bridge)
    _suspend_all(url, bridge)

    with pytest.raises(SyncFailed) as failed:
        full_sync(bridge, CutSource(url.database, "meter_reading"))
    assert "meter_reading" in str(failed.value)
    assert bridge.cache.current() == first.snapshot
    assert _contracts(bridge) == before  # still the previous snapshot, unchanged
    _at, reason = bridge.cache.last_failure()
    assert "meter_reading" in reason
    assert len(bridge.cache.list_snapshots()) == 1  # the half-written one is gone

    again = full_sync(bridge)
    assert again.snapshot != first.snapshot
    assert {row[5] for row in _contracts(bridge)} == {"Suspended"}
    assert bridge.cache.last_failure() is None
    bridge.dispose()


KILLED_SYNC = """
import json, sys, time
from bpo2_bridge.bridge import Bridge
from bpo2_bridge.settings import load_settings
from bpo2_bridge.sync import full_sync

class Stall:
    def start(self, entity): pass
    def advance(self, entity, rows):
        if entity == "meter_reading":
            print("STALLED", flush=True)
            time.sleep(120)
    def done(self, entity, rows, seconds): pass

full_sync(Bridge(load_settings(None, overrides=json.loads(sys.argv[1]), environ={})), Stall())
"""


def test_killed_sync_keeps_previous_snapshot_and_next_sync_succeeds(
    make_settings, tmp_path, kill_when_stalled
) -> None:
    overrides = {"data_dir": str(tmp_path / "data"), "today": "2026-11-22", "sync_batch_size": 100}
    settings = make_settings(**overrides)
    bridge = Bridge(settings)
    url = f"sqlite:///{settings.demo_source_path}"
    settings.demo_source_path.parent.mkdir(parents=True, exist_ok=True)
    _demo(bridge, url, tmp_path)
    first = full_sync(bridge)
    before = _contracts(bridge)
    _suspend_all(url, bridge)

    kill_when_stalled(KILLED_SYNC, overrides)
    assert bridge.cache.current() == first.snapshot
    assert _contracts(bridge) == before
    assert len(bridge.cache.list_snapshots()) == 2  # the killed one's half-written file

    again = full_sync(bridge)  # the dead holder's lock is taken over at once
    assert {row[5] for row in _contracts(bridge)} == {"Suspended"}
    assert bridge.cache.list_snapshots() == sorted([first.snapshot, again.snapshot])
    with bridge.store.connect() as conn:
        killed = conn.execute(select(sync_runs).where(sync_runs.c.id == again.run_id - 1)).one()
    assert (killed.status, killed.error) == ("failed", INTERRUPTED)
    bridge.dispose()


def _killed_mid_full_sync(make_settings, tmp_path, kill_when_stalled) -> tuple[Bridge, str, dict[str, Any]]:
    """A synced demo whose next full sync was killed while writing its snapshot."""
    overrides = {"data_dir": str(tmp_path / "data"), "today": "2026-11-22", "sync_batch_size": 100}
    settings = make_settings(**overrides)
    bridge = Bridge(settings)
    settings.demo_source_path.parent.mkdir(parents=True, exist_ok=True)
    _demo(bridge, f"sqlite:///{settings.demo_source_path}", tmp_path)
    first = full_sync(bridge)
    kill_when_stalled(KILLED_SYNC, overrides)
    assert len(bridge.cache.list_snapshots()) == 2  # the killed one's half-written file
    return bridge, first.snapshot, overrides


def _last_full_run(bridge: Bridge) -> Any:
    with bridge.store.connect() as conn:
        return conn.execute(
            select(sync_runs).where(sync_runs.c.kind == "full").order_by(sync_runs.c.id.desc())
        ).first()


def test_an_incremental_sync_deletes_what_a_killed_full_sync_left(
    make_settings, tmp_path, kill_when_stalled
) -> None:
    bridge, serving, _ = _killed_mid_full_sync(make_settings, tmp_path, kill_when_stalled)
    result = incremental_sync(bridge)
    assert result.kind == "incremental" and result.snapshot == serving
    assert bridge.cache.list_snapshots() == [serving]
    bridge.dispose()


def test_the_scheduler_deletes_at_start_what_a_killed_full_sync_left(
    make_settings, tmp_path, kill_when_stalled
) -> None:
    bridge, serving, _ = _killed_mid_full_sync(make_settings, tmp_path, kill_when_stalled)
    scheduler = start_scheduler(bridge, jobs=())
    scheduler.shutdown(wait=False)
    assert bridge.cache.list_snapshots() == [serving]
    killed = _last_full_run(bridge)
    assert (killed.status, killed.error) == ("failed", INTERRUPTED)  # no longer "running"
    bridge.dispose()


def test_serve_deletes_at_start_what_a_killed_full_sync_left(
    make_settings, tmp_path, kill_when_stalled
) -> None:
    bridge, serving, overrides = _killed_mid_full_sync(make_settings, tmp_path, kill_when_stalled)
    port = _free_port()
    env = {
        **os.environ,
        "BPO2_BRIDGE_DATA_DIR": overrides["data_dir"],
        "BPO2_BRIDGE_TODAY": overrides["today"],
        "BPO2_BRIDGE_SECRET_KEY": "x" * 32,
        "BPO2_BRIDGE_PDF_WORKERS": "0",
    }
    command = [CLI, "serve", "--port", str(port), "--no-scheduler"]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _wait_healthy(f"http://127.0.0.1:{port}", proc)
        assert bridge.cache.list_snapshots() == [serving]
        assert bridge.cache.current() == serving
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert "Traceback" not in err, err
    bridge.dispose()


STALLED_SYNC = KILLED_SYNC  # the same script; this time it is left running while others start


def test_a_live_sync_elsewhere_keeps_its_snapshot_while_others_start(
    make_settings, tmp_path, kill_when_stalled
) -> None:
    bridge, serving, overrides = _killed_mid_full_sync(make_settings, tmp_path, kill_when_stalled)
    incremental_sync(bridge)  # the killed one's file is gone
    child = subprocess.Popen(
        [sys.executable, "-c", STALLED_SYNC, json.dumps(overrides)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "STALLED"
        writing = [name for name in bridge.cache.list_snapshots() if name != serving]
        assert len(writing) == 1
        assert clean_abandoned(bridge) == []  # serve --no-scheduler starting meanwhile
        start_scheduler(bridge, jobs=()).shutdown(wait=False)
        with pytest.raises(SyncBusy):
            incremental_sync(bridge)
        assert bridge.cache.list_snapshots() == sorted([serving, *writing])
    finally:
        child.kill()
        child.wait()
    assert clean_abandoned(bridge) == writing  # now it is dead: its file goes
    assert bridge.cache.list_snapshots() == [serving]
    bridge.dispose()


def test_a_sync_lease_held_on_another_host_keeps_unpublished_snapshots(
    make_settings, tmp_path, kill_when_stalled
) -> None:
    bridge, serving, _ = _killed_mid_full_sync(make_settings, tmp_path, kill_when_stalled)
    with bridge.store.begin() as conn:  # a sync running on another web host, its lease fresh
        conn.execute(locks.delete().where(locks.c.name == "sync"))
        conn.execute(
            locks.insert().values(
                name="sync",
                holder="other-host:4242:0a0b0c0d",
                expires_at=dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(minutes=5),
            )
        )
    assert clean_abandoned(bridge) == []
    snapshots = bridge.cache.list_snapshots()
    assert len(snapshots) == 2 and serving in snapshots
    bridge.dispose()


class StopWhileReading:
    """Progress hook: the process is told to stop (serve got SIGTERM) while meter readings stream."""

    def __init__(self, bridge: Bridge) -> None:
        self.bridge = bridge

    def start(self, entity: str) -> None:
        pass

    def advance(self, entity: str, rows: int) -> None:
        if entity == "meter_reading":
            self.bridge.stopping.set()

    def done(self, entity: str, rows: int, seconds: float) -> None:
        pass


def test_a_sync_told_to_stop_ends_at_its_next_batch_and_leaves_nothing_behind(
    make_settings, tmp_path, caplog
) -> None:
    settings = make_settings(sync_batch_size=100)
    bridge = Bridge(settings)
    settings.demo_source_path.parent.mkdir(parents=True, exist_ok=True)
    _demo(bridge, f"sqlite:///{settings.demo_source_path}", tmp_path)
    serving = full_sync(bridge).snapshot
    before = _contracts(bridge)

    with pytest.raises(SyncStopped):
        full_sync(bridge, StopWhileReading(bridge))
    assert bridge.cache.list_snapshots() == [serving]  # its half-written snapshot is gone now
    assert _contracts(bridge) == before
    stopped = _last_full_run(bridge)
    assert (stopped.status, stopped.error) == ("failed", "interrupted: the process was stopping")

    # the scheduler's job says so in the log, as information, not as a failure to retry
    with caplog.at_level(logging.INFO, logger="bpo2_bridge"):
        scheduler = start_scheduler(bridge, jobs=(BY_NAME["incremental_sync"],))
        try:
            deadline = time.monotonic() + 60
            while not any("stopped: the process is stopping" in r.getMessage() for r in caplog.records):
                assert time.monotonic() < deadline, "the job did not run"
                time.sleep(0.1)
        finally:
            scheduler.shutdown(wait=True)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not [r for r in caplog.records if "retry in" in r.getMessage()]

    bridge.stopping.clear()  # started again: the lease is free, the next sync runs
    assert full_sync(bridge).snapshot != serving
    bridge.dispose()


def test_refresh_with_source_unreachable_leaves_cache_untouched(make_settings, tmp_path) -> None:
    settings = make_settings()
    bridge = Bridge(settings)
    settings.demo_source_path.parent.mkdir(parents=True, exist_ok=True)
    _demo(bridge, f"sqlite:///{settings.demo_source_path}", tmp_path)
    full_sync(bridge)
    before = _contracts(bridge)
    account = "ACC00001"
    settings.demo_source_path.rename(settings.demo_source_path.with_suffix(".away"))
    bridge.dispose()
    offline = Bridge(settings)
    with pytest.raises(SourceError):
        refresh_customer(offline, account)
    with pytest.raises(SyncFailed, match="unreachable"):
        incremental_sync(offline)
    assert _contracts(offline) == before
    assert offline.cache.last_failure() is not None
    offline.dispose()


def test_store_survives_cache_loss_and_rebuild(make_settings, tmp_path) -> None:
    settings = make_settings()
    bridge = Bridge(settings)
    settings.demo_source_path.parent.mkdir(parents=True, exist_ok=True)
    _demo(bridge, f"sqlite:///{settings.demo_source_path}", tmp_path)
    first = full_sync(bridge)
    with bridge.store.begin() as conn:
        conn.execute(users.insert().values(login="ann", role="user", created_at=settings.now()))

    bridge.cache.dispose()
    for path in bridge.cache.folder.iterdir():
        path.unlink()  # someone deletes the cache files
    assert not bridge.cache.exists()
    with pytest.raises(CacheMissing), bridge.cache.connect():
        pass
    result = incremental_sync(bridge)  # no snapshot: builds one
    assert result.kind == "full" and bridge.cache.exists()

    runner = CliRunner()
    env = {"BPO2_BRIDGE_DATA_DIR": settings.data_dir, "BPO2_BRIDGE_TODAY": settings.today}
    out = runner.invoke(main, ["cache", "rebuild", "--format", "json"], env=env)
    assert out.exit_code == 0, out.output
    rebuilt = json.loads(out.stdout)["snapshot"]
    assert bridge.cache.list_snapshots() == [rebuilt]
    with bridge.store.connect() as conn:
        assert conn.execute(select(users.c.login)).scalars().all() == ["ann"]
        kinds = conn.execute(select(sync_runs.c.kind).order_by(sync_runs.c.id)).scalars().all()
    assert kinds == ["full", "full", "full"] and first.snapshot not in bridge.cache.list_snapshots()
    bridge.dispose()


class Slow:
    """A slow cache side: each batch takes a while to write."""

    def start(self, entity: str) -> None:
        pass

    def advance(self, entity: str, rows: int) -> None:
        if entity == "meter_reading":
            time.sleep(0.4)

    def done(self, entity: str, rows: int, seconds: float) -> None:
        pass


def test_reading_a_table_may_outlast_the_statement_timeout(make_settings, tmp_path) -> None:
    settings = make_settings(statement_timeout=1, sync_batch_size=100)
    bridge = Bridge(settings)
    settings.demo_source_path.parent.mkdir(parents=True, exist_ok=True)
    _demo(bridge, f"sqlite:///{settings.demo_source_path}", tmp_path)
    result = full_sync(bridge, Slow())  # the time limit applies to each batch, not the whole table
    assert result.rows["meter_reading"] > 300
    bridge.dispose()


# -- a change value in the future ------------------------------------------------------------


def _touch(url: Any, bridge: Bridge, contract_id: int, stamp: dt.datetime) -> None:
    """A contract changed in BPO2, its change column stamped ``stamp``."""
    em = bridge.mapping["contract"]
    table = bridge.mapping.physical_metadata().tables[em.qualified_table]
    change = next(c.key for c in table.c if c.name == em.change_column)
    writer = create_engine(url)
    with writer.begin() as conn:
        conn.execute(
            update(table)
            .where(table.c.contract_id == contract_id)
            .values(status="Suspended", **{change: stamp})
        )
    writer.dispose()


def _status(bridge: Bridge, contract_id: int) -> str:
    table = cache_table("contract")
    with bridge.cache.connect() as conn:
        return str(
            conn.execute(select(table.c.status).where(table.c.contract_id == contract_id)).scalar_one()
        )


def _stored_watermark(bridge: Bridge) -> Any:
    with bridge.cache.connect() as conn:
        return load_watermark(bridge.cache.read_meta(conn)["watermark.contract"])


@pytest.mark.parametrize("kind", ["sqlite", "postgresql", "mariadb"])
def test_a_change_value_in_the_future_does_not_hide_later_changes(
    kind, fresh_database, make_settings, tmp_path, caplog
) -> None:
    url = fresh_database(kind)
    bridge = Bridge(make_settings(source_url=url.render_as_string(hide_password=False)))
    _demo(bridge, url, tmp_path)
    full_sync(bridge)
    ids = [row[0] for row in _contracts(bridge) if row[5] != "Suspended"][:4]
    assert len(ids) == 4
    future = dt.datetime(2030, 1, 1)

    # one row stamped in 2030 (a client's clock, a typo in a data fix)
    _touch(url, bridge, ids[0], future)
    with caplog.at_level(logging.WARNING, logger="bpo2_bridge.sync"):
        incremental_sync(bridge)
    assert _status(bridge, ids[0]) == "Suspended"
    capped = [r for r in caplog.records if "capped at BPO2's clock" in r.getMessage()]
    assert capped and "2030-01-01" in capped[0].getMessage() and capped[0].levelname == "WARNING"
    assert _stored_watermark(bridge) < future

    # changes stamped "now" are still seen
    _touch(url, bridge, ids[1], bridge.settings.now())
    incremental_sync(bridge)
    assert _status(bridge, ids[1]) == "Suspended"

    # a full sync stores a watermark within BPO2's clock too, and the next change is seen
    full_sync(bridge)
    assert _stored_watermark(bridge) < future
    _touch(url, bridge, ids[2], bridge.settings.now())
    incremental_sync(bridge)
    assert _status(bridge, ids[2]) == "Suspended"

    # a snapshot that stored a watermark in the future (before the cap existed) is cured by the
    # next incremental sync: every row compared once, the change meanwhile not lost
    with bridge.cache.write() as conn:
        bridge.cache.write_meta(conn, {"watermark.contract": str(dump_watermark(future))})
    _touch(url, bridge, ids[3], bridge.settings.now())
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="bpo2_bridge.sync"):
        incremental_sync(bridge)
    assert _status(bridge, ids[3]) == "Suspended"
    assert any("later than BPO2's clock" in r.getMessage() for r in caplog.records)
    assert _stored_watermark(bridge) < future
    bridge.dispose()


def test_the_watermark_reads_the_source_clock_in_tsql(make_settings) -> None:
    schema = offline_schema(Bridge(make_settings()).mapping)
    sql = str(select_watermark(schema, "contract").compile(dialect=mssql.dialect()))
    assert "SYSUTCDATETIME()" in sql
    parsed = sqlglot.parse(sql, read="tsql")
    assert len(parsed) == 1 and isinstance(parsed[0], sqlglot.exp.Select)
