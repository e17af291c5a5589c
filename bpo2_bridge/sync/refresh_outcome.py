"""The Refresh button: one customer's rows pulled from BPO2 now, and the sentence that says
what changed, or why nothing could be pulled (the cached data keeps serving)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from ..source.engines import SourceError
from ..store.database import sync_runs
from .refresh import refresh_customer as run_refresh
from .results import UnknownCustomer

if TYPE_CHECKING:
    from ..bridge import Bridge


@dataclass(frozen=True)
class RefreshOutcome:
    message: str
    failed: bool
    changes: dict[str, dict[str, int]]


def _describe_changes(changes: dict[str, dict[str, int]]) -> str:
    parts = []
    for entity, counts in sorted(changes.items()):
        bits = [f"{n} {what}" for what, n in counts.items() if n]
        if bits:
            parts.append(f"{entity.replace('_', ' ')}: {', '.join(bits)}")
    return "; ".join(parts)


def _changes_of(result: Any) -> dict[str, dict[str, int]]:
    changes = result.get("changes") if isinstance(result, dict) else getattr(result, "changes", None)
    return {k: dict(v) for k, v in (changes or {}).items()}


def refresh_customer(bridge: Bridge, account_no: str) -> RefreshOutcome:
    """Pull one customer's rows from BPO2 now, saying what changed or why it could not."""
    try:
        result = run_refresh(bridge, account_no)
    except UnknownCustomer:
        return RefreshOutcome(f"Customer {account_no} is no longer in BPO2.", True, {})
    except SourceError:
        as_of = bridge.cache.as_of()
        when = f"{as_of:%Y-%m-%d %H:%M}" if as_of else "the last sync"
        return RefreshOutcome(f"BPO2 is unreachable — showing data as of {when}.", True, {})
    changes = _changes_of(result)
    described = _describe_changes(changes)
    now = bridge.settings.now()
    if described:
        return RefreshOutcome(f"Refreshed from BPO2 at {now:%H:%M}. Changed: {described}.", False, changes)
    return RefreshOutcome(f"Refreshed from BPO2 at {now:%H:%M}. No changes.", False, changes)


def last_refresh(bridge: Bridge, account_no: str, snapshot: str) -> dt.datetime | None:
    """When this customer's data was last pulled from BPO2 into ``snapshot`` by a Refresh that
    worked (the freshness line of its pages says so when it is newer than the last sync)."""
    query = select(func.max(sync_runs.c.finished_at)).where(
        sync_runs.c.kind == "customer",
        sync_runs.c.target == account_no,
        sync_runs.c.status == "ok",
        sync_runs.c.snapshot == snapshot,
    )
    with bridge.store.connect() as conn:
        value = conn.execute(query).scalar()
    return value if isinstance(value, dt.datetime) else None
