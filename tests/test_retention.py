"""History retention: old sync runs and sign-in attempts leave the store, the runs the product
still reads stay, and the cache keeps serving (on SQLite and PostgreSQL stores)."""

from __future__ import annotations

import datetime as dt
import itertools
import json

import pytest
from click.testing import CliRunner
from sqlalchemy import event, insert, inspect, select

from bpo2_bridge.bridge import Bridge
from bpo2_bridge.cache import state as cache_state
from bpo2_bridge.cli import main
from bpo2_bridge.demo.content import DEMO_ADMIN_LOGIN
from bpo2_bridge.jobs import BY_NAME, next_runs
from bpo2_bridge.settings import SettingsError, load_settings
from bpo2_bridge.store.database import login_attempts, open_store, sync_requests, sync_runs
from bpo2_bridge.store.retention import prune_history
from bpo2_bridge.store.users import is_throttled, record_attempt
from bpo2_bridge.sync.full import full_sync

HEADER_AUTH = {"auth_mode": "header", "trusted_proxies": ["127.0.0.1"]}
ADMIN = {"X-Remote-User": DEMO_ADMIN_LOGIN}
STATE_INDEX = "ix_sync_runs_snapshot_state"


@pytest.fixture(params=["sqlite", "postgresql"])
def bridge(request, copied_demo, fresh_database) -> Bridge:
    """The synced demo with its store (and cache) on SQLite files, or both on PostgreSQL."""
    if request.param == "sqlite":
        return copied_demo(**HEADER_AUTH)
    url = fresh_database("postgresql").render_as_string(hide_password=False)
    on_server = copied_demo(cache_url=url, store_url=url, **HEADER_AUTH)
    full_sync(on_server)
    return on_server


def _run(bridge: Bridge, kind: str, status: str, finished: dt.datetime, snapshot: str | None = None) -> int:
    with bridge.store.begin() as conn:
        result = conn.execute(
            insert(sync_runs).values(
                kind=kind,
                target="ACC00001" if kind == "customer" else None,
                started_at=finished - dt.timedelta(minutes=2),
                finished_at=None if status == "running" else finished,
                status=status,
                snapshot=snapshot,
                host="test",
            )
        )
        return int(result.inserted_primary_key[0])


def _run_ids(bridge: Bridge) -> set[int]:
    with bridge.store.connect() as conn:
        return set(conn.execute(select(sync_runs.c.id)).scalars())


def _attempt(bridge: Bridge, at: dt.datetime) -> None:
    with bridge.store.begin() as conn:
        conn.execute(insert(login_attempts).values(login="sales1", address="10.0.0.9", at=at, succeeded=True))


def _cli(bridge: Bridge, *args: str):  # type: ignore[no-untyped-def]
    settings = bridge.settings
    env = {
        "BPO2_BRIDGE_DATA_DIR": str(settings.data_path),
        "BPO2_BRIDGE_TODAY": settings.today,
        "BPO2_BRIDGE_CACHE_URL": settings.cache_url,
        "BPO2_BRIDGE_STORE_URL": settings.store_url,
        "BPO2_BRIDGE_SOURCE_URL": "",
        "BPO2_BRIDGE_SHARE_ROOT": "",
    }
    return CliRunner().invoke(main, list(args), env=env)


