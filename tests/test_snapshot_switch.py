"""After a full sync, a web process reads the previous snapshot until it has worked out its slow
answers again on the new one, and then switches: the first requests on the new snapshot find
their counts ready. A warm-up likely to be quick is waited for by the request that finds the new
snapshot, which then sees the new data."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from bpo2_bridge import snapshot_switch
from bpo2_bridge.demo.content import DEMO_ADMIN_LOGIN
from bpo2_bridge.sync.full import full_sync
from bpo2_bridge.web import grid_counts
from bpo2_bridge.web.app import create_app
from bpo2_bridge.web.grid_counts import COUNTS


class _Reads:
    """SELECTs sent to the cache while the block runs (not to the application store)."""

    def __init__(self, store: Engine) -> None:
        self.store = store
        self.statements: list[str] = []

    def __enter__(self) -> _Reads:
        event.listen(Engine, "before_cursor_execute", self._seen)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(Engine, "before_cursor_execute", self._seen)

    def _seen(self, conn, cursor, statement, params, context, many) -> None:  # type: ignore[no-untyped-def]
        if conn.engine is not self.store and statement.lstrip().lower().startswith("select"):
            self.statements.append(statement)


@pytest.fixture(params=["sqlite", "postgresql"])
def admin_client(request, copied_demo, fresh_database, login, monkeypatch):  # type: ignore[no-untyped-def]
    """(bridge, client) on a private demo with its cache on SQLite or PostgreSQL, signed in as
    the administrator; every count is slow enough to be worked out again on a new snapshot."""
    monkeypatch.setattr(grid_counts, "RECIPE_SECONDS", 0.0)
    COUNTS.clear()
    if request.param == "postgresql":
        url = fresh_database("postgresql").render_as_string(hide_password=False)
        bridge = copied_demo(cache_url=url)
        full_sync(bridge)
    else:
        bridge = copied_demo()
    client = create_app(bridge=bridge).test_client()
    login(client, DEMO_ADMIN_LOGIN)
    yield bridge, client
    COUNTS.clear()


def _expired(client) -> int:  # type: ignore[no-untyped-def]
    return int(client.get("/contracts?tab=expired&format=json").get_json()["total"])


@pytest.fixture
def synced(admin_client, change_expiry_in_source):  # type: ignore[no-untyped-def]
    """synced() -> expired contracts shown before: one more has expired in BPO2, and a full
    sync has published the new snapshot."""
    bridge, client = admin_client

    done: list[str] = []

    def run() -> int:
        before = _expired(client)
        rows = client.get("/contracts?tab=expiring&format=json&sort=contract_no").get_json()["rows"]
        # the page may show the snapshot before the last sync: not a contract expired already
        contract_no = next(r["contract_no"] for r in rows if r["contract_no"] not in done)
        change_expiry_in_source(bridge, contract_no, dt.date(2020, 1, 31))
        done.append(contract_no)
        full_sync(bridge)
        return before

    return run


@pytest.fixture
def stuck_warm_up(admin_client) -> Iterator[threading.Event]:  # type: ignore[no-untyped-def]
    """A warm-up that lasts until the event yielded is set (at the latest, when the test ends)."""
    bridge, _ = admin_client
    stuck = threading.Event()
    bridge.cache.switch.warm_up = lambda conn, deadline: stuck.wait(10)
    yield stuck
    stuck.set()


@pytest.fixture
def long_warm_up(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Every warm-up counts as long, as on a large cache: nobody waits for one to end."""
    monkeypatch.setattr(snapshot_switch, "QUICK_WARM_UP_SECONDS", -1.0)


def _until(ask, want: int, seconds: float) -> tuple[int, float]:  # type: ignore[no-untyped-def]
    """Ask until the answer is ``want``; the last answer and the seconds it took."""
    began = time.monotonic()
    while True:
        got = ask()
        if got == want or time.monotonic() - began > seconds:
            return got, time.monotonic() - began
        time.sleep(0.05)


