"""Sync history in the application store (`sync_runs`): one row per run, with its outcome.

Every sync records its run the same way, through `recorded`:

    with history.recorded(bridge.store, "full", started, clock=settings.now) as run:
        ...
        with bridge.store.begin() as conn:
            cache.publish(conn, name)
            run.succeed(conn, settings.now(), rows=rows, snapshot=name)
"""

from __future__ import annotations

import datetime as dt
import json
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, select

from ..source.engines import first_line
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


def describe(exc: BaseException) -> str:
    """The one-line reason a run failed, as history and the freshness line show it."""
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted (Ctrl+C)"
    if isinstance(exc, SystemExit):
        return "interrupted (process exit)"
    text = first_line(exc)
    return text if isinstance(exc, RuntimeError) else f"{type(exc).__name__}: {text}"


class Run:
    """A run being recorded: its row id, and `succeed` inside the caller's store transaction."""

    def __init__(self, run_id: int, started_at: dt.datetime) -> None:
        self.id = run_id
        self.started_at = started_at

    def succeed(
        self,
        conn: Connection,
        now: dt.datetime,
        *,
        rows: dict[str, int] | None = None,
        changes: dict[str, dict[str, int]] | None = None,
        snapshot: str | None = None,
    ) -> None:
        succeed(conn, self.id, now, rows=rows, changes=changes, snapshot=snapshot)


@contextmanager
def recorded(
    store: Engine,
    kind: str,
    started: dt.datetime,
    *,
    target: str | None = None,
    clock: Callable[[], dt.datetime] = dt.datetime.now,
    failed_as: type[Exception] | None = None,
) -> Iterator[Run]:
    """Record one run: 'running' now, 'failed' with the one-line reason when the block raises
    (anything, Ctrl+C included), and re-raise. The block marks success itself (`run.succeed`),
    in the store transaction that publishes its work. With `failed_as`, an unexpected error
    leaves as that type, carrying the reason (the original chained)."""
    run = Run(start(store, kind, started, target), started)
    try:
        yield run
    except BaseException as exc:
        reason = describe(exc)
        try:
            fail(store, run.id, clock(), reason)
        except Exception:
            pass  # the store itself is down; the run stays 'running' and is marked interrupted later
        if failed_as is not None and isinstance(exc, Exception) and not isinstance(exc, failed_as):
            raise failed_as(reason) from exc
        raise


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


def running(store: Engine, kinds: tuple[str, ...] = ("full", "incremental")) -> dict[str, Any] | None:
    """The newest run of `kinds` still marked running (a run the sync lease says is alive, or
    one a dead process left, until the next sync marks it interrupted)."""
    query = (
        select(sync_runs.c.id, sync_runs.c.kind, sync_runs.c.target, sync_runs.c.started_at, sync_runs.c.host)
        .where(sync_runs.c.status == "running", sync_runs.c.kind.in_(kinds))
        .order_by(sync_runs.c.id.desc())
        .limit(1)
    )
    with store.connect() as conn:
        row = conn.execute(query).mappings().first()
    return dict(row) if row else None


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