def test_old_history_goes_and_what_the_product_reads_stays(make_app, bridge) -> None:
    serving = bridge.cache.current()
    as_of = bridge.cache.as_of()
    assert serving and as_of
    with bridge.store.begin() as conn:  # a full sync replaced "retired" by the serving snapshot
        bridge.cache.publish(conn, "retired")
        bridge.cache.publish(conn, serving)
    now = bridge.settings.now()
    old = now - dt.timedelta(days=bridge.settings.history_days + 100)
    before = _run_ids(bridge)  # the demo's own syncs, all recent
    step = itertools.count()

    def at() -> dt.datetime:
        return old + dt.timedelta(hours=next(step))

    gone = {
        _run(bridge, "full", "ok", at(), "gone-a"),
        _run(bridge, "incremental", "failed", at()),
        _run(bridge, "customer", "ok", at(), "gone-b"),
    }
    kept = {
        _run(bridge, "full", "ok", at(), "retired"),  # the previous snapshot: readers may be on it
        _run(bridge, "incremental", "failed", at()),  # the newest failure of its kind
        _run(bridge, "incremental", "ok", at(), serving),  # serving
        _run(bridge, "customer", "ok", at(), "gone-b"),  # the newest refresh
        _run(bridge, "incremental", "running", at(), serving),  # still running
        _run(bridge, "incremental", "ok", now - dt.timedelta(days=10), "gone-c"),  # recent
        _run(bridge, "full", "ok", now - dt.timedelta(days=5), "gone-d"),  # recent
    }
    clock = dt.datetime.now()
    _attempt(bridge, clock - dt.timedelta(days=2))
    _attempt(bridge, clock - dt.timedelta(hours=2))
    for _ in range(5):
        record_attempt(bridge.store, "sales1", "10.0.0.9", succeeded=False)
    assert is_throttled(bridge.store, "sales1", "10.0.0.9", 5)

    with bridge.store.begin() as conn:  # full syncs asked for on the Status page
        for picked in (old, now - dt.timedelta(days=1), None):
            conn.execute(
                insert(sync_requests).values(
                    kind="full", requested_by="ops", requested_at=old, picked_at=picked
                )
            )

    result = prune_history(bridge)

    assert (result.sync_runs, result.login_attempts, result.sync_requests) == (3, 1, 1)
    with bridge.store.connect() as conn:  # the recent one and the one still waiting stay
        left = conn.execute(select(sync_requests.c.picked_at).order_by(sync_requests.c.id)).scalars().all()
    assert left == [now - dt.timedelta(days=1), None]
    assert _run_ids(bridge) == before | kept
    assert not gone & _run_ids(bridge)
    assert is_throttled(bridge.store, "sales1", "10.0.0.9", 5), "the throttle still sees the failures"
    with bridge.store.connect() as conn:
        mine = conn.execute(select(login_attempts.c.at).where(login_attempts.c.address == "10.0.0.9")).all()
    assert len(mine) == 6 and min(mine)[0] > clock - dt.timedelta(days=1)
    # the serving cache still serves, with the same freshness
    assert bridge.cache.current() == serving and bridge.cache.as_of() == as_of
    client = make_app(bridge).test_client()
    grid = client.get("/customers?format=json", headers=ADMIN)
    assert grid.status_code == 200 and grid.get_json()["rows"]
    assert grid.get_json()["as_of"] == as_of.isoformat()
    assert "Data as of" in client.get("/", headers=ADMIN).get_data(as_text=True)
    status = _cli(bridge, "status", "--format", "json")
    assert status.exit_code == 0, status.output
    report = json.loads(status.stdout)
    assert report["cache"]["snapshot"] == serving and report["cache"]["as_of"] == as_of.isoformat()
    table = _cli(bridge, "status")
    assert table.exit_code == 0 and serving in table.output


def test_prune_command_and_daily_job(bridge) -> None:
    now = bridge.settings.now()
    first = _run(bridge, "incremental", "failed", now - dt.timedelta(days=40))
    second = _run(bridge, "incremental", "failed", now - dt.timedelta(days=39))

    assert _cli(bridge, "prune", "--format", "json").exit_code == 0
    assert {first, second} <= _run_ids(bridge), "40 days are within history_days (90)"
    result = _cli(bridge, "prune", "--days", "30", "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["sync_runs"] == 1
    assert first not in _run_ids(bridge) and second in _run_ids(bridge)

    third = _run(bridge, "incremental", "failed", now - dt.timedelta(days=100))  # newest id: kept
    oldest = _run(bridge, "full", "failed", now - dt.timedelta(days=200))
    newer = _run(bridge, "full", "failed", now - dt.timedelta(days=150))
    BY_NAME["prune_history"].func(bridge)  # what the scheduler runs daily
    assert {third, newer, second} <= _run_ids(bridge) and oldest not in _run_ids(bridge)
    assert _cli(bridge, "status", "--format", "json").exit_code == 0


@pytest.mark.parametrize(
    ("days", "message"), [("0", "--days must be at least 1"), ("x", "--days must be a whole number")]
)
def test_prune_command_refuses_bad_days_in_one_line(copied_demo, days: str, message: str) -> None:
    bridge = copied_demo()
    before = _run_ids(bridge)
    result = _cli(bridge, "prune", "--days", days)
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0]
    assert _run_ids(bridge) == before


