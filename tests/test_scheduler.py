"""The job registry, the store lease, and one runner across processes."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import select

from bpo2_bridge.bridge import Bridge
from bpo2_bridge.demo.generate import build_demo_file
from bpo2_bridge.jobs import BY_NAME, JOBS, next_runs
from bpo2_bridge.store.database import locks, open_store, sync_runs
from bpo2_bridge.sync.lease import Lease


def test_registry_lists_each_job_with_deliberate_options(settings) -> None:
    assert [j.name for j in JOBS] == [
        "incremental_sync",
        "full_sync",
        "contract_counts",
        "sql_checks",
        "schema_check",
        "prune_history",
        "expiry_digest",
    ]
    for job in JOBS:
        assert job.coalesce and job.max_instances == 1 and job.help
        assert job.misfire_grace_time(settings) > 0
    now = dt.datetime(2026, 11, 22, 10, 0, tzinfo=settings.tz)
    runs = next_runs(settings, now=now)
    assert runs["incremental_sync"] == now + dt.timedelta(minutes=settings.incremental_interval_minutes)
    assert runs["full_sync"].replace(tzinfo=None) == dt.datetime(2026, 11, 23, 2, 0)
    assert runs["sql_checks"].replace(tzinfo=None) == dt.datetime(2026, 11, 23, 6, 0)
    assert runs["contract_counts"].replace(tzinfo=None) == dt.datetime(2026, 11, 23, 0, 1)
    assert runs["prune_history"].replace(tzinfo=None) == dt.datetime(2026, 11, 23, 3, 30)
    assert runs["schema_check"] == now + dt.timedelta(hours=1)
    assert BY_NAME["incremental_sync"].run_at_start
    assert "expiry_digest" not in runs  # off until an administrator turns it on


def test_lease_has_one_holder_until_released_or_expired(settings) -> None:
    store = open_store(settings)
    first, second = Lease(store, "job", 1), Lease(store, "job", 1)
    assert first.acquire()
    assert not second.acquire()
    assert first.renew() and not second.renew()
    first.release()
    assert second.acquire()
    time.sleep(1.2)  # second's lease runs out without renewal
    assert first.acquire()
    assert not second.renew()
    store.dispose()


def test_lease_of_a_dead_process_on_this_host_is_taken_over(settings) -> None:
    store = open_store(settings)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    with store.begin() as conn:
        conn.execute(
            locks.insert().values(
                name="sync",
                holder=f"{socket.gethostname()[:80]}:{gone.pid}:dead",
                expires_at=dt.datetime(2999, 1, 1),
            )
        )
    lease = Lease(store, "sync", 60)
    assert lease.acquire()
    with store.connect() as conn:
        assert conn.execute(select(locks.c.holder)).scalar() == lease.holder
    store.dispose()


TICKER = """
import datetime as dt, json, sys, time
from apscheduler.triggers.interval import IntervalTrigger
from bpo2_bridge.bridge import Bridge
from bpo2_bridge.jobs import Job
from bpo2_bridge.scheduler import start_scheduler
from bpo2_bridge.settings import load_settings

overrides, out, start = json.loads(sys.argv[1]), sys.argv[2], dt.datetime.fromisoformat(sys.argv[3])

def tick(bridge):
    with open(out, "a") as f:
        f.write(f"{dt.datetime.now():%H:%M:%S} {__import__('os').getpid()}\\n")

