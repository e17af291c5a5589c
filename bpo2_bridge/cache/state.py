"""What a screen needs to know about the snapshot its cache connection reads: its name and
when it was last synced."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Select, String, bindparam, func, select

from ..store import database as app_store
from .snapshots import RUN_KINDS, SNAPSHOT_INFO

if TYPE_CHECKING:
    from ..bridge import Bridge


@dataclass(frozen=True)
class CacheState:
    """What a screen needs to know about the snapshot its connection reads."""

    snapshot: str
    as_of: dt.datetime | None  # as Cache.as_of(), for this very snapshot


def cache_state(bridge: Bridge, conn: Connection) -> CacheState:
    """The state of the data ``conn`` reads, in one store query."""
    name = snapshot_name(conn)
    with bridge.store.connect() as store:
        as_of = store.execute(_AS_OF, {"snapshot": name}).scalar()
    return CacheState(name, as_of)


def _as_of_query() -> Select[Any]:
    runs = app_store.sync_runs
    return select(func.max(runs.c.finished_at)).where(
        runs.c.status == "ok",
        runs.c.kind.in_(RUN_KINDS),
        runs.c.snapshot == bindparam("snapshot", type_=String()),
    )


_AS_OF = _as_of_query()  # built once: it runs on every grid request


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