def test_history_days_and_prune_time_are_validated_settings(settings) -> None:
    assert settings.history_days == 90
    for bad, fragment in (("0", "at least 1"), ("-5", "at least 1"), ("soon", "whole number")):
        with pytest.raises(SettingsError, match=rf"'history_days'.*{fragment}"):
            load_settings(environ={"BPO2_BRIDGE_HISTORY_DAYS": bad})
    with pytest.raises(SettingsError, match=r"'prune_time'.*HH:MM"):
        load_settings(environ={"BPO2_BRIDGE_PRUNE_TIME": "25:99"})
    moment = dt.datetime(2026, 11, 22, 10, 0, tzinfo=settings.tz)
    runs = next_runs(settings.replace(prune_time="04:15"), now=moment)
    assert runs["prune_history"].replace(tzinfo=None) == dt.datetime(2026, 11, 23, 4, 15)


# -- the index behind the per-request cache state ------------------------------------------


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_stores_made_before_the_index_get_it(kind, make_settings, fresh_database) -> None:
    url = "" if kind == "sqlite" else fresh_database(kind).render_as_string(hide_password=False)
    settings = make_settings(store_url=url)
    store = open_store(settings)
    with store.begin() as conn:  # the store as an earlier release left it
        conn.exec_driver_sql(f"DROP INDEX {STATE_INDEX}")
    assert STATE_INDEX not in {i["name"] for i in inspect(store).get_indexes("sync_runs")}
    store.dispose()
    store = open_store(settings)
    assert STATE_INDEX in {i["name"] for i in inspect(store).get_indexes("sync_runs")}
    store.dispose()


def _many_old_runs(store, count: int) -> None:  # type: ignore[no-untyped-def]
    """`count` finished runs on retired snapshots, each with the row counts a sync records."""
    rows_json = json.dumps({f"entity_{i}": 12_345 for i in range(16)})
    start = dt.datetime(2026, 1, 1)
    with store.begin() as conn:
        conn.execute(
            insert(sync_runs),
            [
                {
                    "kind": "incremental",
                    "started_at": start + dt.timedelta(minutes=15 * i),
                    "finished_at": start + dt.timedelta(minutes=15 * i, seconds=4),
                    "status": "ok",
                    "rows_json": rows_json,
                    "changes_json": rows_json,
                    "snapshot": f"cache-old-{i // 96}",
                }
                for i in range(count)
            ],
        )


def test_cache_state_query_does_not_grow_with_history_on_sqlite(settings) -> None:
    """SQLite's count of virtual-machine steps for the per-request state query stays flat as
    runs accumulate (without the index it grows with every run)."""
    store = open_store(settings)
    values = {"snapshot": "cache-old-3"}

    def steps() -> int:
        with store.connect() as conn:
            raw = conn.connection.driver_connection
            counter = itertools.count()
            raw.set_progress_handler(lambda: next(counter) * 0, 1)
            conn.execute(cache_state._AS_OF, values).one()
            raw.set_progress_handler(None, 1)
            return next(counter)

    _many_old_runs(store, 400)
    few = steps()
    _many_old_runs(store, 20_000)
    assert steps() < 2 * few
    store.dispose()


def test_cache_state_query_uses_the_index_on_postgresql(make_settings, fresh_database) -> None:
    url = fresh_database("postgresql").render_as_string(hide_password=False)
    store = open_store(make_settings(store_url=url))
    _many_old_runs(store, 5_000)
    with store.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE sync_runs")
    seen: list[tuple[str, object]] = []

    @event.listens_for(store, "before_cursor_execute")
    def _keep(_conn, _cursor, statement, parameters, _context, _many) -> None:  # type: ignore[no-untyped-def]
        seen.append((statement, parameters))

    with store.connect() as conn:
        conn.execute(cache_state._AS_OF, {"snapshot": "cache-old-3"}).one()
        statement, parameters = seen[-1]
        plan = "\n".join(r[0] for r in conn.exec_driver_sql("EXPLAIN " + statement, parameters))
    assert STATE_INDEX in plan, plan
    store.dispose()
