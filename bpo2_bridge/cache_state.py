"""What a screen needs to know about the snapshot its cache connection reads: its name, the
generation its remembered answers are kept under, and when it was last synced."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import g, has_request_context
from sqlalchemy import Connection, DateTime, Select, String, bindparam, func, select

from . import store as app_store
from .cache import RUN_KINDS, SNAPSHOT_INFO
from .sync.history import DATA_VERSION
from .web.grid_counts import COUNTS, CountCache, Generation

if TYPE_CHECKING:
    from .bridge import Bridge

IN_PLACE_KINDS = ("incremental", "customer")  # runs that write the serving snapshot itself
# a run still "running" after this long was killed; past it, counts are remembered again
STALE_RUN = dt.timedelta(hours=1)


@dataclass(frozen=True)
class CacheState:
    """What a screen needs to know about the snapshot its connection reads."""

    snapshot: str
    # changes whenever the data may have changed; None while an incremental sync or a refresh
    # is writing (nothing may be remembered then)
    generation: Generation | None
    as_of: dt.datetime | None  # as Cache.as_of(), for this very snapshot


def cache_state(bridge: Bridge, conn: Connection) -> CacheState:
    """The state of the data ``conn`` reads, in one store query.

    Call it right after opening ``conn``, before reading anything through it: the data version
    is read from the store first, so a write that starts later moves it on (sync/history.py).
    ``as_of`` alone is no generation: a customer refresh writes the snapshot without moving it.
    """
    name = snapshot_name(conn)
    values = {"snapshot": name, "since": bridge.settings.now() - STALE_RUN}
    with bridge.store.connect() as store:
        version, busy, as_of = store.execute(_STATE_QUERY, values).one()
    generation = None if busy else Generation(_scope(bridge), name, int(version or 0))
    state = CacheState(name, generation, as_of)
    if has_request_context():  # the page's freshness line reuses it (web/freshness.py)
        g.bpo2_cache_state = state
    return state


def _scope(bridge: Bridge) -> str:
    # the cache's location is part of the generation: one process may serve several caches
    return bridge.settings.cache_url or str(bridge.settings.data_path.resolve())


def warm_up_seconds(bridge: Bridge) -> float:
    """How long ``warm_up`` is likely to take, going by how long its answers took before."""
    return sum(memory.warm_up_seconds(_scope(bridge)) for memory in _memories())


def warm_up(bridge: Bridge, conn: Connection, deadline: float) -> None:
    """Work out on the snapshot ``conn`` reads, not serving here yet, the slow grid answers
    asked for lately (snapshot_switch.py), until ``deadline`` (time.monotonic)."""
    generation = cache_state(bridge, conn).generation
    if generation is None:  # a refresh is writing: nothing may be remembered now
        return
    for memory in _memories():  # counts and milestones first: the pages' first reads need them
        memory.warm(generation, conn, deadline)


def _memories() -> list[CountCache]:
    return [COUNTS, *([COUNTS.answers] if COUNTS.answers is not None else [])]


def _state_query() -> Select[Any]:
    runs, kept = app_store.sync_runs, app_store.state
    since = bindparam("since", type_=DateTime())
    # a run marks itself writing (its snapshot set) before its first write: one that changes
    # nothing never stops readers from reusing their counts
    writing = select(func.count()).where(
        runs.c.status == "running",
        runs.c.kind.in_(IN_PLACE_KINDS),
        runs.c.snapshot.is_not(None),
        runs.c.started_at >= since,
    )
    served = select(func.max(runs.c.finished_at)).where(
        runs.c.status == "ok",
        runs.c.kind.in_(RUN_KINDS),
        runs.c.snapshot == bindparam("snapshot", type_=String()),
    )
    version = select(kept.c.value).where(kept.c.key == DATA_VERSION)
    return select(version.scalar_subquery(), writing.scalar_subquery(), served.scalar_subquery())


_STATE_QUERY = _state_query()  # built once: it runs on every grid request


def snapshot_name(conn: Connection) -> str:
    """The snapshot a cache connection reads (its SQLite file's name, or PostgreSQL schema)."""
    info = conn.info
    name = info.get(SNAPSHOT_INFO)  # Cache.connect notes it on PostgreSQL
    if name is None and conn.dialect.name != "sqlite":
        return str(conn.exec_driver_sql("SELECT current_schema()").scalar())
    if name is None:  # a pooled SQLite connection stays on its file: asked once
        rows = conn.exec_driver_sql("PRAGMA database_list").all()
        name = info[SNAPSHOT_INFO] = Path(next(str(r[2]) for r in rows if r[1] == "main")).stem
    return str(name)
