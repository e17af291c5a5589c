"""Sync history in the application store (`sync_runs`): one row per run, with its outcome."""

from __future__ import annotations

import datetime as dt
import json
import socket
from typing import Any

from sqlalchemy import Connection, Engine, select

from ..store.database import sync_runs

INTERRUPTED = "interrupted: the process running this sync ended before it finished"


def start(store: Engine, kind: str, now: dt.datetime, target: str | None = None) -> int:
    with store.begin() as conn:
        result = conn.execute(
            sync_runs.insert().values(
                kind=kind, target=target, started_at=now, status="running", host=socket.gethostname()[:100]
            )
        )
        key = result.inserted_primary_key
        assert key is not None  # an INSERT of one row always has it
        return int(key[0])


def succeed(
    conn: Connection,
    run_id: int,
    now: dt.datetime,
    *,
    rows: dict[str, int] | None = None,
    changes: dict[str, dict[str, int]] | None = None,
    snapshot: str | None = None,
) -> None:
    """Mark a run successful, inside the caller's store transaction (publish goes with it)."""
    conn.execute(
        sync_runs.update()
        .where(sync_runs.c.id == run_id)
        .values(
            status="ok",
            finished_at=now,
            error=None,
            rows_json=json.dumps(rows) if rows is not None else None,
            changes_json=json.dumps(changes) if changes is not None else None,
            snapshot=snapshot,
        )
    )


def fail(store: Engine, run_id: int, now: dt.datetime, reason: str) -> None:
    with store.begin() as conn:
        conn.execute(
            sync_runs.update()
            .where(sync_runs.c.id == run_id)
            .values(status="failed", finished_at=now, error=reason[:2000])
        )


def mark_interrupted(
    store: Engine, now: dt.datetime, kinds: tuple[str, ...] = ("full", "incremental")
) -> int:
    """Runs left 'running' by a process that died; called by whoever holds the sync lock."""
    with store.begin() as conn:
        result = conn.execute(
            sync_runs.update()
            .where(sync_runs.c.status == "running", sync_runs.c.kind.in_(kinds))
            .values(status="failed", finished_at=now, error=INTERRUPTED)
        )
        return result.rowcount


def recent(store: Engine, limit: int = 20, kind: str | None = None) -> list[dict[str, Any]]:
    """The latest runs, newest first, as plain dicts (rows and changes decoded)."""
    query = select(sync_runs).order_by(sync_runs.c.id.desc()).limit(limit)
    if kind:
        query = query.where(sync_runs.c.kind == kind)
    with store.connect() as conn:
        rows = conn.execute(query).mappings().all()
    out = []
    for row in rows:
        item = dict(row)
        item["rows"] = json.loads(item.pop("rows_json") or "null")
        item["changes"] = json.loads(item.pop("changes_json") or "null")
        started, finished = item["started_at"], item["finished_at"]
        item["seconds"] = round((finished - started).total_seconds(), 3) if started and finished else None
        out.append(item)
    return out
