"""The freshness line on every page: 'Data as of 14:05 — 3 min ago', amber or red."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from flask import g, has_request_context
from sqlalchemy import Connection

from ..bridge import Bridge
from ..cache.state import CacheState, cache_state


@dataclass(frozen=True)
class Freshness:
    as_of: dt.datetime | None
    text: str
    level: str  # "ok" | "amber" | "red"
    reason: str | None = None


def read_cache_state(bridge: Bridge, conn: Connection) -> CacheState:
    """The state of the data ``conn`` reads, kept for the page's freshness line (``freshness``
    reuses it rather than asking the store again)."""
    state = cache_state(bridge, conn)
    if has_request_context():
        g.bpo2_cache_state = state
    return state


def age_text(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 1:
        return "just now"
    if minutes < 60:
        return f"{minutes} min ago"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} h {minutes % 60} min ago" if minutes % 60 else f"{hours} h ago"
    return f"{hours // 24} days ago"


def _naive_local(value: Any, bridge: Bridge) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        value = value.astimezone(bridge.settings.tz).replace(tzinfo=None)
    return value if isinstance(value, dt.datetime) else None


def failure_reason(failure: Any) -> str | None:
    if not failure:
        return None
    if isinstance(failure, str):
        return failure
    if isinstance(failure, dict):
        return failure.get("error") or failure.get("reason") or str(failure)
    for attr in ("error", "reason", "message"):
        if getattr(failure, attr, None):
            return str(getattr(failure, attr))
    if isinstance(failure, tuple) and failure:
        return str(failure[-1])
    return str(failure)


def compute(
    as_of: dt.datetime | None, now: dt.datetime, interval_minutes: int, failure: str | None
) -> Freshness:
    """The line from its inputs (pure, so tests pin the clock)."""
    if as_of is None:
        return Freshness(None, "No data synced yet", "red", failure)
    age = max(0.0, (now - as_of).total_seconds())
    text = f"Data as of {as_of:%H:%M}" if as_of.date() == now.date() else f"Data as of {as_of:%Y-%m-%d %H:%M}"
    text += f" — {age_text(age)}"
    if failure:
        return Freshness(as_of, text, "red", failure)
    level = "amber" if age > 2 * interval_minutes * 60 else "ok"
    return Freshness(as_of, text, level)


def freshness(bridge: Bridge) -> Freshness:
    try:
        cache = bridge.cache
        as_of = _naive_local(_view_as_of(bridge), bridge)
    except Exception as exc:  # the cache itself is unreadable: say so on the line
        return Freshness(None, "Cache unavailable", "red", str(exc).splitlines()[0][:200])
    try:
        failure = failure_reason(cache.last_failure())
    except Exception:
        failure = None
    return compute(as_of, bridge.settings.now(), bridge.settings.incremental_interval_minutes, failure)


def _view_as_of(bridge: Bridge) -> Any:
    """The as_of the view already read with `read_cache_state`, when it is for the serving snapshot."""
    state = g.get("bpo2_cache_state") if has_request_context() else None
    if state is not None and state.snapshot == bridge.cache.current():
        return state.as_of
    return bridge.cache.as_of()
