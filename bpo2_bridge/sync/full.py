"""Full sync: every mapped entity streamed from BPO2 into a new snapshot, then switched in.

Memory stays bounded by the batch size whatever the table sizes. The new snapshot becomes
visible only when the store transaction that moves the pointer and records the run commits;
until then, and whenever anything fails or the process is killed, the previous snapshot
serves unchanged.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine
from sqlalchemy.schema import CreateTable

from ..cache import search as search_index
from ..cache.schema import CACHE, derived_tables, entity_tables
from ..cache.snapshots import META_TABLE, schema_fingerprint
from ..source.engines import source_session
from ..store.schema_checks import reflect_and_save
from . import derived as derived_rows
from . import history
from .lease import Heartbeat, Lease, sync_lease
from .plan import build_plans, dump_watermark, take_watermark
from .progress import NoProgress, Progress
from .results import SyncBusy, SyncFailed, SyncResult
from .transfer import insert_rows, limit_batches, read_batches, reading

if TYPE_CHECKING:
    from ..bridge import Bridge


@contextmanager
def sync_lock(bridge: Bridge) -> Iterator[Heartbeat]:
    """Hold the store's sync lease (renewed in the background) for one full or incremental sync."""
    lease = sync_lease(bridge.store, bridge.settings.scheduler_lock_seconds)
    if not _acquire_soon(lease):
        info = lease.holder_info()
        who = f" ({info[0]}, until {info[1]:%H:%M:%S} UTC)" if info else ""
        raise SyncBusy(f"another sync is running{who}")
    try:
        _clear_abandoned(bridge)
        with Heartbeat(lease) as beat:
            yield beat
    finally:
        lease.release()


# another process starting (serve, scheduler) holds the lease for the moment its clean-up
# takes: a sync waits that long before it says another one runs, or the scheduler's start-up
# sync of a process started beside it would be skipped until the next interval
LEASE_WAIT_SECONDS = 3.0


def _acquire_soon(lease: Lease) -> bool:
    deadline = time.monotonic() + LEASE_WAIT_SECONDS
    while not lease.acquire():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
    return True


def clean_abandoned(bridge: Bridge) -> list[str]:
    """At start (serve, scheduler): delete snapshots a killed full sync left half-written, and
    mark its run interrupted; returns the snapshots deleted.

    Only while no sync runs anywhere: the sync lease is taken for the moment it takes (it is
    free, expired, or held by a process of this host that no longer exists). Held by a live
    sync, here or on another host, nothing is touched: that one may be writing a snapshot.
    The serving snapshot and the previous one (readers may still be on it) always stay."""
    lease = sync_lease(bridge.store, bridge.settings.scheduler_lock_seconds)
    if not lease.acquire():
        return []
    try:
        return _clear_abandoned(bridge)
    finally:
        lease.release()


def _clear_abandoned(bridge: Bridge) -> list[str]:
    # the caller holds the sync lease: no sync is running, so whatever is not published is left over
    history.mark_interrupted(bridge.store, bridge.settings.now())
    return bridge.cache.clean()


class SyncStopped(SyncFailed):
    """The process is stopping: the sync ended at its next batch and kept nothing half-written."""


class _StopWhenAsked:
    """Progress that ends the sync (SyncStopped) at its next entity or batch once the bridge is
    stopping; a batch is bounded by the statement timeout, so the sync ends soon."""

    def __init__(self, progress: Progress, stopping: threading.Event) -> None:
        self.progress, self.stopping = progress, stopping

    def _check(self) -> None:
        if self.stopping.is_set():
            raise SyncStopped("interrupted: the process was stopping")

    def start(self, entity: str) -> None:
        self._check()
        self.progress.start(entity)

    def advance(self, entity: str, rows: int) -> None:
        self._check()
        self.progress.advance(entity, rows)

    def done(self, entity: str, rows: int, seconds: float) -> None:
        self.progress.done(entity, rows, seconds)


def stoppable(bridge: Bridge, progress: Progress | None) -> Progress:
    return _StopWhenAsked(progress or NoProgress(), bridge.stopping)


def full_sync(bridge: Bridge, progress: Progress | None = None) -> SyncResult:
    """Build a new snapshot from BPO2 and switch readers to it; raises SyncFailed or SyncBusy."""
    with sync_lock(bridge) as beat:
        return run_full(bridge, stoppable(bridge, progress), beat)


