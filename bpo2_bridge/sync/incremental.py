"""Incremental sync: bring the current snapshot up to date in one cache transaction.

Entities with a change column: rows changed since the stored watermark are re-read and
applied; the new watermark is taken *before* reading, so a row committed while the sync runs
is read now or next time, never lost. Added rows without a fresh change value and deleted
rows are found by comparing the keys of BPO2 and the cache in key order. Entities without a
change column are compared row by row in key order. Both comparisons stream: memory holds a
batch, not a table. Without a current snapshot (or after a cache schema change) it runs a
full sync instead.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from ..cache.snapshots import schema_fingerprint
from ..source.engines import source_session
from ..source.reflection import reflect_source
from . import derived as derived_rows
from . import history
from .diff import Changes, merge
from .full import run_full, stoppable, sync_lock
from .keys import differing_ranges, single_integer_key
from .lease import Heartbeat
from .plan import (
    KEY_CHUNK,
    EntityPlan,
    build_plans,
    changed_since,
    dump_watermark,
    fetch,
    load_watermark,
    take_watermark,
)
from .progress import Progress
from .results import SyncFailed, SyncResult
from .transfer import limit_batches, read_all, read_batches, reading

if TYPE_CHECKING:
    from ..bridge import Bridge

log = logging.getLogger(__name__)
CACHE_PAGES_KB = 65_536  # SQLite page cache of the sync's cache connection, as for a full sync
CACHE_MAP_BYTES = 1 << 40  # map the whole snapshot (SQLite caps it at its compile-time limit)


def incremental_sync(bridge: Bridge, progress: Progress | None = None) -> SyncResult:
    """Apply BPO2's changes to the current snapshot; raises SyncFailed or SyncBusy."""
    progress = stoppable(bridge, progress)
    with sync_lock(bridge) as beat:
        if not _current_snapshot_usable(bridge):
            return run_full(bridge, progress, beat)
        return _run(bridge, progress, beat)


def _current_snapshot_usable(bridge: Bridge) -> bool:
    cache = bridge.cache
    if not cache.exists():
        return False
    try:
        with cache.connect() as conn:
            return cache.read_meta(conn).get("fingerprint") == schema_fingerprint()
    except Exception:  # no metadata table: a snapshot from before this version
        return False


def _run(bridge: Bridge, progress: Progress, beat: Heartbeat) -> SyncResult:
    settings, cache = bridge.settings, bridge.cache
    started = settings.now()
    rows: dict[str, int] = {}
    changes: dict[str, dict[str, int]] = {}
    seconds: dict[str, float] = {}
    with history.recorded(
        bridge.store, "incremental", started, clock=settings.now, failed_as=SyncFailed
    ) as run:
        plans = build_plans(reflect_source(bridge.source, bridge.mapping), cache.dialect)
        name = cache.current() or ""
        with source_session(bridge.source, keep_compiled=False) as src, cache.write() as conn:
            limit_batches(src, settings.statement_timeout)
            if cache.dialect.name == "sqlite":
                _tune_sqlite(conn)
            meta: dict[str, Any] = cache.read_meta(conn)
            touched = derived_rows.Touched()
            for plan in plans:
                progress.start(plan.name)
                began = time.monotonic()
                diff = Changes(conn, plan, settings.sync_batch_size, touched=touched)
                rows[plan.name] = _sync_entity(
                    src, conn, plan, diff, meta, settings.sync_batch_size, progress, settings.tz
                )
                diff.flush()
                changes[plan.name] = diff.counts
                seconds[plan.name] = round(time.monotonic() - began, 3)
                progress.done(plan.name, rows[plan.name], seconds[plan.name])
            # in this transaction: readers never see base and derived rows disagree
            derived_rows.rebuild(conn, touched, settings, bridge.today())
            cache.write_meta(conn, {k: v for k, v in meta.items() if v is not None})
            if beat.lost.is_set():
                raise SyncFailed("the sync lock was lost during the sync")
        finished = settings.now()
        with bridge.store.begin() as store_conn:
            run.succeed(store_conn, finished, rows=rows, changes=changes, snapshot=name)
    return SyncResult("incremental", run.id, name, started, finished, rows, changes, seconds)


def _tune_sqlite(conn: Connection) -> None:
    """Changed rows sit on pages all over the snapshot, one or two to a page. Reading them through
    a memory map skips a copy per page, and a larger page cache holds more of the pages they
    dirty until the commit instead of writing each to the log early. Both hold for this
    connection only, which is the sync's own."""
    conn.exec_driver_sql(f"PRAGMA cache_size=-{CACHE_PAGES_KB}")
    conn.exec_driver_sql(f"PRAGMA mmap_size={CACHE_MAP_BYTES}")