def test_a_process_warms_the_new_snapshot_up_and_then_serves_it(admin_client, long_warm_up, synced) -> None:
    bridge, client = admin_client
    before = synced()

    assert _expired(client) == before  # the snapshot it had, while the new one warms up
    assert bridge.cache.switch.warm_ups == 1
    got, _ = _until(lambda: _expired(client), before + 1, snapshot_switch.WARM_UP_SECONDS + 2)
    assert got == before + 1


def test_the_first_request_after_the_switch_finds_its_counts_ready(
    admin_client, long_warm_up, synced
) -> None:
    bridge, client = admin_client
    before = synced()
    switch = bridge.cache.switch
    assert _expired(client) == before
    upcoming = switch._upcoming
    assert upcoming is not None and upcoming.done.wait(snapshot_switch.WARM_UP_SECONDS)
    with _Reads(bridge.store) as reads:
        assert _expired(client) == before + 1
    # a grid's own count; the page's rows hold counts too (machines), further in
    assert not [s for s in reads.statements if s.lower().startswith("select count(")]


def test_after_a_quick_warm_up_the_first_request_sees_the_new_data(admin_client, synced) -> None:
    bridge, client = admin_client
    before = synced()
    assert _expired(client) == before + 1
    assert bridge.cache.switch.warm_ups == 1


def test_a_warm_up_that_takes_too_long_does_not_hold_the_new_data_back(
    admin_client, long_warm_up, synced, stuck_warm_up, monkeypatch
) -> None:
    _, client = admin_client
    monkeypatch.setattr(snapshot_switch, "WARM_UP_SECONDS", 0.5)
    before = synced()
    got, waited = _until(lambda: _expired(client), before + 1, 5)
    assert got == before + 1
    assert 0.4 <= waited < 3


def test_a_previous_snapshot_deleted_during_the_warm_up_hands_over_to_the_new_one(
    admin_client, long_warm_up, synced, stuck_warm_up
) -> None:
    bridge, client = admin_client
    old = bridge.cache.current()
    assert old is not None
    before = synced()
    assert _expired(client) == before  # still on the previous snapshot
    bridge.cache.discard(old)
    assert _expired(client) == before + 1
    assert client.get("/contracts?tab=expired").status_code == 200


def test_a_quick_warm_up_that_hangs_is_waited_for_only_briefly(admin_client, synced, stuck_warm_up) -> None:
    _, client = admin_client
    before = synced()
    began = time.monotonic()
    assert _expired(client) == before  # the previous snapshot, after a short wait
    waited = time.monotonic() - began
    assert snapshot_switch.WAIT_SECONDS <= waited < snapshot_switch.WAIT_SECONDS + 2
    stuck_warm_up.set()  # the warm-up ends: the next request reads the new snapshot
    got, _ = _until(lambda: _expired(client), before + 1, 5)
    assert got == before + 1


def test_a_sync_during_the_warm_up_moves_the_process_to_the_newest_snapshot(
    admin_client, long_warm_up, synced, stuck_warm_up
) -> None:
    _, client = admin_client
    before = synced()
    assert _expired(client) == before  # warming the second snapshot up
    synced()  # a third: the first may now be deleted
    assert _expired(client) == before + 2


def test_a_process_two_syncs_behind_reads_the_newest_snapshot_at_once(
    admin_client, long_warm_up, synced, stuck_warm_up
) -> None:
    bridge, client = admin_client
    before = synced()
    full_sync(bridge)  # nothing read in between: the snapshot this process read is no longer kept
    assert _expired(client) == before + 1


def test_the_home_page_after_the_switch_reads_no_tiles_or_activities_again(
    admin_client, long_warm_up, synced
) -> None:
    bridge, client = admin_client
    assert client.get("/").status_code == 200
    synced()
    assert client.get("/").status_code == 200  # the previous snapshot; the warm-up begins
    upcoming = bridge.cache.switch._upcoming
    assert upcoming is not None and upcoming.done.wait(snapshot_switch.WARM_UP_SECONDS)
    with _Reads(bridge.store) as reads:
        assert client.get("/").status_code == 200
    assert reads.statements == []