def run_full(bridge: Bridge, progress: Progress, beat: Heartbeat) -> SyncResult:
    settings, cache = bridge.settings, bridge.cache
    started = settings.now()
    name = cache.new_name()
    with history.recorded(bridge.store, "full", started, clock=settings.now, failed_as=SyncFailed) as run:
        engine: Engine | None = None
        try:
            engine = cache.open_builder(name)
            rows, seconds = _write_snapshot(bridge, engine, progress)
            cache.finish_builder(name, engine)
            engine = None
            if beat.lost.is_set():
                raise SyncFailed("the sync lock was lost while writing the snapshot")
            finished = settings.now()
            with bridge.store.begin() as conn:
                cache.publish(conn, name)
                run.succeed(conn, finished, rows=rows, snapshot=name)
        except BaseException:
            # nothing half-written stays behind; the previous snapshot keeps serving
            if engine is not None:
                engine.dispose()
            cache.discard(name)
            raise
    cache.clean()
    return SyncResult("full", run.id, name, started, finished, rows, {}, seconds)


def _write_snapshot(
    bridge: Bridge, engine: Engine, progress: Progress
) -> tuple[dict[str, int], dict[str, float]]:
    settings, cache = bridge.settings, bridge.cache
    # the full sync's reflection is a schema check: the Status page shows what it found
    schema = reflect_and_save(bridge.source, bridge.mapping, bridge.store, settings.now(), "full sync")
    plans = build_plans(schema, cache.dialect)
    with engine.begin() as conn:
        for table in CACHE.sorted_tables:
            conn.execute(CreateTable(table))  # indexes come after the load: faster
        conn.exec_driver_sql(f"CREATE TABLE {META_TABLE} (key VARCHAR(200) PRIMARY KEY, value TEXT)")
    rows: dict[str, int] = {}
    seconds: dict[str, float] = {}
    meta: dict[str, Any] = {"fingerprint": schema_fingerprint()}
    with source_session(bridge.source, keep_compiled=False) as src:
        limit_batches(src, settings.statement_timeout)
        for plan in plans:
            progress.start(plan.name)
            began = time.monotonic()
            if plan.change is not None:
                with reading(f"the watermark of {plan.name}"):
                    # a fresh value from BPO2: whatever an earlier snapshot stored is left behind
                    mark = take_watermark(src, plan, settings.tz)
                    meta[f"watermark.{plan.name}"] = dump_watermark(mark.value)
            count = 0
            with engine.begin() as conn:
                for batch in read_batches(src, plan, plan.select_rows(), settings.sync_batch_size, plan.name):
                    insert_rows(conn, plan, batch)
                    count += len(batch)
                    progress.advance(plan.name, count)
            rows[plan.name] = count
            seconds[plan.name] = round(time.monotonic() - began, 3)
            progress.done(plan.name, count, seconds[plan.name])
    with engine.begin() as conn:
        _create_indexes(conn, entity_tables())
        cache.write_meta(conn, {k: v for k, v in meta.items() if v is not None})
    progress.start("derived rows")
    began = time.monotonic()
    with engine.begin() as conn:
        # read through the entity indexes; their own indexes come after they are filled
        derived_rows.build(conn, settings, bridge.today())
        _create_indexes(conn, derived_tables())
        search_index.build(conn)
        if cache.kind == "sqlite":  # PostgreSQL's statistics come with its VACUUM (finish_builder)
            conn.exec_driver_sql("PRAGMA analysis_limit=1000")  # bounded: planner statistics only
            conn.exec_driver_sql("ANALYZE")
            # the grids' tables in full (under a second): a sample guessed 1,001 contracts per
            # status where there are 175,000, and the planner read the wrong index
            conn.exec_driver_sql("PRAGMA analysis_limit=0")
            for table in derived_tables():
                conn.exec_driver_sql(f"ANALYZE {table.name}")
    derived = rows.get("customer", 0) + rows.get("contract", 0)
    progress.done("derived rows", derived, round(time.monotonic() - began, 3))
    return rows, seconds


def _create_indexes(conn: Connection, tables: list[Any]) -> None:
    for table in tables:
        for index in sorted(table.indexes, key=lambda i: i.name or ""):
            index.create(conn)
