"""A web process keeps at most KEPT_CONNECTIONS cache connections open. Threads beyond them (most
of them waiting for a PDF) still get a connection when they ask, and it is closed after."""

from __future__ import annotations

import sqlite3
import time
from contextlib import ExitStack

import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.pool import Pool

from bpo2_bridge.bridge import Bridge
from bpo2_bridge.cache.engines import KEPT_CONNECTIONS
from bpo2_bridge.sync.full import full_sync


class _SqliteConnections:
    """SQLite connections opened and not yet closed since entering, from the pools' own events
    (the store's pooled connection was opened before). Not the process's descriptors on the
    file: SQLite keeps a closed connection's descriptor while others hold locks on the file."""

    def __init__(self) -> None:
        self.open = 0

    def __enter__(self) -> _SqliteConnections:
        event.listen(Pool, "connect", self._connected)
        event.listen(Pool, "close", self._closed)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(Pool, "connect", self._connected)
        event.remove(Pool, "close", self._closed)

    def _connected(self, dbapi_conn, record) -> None:  # type: ignore[no-untyped-def]
        self.open += isinstance(dbapi_conn, sqlite3.Connection)

    def _closed(self, dbapi_conn, record) -> None:  # type: ignore[no-untyped-def]
        self.open -= isinstance(dbapi_conn, sqlite3.Connection)


def _bridge_on(kind: str, copied_demo, fresh_database) -> Bridge:  # type: ignore[no-untyped-def]
    """The demo bridge with its cache on ``kind`` (a PostgreSQL cache synced from the demo)."""
    if kind == "sqlite":
        bridge: Bridge = copied_demo()
        return bridge
    url = fresh_database("postgresql").render_as_string(hide_password=False)
    bridge = copied_demo(cache_url=url)
    full_sync(bridge)
    return bridge


def _pg_backends(url: str) -> int:
    probe = create_engine(url)
    try:
        with probe.connect() as conn:
            sql = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            return int(conn.exec_driver_sql(sql).scalar_one())
    finally:
        probe.dispose()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_every_thread_gets_a_cache_connection_and_only_the_kept_ones_stay_open(
    kind, copied_demo, fresh_database
) -> None:
    threads = KEPT_CONNECTIONS + 4
    url = fresh_database("postgresql").render_as_string(hide_password=False) if kind == "postgresql" else None
    bridge: Bridge = copied_demo(threads=threads, **({"cache_url": url} if url else {}))
    if url:
        full_sync(bridge)
    with _SqliteConnections() as sqlite:

        def open_connections(expected: int) -> int:
            # a PostgreSQL backend leaves a moment after its client closed the connection
            deadline = time.monotonic() + 10
            while (found := _pg_backends(url) if url else sqlite.open) != expected:
                if time.monotonic() > deadline:
                    return found
                time.sleep(0.1)
            return found

        with ExitStack() as busy:  # every thread busy at once
            conns = [busy.enter_context(bridge.cache.connect()) for _ in range(threads)]
            counts = {conn.execute(text("SELECT count(*) FROM customer")).scalar_one() for conn in conns}
            assert open_connections(threads) == threads
        assert len(counts) == 1 and counts.pop() > 0  # all read the same snapshot
        assert open_connections(KEPT_CONNECTIONS) == KEPT_CONNECTIONS
        bridge.cache.dispose()
        assert open_connections(0) == 0


def test_a_connection_reading_a_retired_snapshot_is_closed_when_released(copied_demo) -> None:
    bridge: Bridge = copied_demo()
    first = bridge.cache.current()
    with _SqliteConnections() as sqlite:
        with bridge.cache.connect() as held:  # a request still reading when the sync switches
            before = held.execute(text("SELECT count(*) FROM customer")).scalar_one()
            full_sync(bridge)
            assert bridge.cache.current() != first
            with bridge.cache.connect() as fresh:  # the next request reads the new snapshot
                assert fresh.execute(text("SELECT count(*) FROM customer")).scalar_one() == before
            assert held.execute(text("SELECT count(*) FROM customer")).scalar_one() == before
            reading = sqlite.open
        # the held one is closed; the new snapshot's stays pooled for the next request
        assert sqlite.open == reading - 1


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_after_a_busy_spell_requests_reuse_one_warm_connection(kind, copied_demo, fresh_database) -> None:
    bridge = _bridge_on(kind, copied_demo, fresh_database)
    with ExitStack() as busy:  # four requests at once leave four connections in the pool
        for _ in range(4):
            busy.enter_context(bridge.cache.connect())
    used = set()
    for _ in range(8):  # then one at a time: the same connection, its caches warm, not each in turn
        with bridge.cache.connect() as conn:
            conn.execute(text("SELECT count(*) FROM customer")).scalar_one()
            used.add(id(conn.connection.driver_connection))
    assert len(used) == 1


def test_a_page_reads_the_cache_on_one_connection(make_app, copied_demo) -> None:
    """Sign-in's employee, the view and the layout share the request's connection."""
    from bpo2_bridge.demo.content import DEMO_SALESMAN_LOGIN

    from .helpers import sign_in

    bridge: Bridge = copied_demo()
    client = make_app(bridge).test_client()
    sign_in(client, DEMO_SALESMAN_LOGIN)
    account = client.get("/customers?format=json").get_json()["rows"][0]["account_no"]
    checkouts: list[str] = []

    def checked_out(dbapi_conn, record, proxy) -> None:  # type: ignore[no-untyped-def]
        checkouts.append(dbapi_conn.execute("PRAGMA database_list").fetchone()[2])

    event.listen(Pool, "checkout", checked_out)
    try:
        for path in (f"/customers/{account}/contracts?tab=expiring", "/contracts?tab=expired", "/"):
            checkouts.clear()
            assert client.get(path).status_code == 200
            cache = [f for f in checkouts if "cache-" in f]
            assert len(cache) == 1, (path, checkouts)
    finally:
        event.remove(Pool, "checkout", checked_out)


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_failed_statement_leaves_the_rest_of_the_request_a_working_connection(
    kind, copied_demo, fresh_database
) -> None:
    bridge = _bridge_on(kind, copied_demo, fresh_database)
    bridge.cache.remember_pointers()
    try:
        with bridge.cache.connect() as first:
            customers = first.execute(text("SELECT count(*) FROM customer")).scalar_one()
        with pytest.raises(Exception, match="no_such_table"), bridge.cache.connect() as conn:
            conn.execute(text("SELECT * FROM no_such_table"))
        with bridge.cache.connect() as after:  # a PostgreSQL transaction ended by an error takes no more
            assert after is not first
            assert after.execute(text("SELECT count(*) FROM customer")).scalar_one() == customers
    finally:
        bridge.cache.forget_pointers()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_request_reads_its_own_write(kind, copied_demo, fresh_database) -> None:
    """Refresh writes the snapshot, then lists what changed: it reads after the write."""
    bridge = _bridge_on(kind, copied_demo, fresh_database)
    name = text("SELECT customer_name FROM customer_row ORDER BY customer_id LIMIT 1")
    bridge.cache.remember_pointers()
    try:
        with bridge.cache.connect() as conn:
            before = conn.execute(name).scalar_one()
        with bridge.cache.write() as conn:
            conn.execute(text("UPDATE customer_row SET customer_name = customer_name || ' (renamed)'"))
        with bridge.cache.connect() as conn:
            assert conn.execute(name).scalar_one() == before + " (renamed)"
    finally:
        bridge.cache.forget_pointers()
