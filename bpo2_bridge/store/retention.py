"""History retention: old sync runs and sign-in attempts leave the application store.

Sync runs are kept for ``history_days``; sign-in attempts for a day, far longer than the
throttle looks back. Some runs are kept whatever their age, because the product reads them:

- runs still ``running`` (a sync in progress, or one a later sync marks interrupted);
- the newest ``ok`` and the newest ``failed`` run of each kind: the Status page and the
  freshness line (last success, last failure and its reason) read them;
- every run whose snapshot a cache pointer names (serving, or previous with readers still on
  it): the cache's ``as_of`` and the grids' cache state are the latest of those runs.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, and_, delete, func, or_, select

from .database import login_attempts, state, sync_requests, sync_runs

if TYPE_CHECKING:
    from ..bridge import Bridge

# users.is_throttled counts the failures of the last minute; attempts are kept far longer, so
# pruning never changes who is throttled (and a day of attempts is there to read after an attack)
THROTTLE_WINDOW = dt.timedelta(minutes=1)
ATTEMPTS_KEPT = max(dt.timedelta(days=1), THROTTLE_WINDOW)
# cache.py keeps its pointers in the store's state table: "cache.current.<cache>" and ".previous"
POINTER_PREFIX = "cache.current."
KEEP_NEWEST = ("ok", "failed")


@dataclass(frozen=True)
class PruneResult:
    sync_runs: int  # runs deleted
    login_attempts: int  # attempts deleted
    runs_before: dt.datetime  # runs finished before this were pruned (local time)
    attempts_before: dt.datetime
    kept_old_runs: int  # runs older than the cutoff kept (running, newest, serving)
    sync_requests: int = 0  # full syncs asked for on the Status page, picked up before the cutoff

    def as_dict(self) -> dict[str, Any]:
        return {
            "sync_runs": self.sync_runs,
            "login_attempts": self.login_attempts,
            "runs_before": self.runs_before.isoformat(timespec="seconds"),
            "attempts_before": self.attempts_before.isoformat(timespec="seconds"),
            "kept_old_runs": self.kept_old_runs,
            "sync_requests": self.sync_requests,
        }


def prune_history(
    bridge: Bridge,
    days: int | None = None,
    *,
    now: dt.datetime | None = None,
    clock_now: dt.datetime | None = None,
) -> PruneResult:
    """Delete sync runs finished more than ``days`` (default ``history_days``) ago, full-sync
    requests picked up as long ago, and sign-in attempts older than a day, in one store
    transaction, keeping the runs listed above.

    ``now`` is the settings' local time (sync runs are stamped with it), ``clock_now`` the
    process clock (sign-in attempts are stamped with it); both default to the present."""
    settings = bridge.settings
    days = settings.history_days if days is None else days
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    runs_before = (now or settings.now()) - dt.timedelta(days=days)
    attempts_before = (clock_now or dt.datetime.now()) - ATTEMPTS_KEPT
    with bridge.store.begin() as conn:
        keep_ids = _newest_runs(conn)
        serving = _pointed_snapshots(conn)
        old = and_(sync_runs.c.finished_at.is_not(None), sync_runs.c.finished_at < runs_before)
        deletable = and_(
            old,
            sync_runs.c.status != "running",
            sync_runs.c.id.not_in(keep_ids),
            or_(sync_runs.c.snapshot.is_(None), sync_runs.c.snapshot.not_in(serving)),
        )
        runs_deleted = conn.execute(delete(sync_runs).where(deletable)).rowcount
        kept = conn.execute(select(func.count()).select_from(sync_runs).where(old)).scalar_one()
        attempts_deleted = conn.execute(
            delete(login_attempts).where(login_attempts.c.at < attempts_before)
        ).rowcount
        # a request still pending stays, however old: the next lease holder runs it
        requests_deleted = conn.execute(
            delete(sync_requests).where(
                sync_requests.c.picked_at.is_not(None), sync_requests.c.picked_at < runs_before
            )
        ).rowcount
    return PruneResult(runs_deleted, attempts_deleted, runs_before, attempts_before, kept, requests_deleted)


def _newest_runs(conn: Connection) -> list[int]:
    """Ids of the newest run per kind and status, for the statuses in KEEP_NEWEST."""
    query = (
        select(func.max(sync_runs.c.id))
        .where(sync_runs.c.status.in_(KEEP_NEWEST))
        .group_by(sync_runs.c.kind, sync_runs.c.status)
    )
    return [int(run_id) for run_id in conn.execute(query).scalars() if run_id is not None]


def _pointed_snapshots(conn: Connection) -> list[str]:
    """Snapshot names every cache pointer in this store names (current and previous)."""
    query = select(state.c.value).where(
        state.c.key.startswith(POINTER_PREFIX, autoescape=True), state.c.value.is_not(None)
    )
    return sorted({str(value) for value in conn.execute(query).scalars()})
