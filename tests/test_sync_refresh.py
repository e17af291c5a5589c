"""Refresh presses for one customer that arrive together share one run."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest
from sqlalchemy import select

from bpo2_bridge.bridge import Bridge
from bpo2_bridge.demo.generate import build_demo_file
from bpo2_bridge.store.database import sync_runs
from bpo2_bridge.sync import UnknownCustomer, full_sync, refresh_customer


@pytest.fixture
def bridge(make_settings, tmp_path):
    settings = make_settings()
    bridge = Bridge(settings)
    build_demo_file(
        settings.demo_source_path,
        size="tiny",
        seed=6,
        today=settings.today_date(),
        mapping=bridge.mapping,
        share_root=tmp_path / "share",
    )
    full_sync(bridge)
    yield bridge
    bridge.dispose()


def _customer_runs(bridge: Bridge) -> list[tuple[int, str]]:
    with bridge.store.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                select(sync_runs.c.id, sync_runs.c.status).where(sync_runs.c.kind == "customer")
            )
        ]


def test_concurrent_refreshes_of_one_customer_share_one_run(bridge: Bridge) -> None:
    blocker = sqlite3.connect(bridge.cache.path(bridge.cache.current()), isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # the first refresh now waits to write
    results: list[object] = []

    def press() -> None:
        results.append(refresh_customer(bridge, "ACC00001"))

    first = threading.Thread(target=press)
    first.start()
    deadline = time.monotonic() + 20
    while not _customer_runs(bridge) and time.monotonic() < deadline:
        time.sleep(0.02)
    others = [threading.Thread(target=press) for _ in range(3)]
    for thread in others:
        thread.start()
    time.sleep(0.3)
    blocker.execute("ROLLBACK")
    blocker.close()
    for thread in [first, *others]:
        thread.join(timeout=30)
    assert len(results) == 4
    assert len({id(r) for r in results}) == 1  # the very same result
    assert _customer_runs(bridge) == [(results[0].run_id, "ok")]  # type: ignore[attr-defined]
    refresh_customer(bridge, "ACC00001")  # a later press runs again
    assert len(_customer_runs(bridge)) == 2


def test_unknown_account_is_refused_and_recorded(bridge: Bridge) -> None:
    with pytest.raises(UnknownCustomer):
        refresh_customer(bridge, "NO-SUCH")
    assert _customer_runs(bridge)[-1][1] == "failed"
    assert bridge.cache.last_failure() is None  # one customer's refresh says nothing of the cache
