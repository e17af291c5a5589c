"""The status ops look at, one report for `bpo2-bridge status` and the Status page: last syncs,
the sync running now, next runs, the cache, who holds the scheduler lease, the last schema check
and a full sync waiting for the scheduler.

Everything is read from the application store and the cache. BPO2 is reached only when the
caller asks for a reachability probe (the command does; the page shows the stored results of
the last sync and schema check with their age instead). Next runs come in as an argument
(jobs.upcoming): this module sits below the job registry.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import text

from ..cache.schema import CACHE
from ..source.engines import SourceError, first_line, open_source, source_session
from ..store.schema_checks import SchemaCheck
from ..store.schema_checks import latest as latest_schema_check
from ..sync import history
from ..sync import requests as sync_requests
from ..sync.lease import Lease, sync_lease

if TYPE_CHECKING:
    from ..bridge import Bridge

SCHEDULER_LEASE = "scheduler"  # the lease of the process running the scheduled jobs


@dataclass(frozen=True)
class LeaseHolder:
    """The process holding a lease: "host:pid:token" taken apart."""

    holder: str
    host: str
    pid: int | None
    until_utc: dt.datetime
    this_process: bool

    @property
    def process(self) -> str:
        return f"{self.host} (process {self.pid})" if self.pid is not None else self.host


@dataclass(frozen=True)
class CacheInfo:
    kind: str
    snapshot: str | None
    exists: bool
    as_of: dt.datetime | None
    size_bytes: int | None
    last_failure_at: dt.datetime | None
    last_failure: str | None


@dataclass(frozen=True)
class SourceProbe:
    reachable: bool
    error: str | None
    seconds: float


@dataclass(frozen=True)
class StatusReport:
    now: dt.datetime  # local wall-clock time the report was read at
    cache: CacheInfo
    syncs: list[dict[str, Any]]  # newest first, as sync history has them
    running: dict[str, Any] | None  # the full or incremental sync running now
    next_runs: dict[str, dt.datetime | None]
    scheduler: LeaseHolder | None  # None: no process runs the scheduled jobs
    sync_lock: LeaseHolder | None
    schema_check: SchemaCheck | None
    pending_request: sync_requests.SyncRequest | None  # a full sync waiting for the scheduler
    entities: dict[str, int] | None = None  # rows per cache table, when counted
    source: SourceProbe | None = None  # when probed

    @property
    def schema_check_age(self) -> float | None:
        """Seconds since the last schema check."""
        if self.schema_check is None:
            return None
        return max(0.0, (self.now - self.schema_check.checked_at).total_seconds())

    def as_dict(self) -> dict[str, Any]:
        """Plain values for JSON (`bpo2-bridge status --format json`)."""
        cache = self.cache
        return {
            "now": self.now,
            "cache": {
                "snapshot": cache.snapshot,
                "exists": cache.exists,
                "as_of": cache.as_of,
                "size_bytes": cache.size_bytes,
                "kind": cache.kind,
                "last_failure": (
                    {"at": cache.last_failure_at, "error": cache.last_failure} if cache.last_failure else None
                ),
            },
            "entities": self.entities,
            "syncs": self.syncs,
            "running": self.running,
            "next_runs": self.next_runs,
            "scheduler": _lease_dict(self.scheduler),
            "sync_running": _lease_dict(self.sync_lock),
            "schema_check": (
                {**self.schema_check.as_dict(), "age_seconds": self.schema_check_age}
                if self.schema_check
                else None
            ),
            "pending_request": asdict(self.pending_request) if self.pending_request else None,
            "source": asdict(self.source) if self.source else None,
        }


def _lease_dict(lease: LeaseHolder | None) -> dict[str, Any] | None:
    if lease is None:
        return None
    return {
        "holder": lease.holder,
        "host": lease.host,
        "pid": lease.pid,
        "lease_until_utc": lease.until_utc,
        "this_process": lease.this_process,
    }


def lease_holder(lease: Lease) -> LeaseHolder | None:
    """Who holds `lease` now; None when nobody does (free, or left to expire)."""
    info = lease.holder_info()
    if info is None:
        return None
    holder, until = info
    if until < dt.datetime.now(dt.UTC).replace(tzinfo=None):  # leases are kept in naive UTC
        return None
    host, _, rest = holder.partition(":")
    pid_text = rest.partition(":")[0]
    pid = int(pid_text) if pid_text.isdigit() else None
    this = host == socket.gethostname()[:80] and pid == os.getpid()
    return LeaseHolder(holder, host, pid, until, this)


def source_reachable(bridge: Bridge, timeout: float = 5.0) -> SourceProbe:
    """Whether BPO2 answers a trivial query within `timeout` seconds."""
    began = time.monotonic()
    engine = open_source(bridge.settings, timeout=timeout)
    try:
        with source_session(engine) as conn:
            sql = "SELECT 1" if conn.dialect.name != "oracle" else "SELECT 1 FROM dual"
            conn.execute(text(sql)).scalar()
        return SourceProbe(True, None, round(time.monotonic() - began, 3))
    except SourceError as exc:
        return SourceProbe(False, str(exc), round(time.monotonic() - began, 3))
    except Exception as exc:
        return SourceProbe(False, first_line(exc), round(time.monotonic() - began, 3))
    finally:
        engine.dispose()


def entity_rows(bridge: Bridge) -> dict[str, int] | None:
    """Rows per table in the snapshot serving now (None without one); a full count of each."""
    cache = bridge.cache
    if not cache.exists():
        return None
    quote = cache.dialect.identifier_preparer.quote
    with cache.connect() as conn:
        return {
            t.name: conn.exec_driver_sql(f"SELECT COUNT(*) FROM {quote(t.name)}").scalar() or 0
            for t in CACHE.sorted_tables
        }


def scheduler_holder(bridge: Bridge) -> LeaseHolder | None:
    """The process running the scheduled jobs; None when none runs anywhere."""
    return lease_holder(Lease(bridge.store, SCHEDULER_LEASE, bridge.settings.scheduler_lock_seconds))


def running_sync(bridge: Bridge, sync_lock: LeaseHolder | None = None) -> dict[str, Any] | None:
    """The full or incremental sync running now, from its history row."""
    if sync_lock is None:
        sync_lock = lease_holder(sync_lease(bridge.store, bridge.settings.scheduler_lock_seconds))
    # a run marked running without a live sync lease was left by a dead process
    return history.running(bridge.store) if sync_lock is not None else None


def cache_info(bridge: Bridge) -> CacheInfo:
    cache = bridge.cache
    exists = cache.exists()
    try:
        size = cache.size_bytes() if exists else None
    except Exception:  # a size the engine will not tell is no reason to fail the report
        size = None
    failure = cache.last_failure()
    return CacheInfo(
        kind=cache.kind,
        snapshot=cache.current(),
        exists=exists,
        as_of=cache.as_of(),
        size_bytes=size,
        last_failure_at=failure[0] if failure else None,
        last_failure=failure[1] if failure else None,
    )


def status_report(
    bridge: Bridge,
    next_runs: dict[str, dt.datetime | None],
    *,
    syncs: int = 10,
    count_rows: bool = False,
    probe_source: bool = False,
) -> StatusReport:
    """The status now. `count_rows` counts every cache table (slow on a large cache: the
    command does, the page does not); `probe_source` asks BPO2 for `SELECT 1`."""
    sync_lock = lease_holder(sync_lease(bridge.store, bridge.settings.scheduler_lock_seconds))
    return StatusReport(
        now=bridge.settings.now(),
        cache=cache_info(bridge),
        syncs=history.recent(bridge.store, syncs),
        running=running_sync(bridge, sync_lock),
        next_runs=next_runs,
        scheduler=scheduler_holder(bridge),
        sync_lock=sync_lock,
        schema_check=latest_schema_check(bridge.store),
        pending_request=sync_requests.pending(bridge.store),
        entities=entity_rows(bridge) if count_rows else None,
        source=source_reachable(bridge) if probe_source else None,
    )
