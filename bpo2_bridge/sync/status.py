"""The sync status ops look at: last syncs, rows per entity, next runs, cache, source, scheduler."""

from __future__ import annotations

import datetime as dt
import time
from typing import TYPE_CHECKING, Any

from sqlalchemy import text

from ..cache.schema import CACHE
from ..jobs import JOBS, next_runs
from ..source.engines import SourceError, first_line, open_source, source_session
from . import history
from .lease import Lease

if TYPE_CHECKING:
    from ..bridge import Bridge


def source_reachable(bridge: Bridge, timeout: float = 5.0) -> dict[str, Any]:
    """Whether BPO2 answers a trivial query within `timeout` seconds."""
    began = time.monotonic()
    engine = open_source(bridge.settings, timeout=timeout)
    try:
        with source_session(engine) as conn:
            sql = "SELECT 1" if conn.dialect.name != "oracle" else "SELECT 1 FROM dual"
            conn.execute(text(sql)).scalar()
        return {"reachable": True, "error": None, "seconds": round(time.monotonic() - began, 3)}
    except SourceError as exc:
        return {"reachable": False, "error": str(exc), "seconds": round(time.monotonic() - began, 3)}
    except Exception as exc:
        return {"reachable": False, "error": first_line(exc), "seconds": round(time.monotonic() - began, 3)}
    finally:
        engine.dispose()


def entity_rows(bridge: Bridge) -> dict[str, int] | None:
    """Rows per entity in the snapshot serving now (None without one)."""
    cache = bridge.cache
    if not cache.exists():
        return None
    quote = cache.dialect.identifier_preparer.quote
    with cache.connect() as conn:
        return {
            t.name: conn.exec_driver_sql(f"SELECT COUNT(*) FROM {quote(t.name)}").scalar() or 0
            for t in CACHE.sorted_tables
        }


def _last_started(bridge: Bridge) -> dict[str, dt.datetime]:
    """Start of the latest scheduled-kind runs, as aware local times (for interval jobs)."""
    out = {}
    for job, kind in (("incremental_sync", "incremental"), ("full_sync", "full")):
        runs = history.recent(bridge.store, 1, kind=kind)
        if runs:
            out[job] = runs[0]["started_at"].replace(tzinfo=bridge.settings.tz)
    return out


def status_report(bridge: Bridge, syncs: int = 10, check_source: bool = True) -> dict[str, Any]:
    settings, cache = bridge.settings, bridge.cache
    failure = cache.last_failure()
    scheduler = Lease(bridge.store, "scheduler", settings.scheduler_lock_seconds).holder_info()
    sync_lock = Lease(bridge.store, "sync", settings.scheduler_lock_seconds).holder_info()
    return {
        "cache": {
            "snapshot": cache.current(),
            "exists": cache.exists(),
            "as_of": cache.as_of(),
            "size_bytes": cache.size_bytes() if cache.exists() else None,
            "kind": cache.kind,
            "last_failure": {"at": failure[0], "error": failure[1]} if failure else None,
        },
        "entities": entity_rows(bridge),
        "syncs": history.recent(bridge.store, syncs),
        "next_runs": next_runs(settings, JOBS, last_started=_last_started(bridge)),
        "scheduler": {"holder": scheduler[0], "lease_until_utc": scheduler[1]} if scheduler else None,
        "sync_running": {"holder": sync_lock[0], "lease_until_utc": sync_lock[1]} if sync_lock else None,
        "source": source_reachable(bridge) if check_source else None,
    }