job = Job("tick", lambda s: IntervalTrigger(seconds=1, start_date=start), tick, lambda s: 1)
scheduler = start_scheduler(Bridge(load_settings(None, overrides=overrides, environ={})), jobs=(job,))
print("UP", flush=True)
time.sleep(float(sys.argv[4]))
scheduler.shutdown()
"""


def test_two_scheduler_processes_run_each_firing_once(make_settings, tmp_path) -> None:
    overrides = {"data_dir": str(tmp_path / "data"), "scheduler_lock_seconds": 10}
    open_store(make_settings(**overrides)).dispose()  # the store exists before both start
    out = tmp_path / "ticks.txt"
    start = (dt.datetime.now() + dt.timedelta(seconds=2)).replace(microsecond=0)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", TICKER, json.dumps(overrides), str(out), start.isoformat(), "6"],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for proc in procs:
        assert proc.wait(timeout=60) == 0
    ticks = [line.split() for line in out.read_text().splitlines()]
    seconds = [t[0] for t in ticks]
    assert len(ticks) >= 3
    assert len(seconds) == len(set(seconds))  # no firing ran twice
    runners = [t[1] for t in ticks]
    handovers = sum(1 for a, b in itertools.pairwise(runners) if a != b)
    assert handovers <= 1  # one runner; at most a hand-over when the first one shuts down


def test_standalone_scheduler_commands_started_together_sync_once(make_settings, tmp_path) -> None:
    settings = make_settings(scheduler_lock_seconds=10)
    bridge = Bridge(settings)
    build_demo_file(
        settings.demo_source_path,
        size="tiny",
        seed=1,
        today=settings.today_date(),
        mapping=bridge.mapping,
        share_root=tmp_path / "share",
    )
    bridge.store.dispose()  # the store exists before both start
    env = {
        **os.environ,
        "BPO2_BRIDGE_DATA_DIR": settings.data_dir,
        "BPO2_BRIDGE_TODAY": settings.today,
        "BPO2_BRIDGE_SCHEDULER_LOCK_SECONDS": "10",
    }
    command = [str(Path(sys.executable).with_name("bpo2-bridge")), "scheduler"]
    procs = [subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL) for _ in range(2)]
    try:
        deadline = time.monotonic() + 60
        runs: list[tuple[str, str]] = []
        while time.monotonic() < deadline:
            with bridge.store.connect() as conn:
                runs = [tuple(r) for r in conn.execute(select(sync_runs.c.kind, sync_runs.c.status))]
            if runs and all(status != "running" for _, status in runs):
                break
            time.sleep(0.2)
        time.sleep(2)  # the standby process had every chance to run its start-up sync too
        with bridge.store.connect() as conn:
            runs = [tuple(r) for r in conn.execute(select(sync_runs.c.kind, sync_runs.c.status))]
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)
    assert runs == [("full", "ok")]  # the start-up incremental found no cache and built it, once
    assert bridge.cache.exists()
    bridge.dispose()


def test_scheduler_command_stops_cleanly_on_a_service_managers_stop(make_settings, tmp_path) -> None:
    """SIGTERM (systemd's or the Windows service wrapper's stop) ends it as Ctrl+C does: exit 0
    within seconds, no traceback, and the scheduler lease is free for a standby at once."""
    from bpo2_bridge.scheduler import LEASE_NAME

    settings = make_settings(scheduler_lock_seconds=600)  # a lease left held would block for 10 min
    bridge = Bridge(settings)
    build_demo_file(
        settings.demo_source_path,
        size="tiny",
        seed=1,
        today=settings.today_date(),
        mapping=bridge.mapping,
        share_root=tmp_path / "share",
    )
    env = {**os.environ, "BPO2_BRIDGE_DATA_DIR": settings.data_dir, "BPO2_BRIDGE_TODAY": settings.today}
    env["BPO2_BRIDGE_SCHEDULER_LOCK_SECONDS"] = "600"
    command = [str(Path(sys.executable).with_name("bpo2-bridge")), "scheduler"]
    proc = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not bridge.cache.exists():  # its start-up sync
            time.sleep(0.2)
        assert bridge.cache.exists()
        assert not Lease(bridge.store, LEASE_NAME, 600).acquire()  # held by the scheduler
        proc.terminate()
        assert proc.wait(timeout=10) == 0
        err = proc.stderr.read() if proc.stderr else ""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "Traceback" not in err, err
    assert Lease(bridge.store, LEASE_NAME, 600).acquire()  # released on the way out
    bridge.dispose()


def test_a_requested_full_sync_waits_while_another_sync_holds_the_lock(copied_demo) -> None:
    from bpo2_bridge.sync import requests as sync_requests
    from bpo2_bridge.sync.lease import sync_lease
    from bpo2_bridge.sync.results import SyncBusy

    bridge = copied_demo()
    made, new = sync_requests.request(bridge.store, "full", "ops", bridge.settings.now())
    assert new
    assert sync_requests.request(bridge.store, "full", "ops2", bridge.settings.now()) == (made, False)
    other = sync_lease(bridge.store, 60)
    assert other.acquire()  # a sync started by hand elsewhere
    try:
        started = time.monotonic()
        try:
            sync_requests.run_pending(bridge)
            raise AssertionError("ran beside another sync")
        except SyncBusy:
            pass
        assert time.monotonic() - started < 10
        assert sync_requests.pending(bridge.store) == made  # still waiting, for the next look
    finally:
        other.release()
    result = sync_requests.run_pending(bridge)
    assert result is not None and result.kind == "full"
    assert sync_requests.pending(bridge.store) is None
    assert sync_requests.run_pending(bridge) is None  # nothing left to do


def test_schema_check_job_stores_what_it_found(copied_demo, tmp_path) -> None:
    from bpo2_bridge.store.schema_checks import latest

    bridge = copied_demo()
    found = BY_NAME["schema_check"].func(bridge)
    assert found.fits and latest(bridge.store) == found and found.checked_by == "scheduler"
    gone = copied_demo(source_url=f"sqlite:///{tmp_path / 'missing' / 'bpo2.sqlite'}")
    BY_NAME["schema_check"].func(gone)
    stored = latest(gone.store)
    assert stored is not None and not stored.reachable and "unreachable" in (stored.error or "")