def _sync_entity(
    src: Connection,
    conn: Connection,
    plan: EntityPlan,
    diff: Changes,
    meta: dict[str, Any],
    batch: int,
    progress: Progress,
    tz: dt.tzinfo,
) -> int:
    """Bring one entity up to date; returns the rows read from BPO2."""
    key = f"watermark.{plan.name}"
    if plan.change is None:
        return _compare_all(src, conn, plan, diff, batch, progress)
    with reading(f"the watermark of {plan.name}"):
        mark = take_watermark(src, plan, tz)  # before reading: nothing committed meanwhile is lost
    new_mark = mark.value
    old_mark = load_watermark(meta.get(key))
    if old_mark is not None and mark.in_future(old_mark):
        # stored before watermarks were capped at BPO2's clock: changes since were missed
        log.warning(
            "stored watermark of %s (%s) is later than BPO2's clock (%s): comparing every row",
            plan.name,
            old_mark,
            mark.clock,
            extra={"entity": plan.name},
        )
        old_mark = None
    if old_mark is None:
        count = _compare_all(src, conn, plan, diff, batch, progress)
    else:
        held = _highest_key(conn, plan)  # before applying: rows added since have keys above it
        count = _apply_changed(src, conn, plan, diff, old_mark, batch, progress)
        diff.flush()
        count += _compare_keys(src, conn, plan, diff, batch, held)
    if new_mark is not None:
        meta[key] = dump_watermark(new_mark)
    return count


def _apply_changed(
    src: Connection,
    conn: Connection,
    plan: EntityPlan,
    diff: Changes,
    since: Any,
    batch: int,
    progress: Progress,
) -> int:
    count = 0
    for fresh in read_batches(src, plan, plan.select_rows(changed_since(plan, since)), batch, plan.name):
        keys = sorted(plan.key_of(r) for r in fresh)  # key order: neighbouring cache pages
        diff.upsert_all(fresh, plan.cache_rows_by_keys(conn, keys))
        count += len(fresh)
        progress.advance(plan.name, count)
    return count


def _highest_key(conn: Connection, plan: EntityPlan) -> int | None:
    if not single_integer_key(plan):
        return None
    key = plan.q(plan.pk[0])
    highest: int | None = fetch(conn, f"SELECT MAX({key}) FROM {plan.table}", ())[0][0]
    return highest


def _compare_keys(
    src: Connection, conn: Connection, plan: EntityPlan, diff: Changes, batch: int, held: int | None
) -> int:
    """Deleted rows, and added rows whose change value is missing or old, by key comparison:
    key by key only in the key ranges whose key count or sum differ (keys.py)."""
    if not single_integer_key(plan):
        _, missing = _compare(src, conn, plan, diff, batch, keys_only=True, progress=None)
    else:
        missing = []
        col = plan.col(plan.pk[0])
        for lo, hi in list(differing_ranges(src, conn, plan, held)):
            stmt = plan.select_keys().where(col >= lo, col < hi)
            mine = [
                k for part in read_batches(src, plan, stmt, batch, plan.name, keys_only=True) for k in part
            ]
            cached = plan.cache_range(conn, (lo - 1,), (hi - 1,), keys_only=True)
            for key, old in merge(mine, cached, tuple, tuple):
                if old is None:
                    missing.append(tuple(key))
                elif key is None:
                    diff.remove(tuple(old))
    for start in range(0, len(missing), KEY_CHUNK):
        chunk = missing[start : start + KEY_CHUNK]
        for row in read_all(src, plan, plan.select_rows(plan.key_filter(chunk)), plan.name):
            diff.add(row)
    return len(missing)


def _compare_all(
    src: Connection, conn: Connection, plan: EntityPlan, diff: Changes, batch: int, progress: Progress
) -> int:
    count, _ = _compare(src, conn, plan, diff, batch, keys_only=False, progress=progress)
    return count


def _compare(
    src: Connection,
    conn: Connection,
    plan: EntityPlan,
    diff: Changes,
    batch: int,
    keys_only: bool,
    progress: Progress | None,
) -> tuple[int, list[tuple[Any, ...]]]:
    """Walk BPO2 and the cache in key order, one source batch and the cache rows of the same
    key range at a time. Ranges that are equal (nearly all) are passed over with one list
    comparison; the others are merged row by row. Returns the rows read and the keys only
    BPO2 has (keys_only: their rows are read afterwards)."""
    key_of = tuple if keys_only else plan.key_of
    key_value = tuple if keys_only else plan.key_value
    stmt = plan.select_keys() if keys_only else plan.select_rows(ordered=True)
    what = f"the keys of {plan.name}" if keys_only else plan.name
    missing: list[tuple[Any, ...]] = []  # read after the stream ends: one open result per connection
    after: tuple[Any, ...] | None = None
    count = 0
    for part in read_batches(src, plan, stmt, batch, what, keys_only=keys_only):
        upto = key_of(part[-1])
        cached = plan.cache_range(conn, after, upto, keys_only)
        if cached == part:
            pass  # the usual case: one comparison in C
        elif len(cached) == len(part) and list(map(key_value, part)) == list(map(key_value, cached)):
            for mine, old in zip(part, cached):  # same keys: only values changed
                if mine != old:
                    diff.change(mine, old)
        else:
            for mine, old in merge(part, cached, key_of, key_of):
                if old is None:
                    if keys_only:
                        missing.append(tuple(mine))
                    else:
                        diff.add(mine)
                elif mine is None:
                    diff.remove(key_of(old))
                elif mine != old:
                    diff.change(mine, old)
        after = upto
        count += len(part)
        if progress is not None:
            progress.advance(plan.name, count)
    for tail in plan.cache_pages(conn, batch, keys_only, after=after):
        for old in tail:
            diff.remove(key_of(old))
    return count, missing
