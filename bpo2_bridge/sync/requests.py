"""Full syncs requested from the Status page, waiting in the store for the scheduler.

A web request never runs a sync: *Run full sync* writes a row here, and the process holding
the scheduler lease finds the pending rows within seconds (scheduler.py) and runs the full
sync on its job thread, so it never overlaps another scheduled job; the sync marks them picked
as it starts. Presses made while one request waits are answered with that request (two at the
same instant may make two rows: one full sync answers both).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, select

from ..store.database import sync_requests
from .full import SyncStopped, full_sync
from .results import SyncBusy, SyncResult

if TYPE_CHECKING:
    from ..bridge import Bridge

KINDS = ("full",)
POLL_SECONDS = 15.0  # how often the scheduler's lease holder looks for requests


@dataclass(frozen=True)
class SyncRequest:
    id: int
    kind: str
    requested_by: str
    requested_at: dt.datetime
    picked_at: dt.datetime | None = None


def _request(row: Any) -> SyncRequest:
    return SyncRequest(row.id, row.kind, row.requested_by, row.requested_at, row.picked_at)


def waiting(store: Engine, kind: str = "full") -> list[SyncRequest]:
    """The requests of `kind` no scheduler has picked up yet, oldest first."""
    query = (
        select(sync_requests)
        .where(sync_requests.c.kind == kind, sync_requests.c.picked_at.is_(None))
        .order_by(sync_requests.c.id)
    )
    with store.connect() as conn:
        return [_request(row) for row in conn.execute(query)]


def pending(store: Engine, kind: str = "full") -> SyncRequest | None:
    """The oldest request of `kind` no scheduler has picked up yet."""
    found = waiting(store, kind)
    return found[0] if found else None


def request(store: Engine, kind: str, by: str, now: dt.datetime) -> tuple[SyncRequest, bool]:
    """Ask for a sync of `kind`: (the pending request, True when this call made it). A press
    while one waits makes none: the waiting one will do."""
    if kind not in KINDS:
        raise ValueError(f"unknown sync kind {kind!r}: choose from {', '.join(KINDS)}")
    waiting = pending(store, kind)
    if waiting is not None:
        return waiting, False
    with store.begin() as conn:
        key = conn.execute(
            sync_requests.insert().values(kind=kind, requested_by=by[:100], requested_at=now)
        ).inserted_primary_key
    assert key is not None  # an INSERT of one row always has it
    return SyncRequest(int(key[0]), kind, by[:100], now), True


def pick(store: Engine, now: dt.datetime, kind: str = "full") -> list[SyncRequest]:
    """Mark every pending request of `kind` picked (one sync answers them all); returns them."""
    found = waiting(store, kind)
    if found:
        with store.begin() as conn:
            conn.execute(
                sync_requests.update()
                .where(sync_requests.c.id.in_([r.id for r in found]), sync_requests.c.picked_at.is_(None))
                .values(picked_at=now)
            )
    return [SyncRequest(r.id, r.kind, r.requested_by, r.requested_at, now) for r in found]


def put_back(store: Engine, picked: list[SyncRequest]) -> None:
    """Pending again: the sync could not start (another sync held the lock)."""
    if picked:
        with store.begin() as conn:
            conn.execute(
                sync_requests.update()
                .where(sync_requests.c.id.in_([r.id for r in picked]))
                .values(picked_at=None)
            )


def run_picked(bridge: Bridge, picked: list[SyncRequest]) -> SyncResult:
    """The full sync the picked requests asked for. When another sync holds the lock, or the
    process stops before it ends, they go back to pending (the next look tries again) and the
    SyncBusy or SyncStopped is raised."""
    try:
        return full_sync(bridge)
    except (SyncBusy, SyncStopped):
        put_back(bridge.store, picked)
        raise


def run_pending(bridge: Bridge) -> SyncResult | None:
    """By hand, as the scheduler does it: pick the pending full-sync requests and run one full
    sync for them; None when none waits."""
    picked = pick(bridge.store, bridge.settings.now())
    return run_picked(bridge, picked) if picked else None
