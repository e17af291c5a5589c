"""Ad-hoc read-only SQL: guarded, time-limited, row-capped, reported in one line when it fails."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, make_url
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.sql.elements import TextClause

from ..source import SourceError, first_line, is_timeout, open_readonly, source_session, source_url
from ..time_limit import arm, disarm
from .guard import RefusedQuery, check_sql

if TYPE_CHECKING:
    from ..bridge import Bridge

FETCH_BATCH = 500
TARGETS = ("source", "cache")


class QueryFailed(RuntimeError):
    """The query was refused, timed out or failed; the message is one line for the user."""


@dataclass
class QueryResult:
    columns: list[str]
    rows: list[tuple[Any, ...]]  # at most the row cap
    truncated: bool  # more rows existed than the cap allowed
    elapsed_ms: int
    sql: str  # the statement that ran (normalized by the guard for ad-hoc SQL)
    total: int  # rows found: exact when counted, else len(rows) (+1 when truncated)

    @property
    def notice(self) -> str:
        """The truncation notice, or empty."""
        if not self.truncated:
            return ""
        return f"Showing the first {len(self.rows)} rows only: the query returned more (row cap {len(self.rows)})."


def run_adhoc(
    bridge: Bridge,
    sql: str,
    *,
    target: str = "source",
    timeout: float | None = None,
    max_rows: int | None = None,
) -> QueryResult:
    """Ad-hoc SQL as ops run it (CLI and page): guarded, on a read-only engine of `target`
    (BPO2, or the current cache snapshot) whose statements stop after `timeout` seconds."""
    settings = bridge.settings
    timeout = float(timeout or settings.query_timeout)
    max_rows = int(max_rows or settings.query_max_rows)
    if target == "source":
        url = source_url(settings)
        prelude: tuple[str, ...] = ()
    elif target == "cache":
        url, prelude = _cache_target(bridge)
    else:
        raise QueryFailed(f"unknown target {target!r} (use {' or '.join(TARGETS)})")
    try:
        engine = open_readonly(url, timeout)
    except SourceError as exc:
        raise QueryFailed(str(exc)) from None
    try:
        try:
            statement = check_sql(sql, engine.dialect.name)
        except RefusedQuery as exc:
            raise QueryFailed(f"Refused: {exc}") from None
        return run_statement(engine, statement, max_rows=max_rows, timeout=timeout, prelude=prelude)
    finally:
        engine.dispose()


def _cache_target(bridge: Bridge) -> tuple[URL, tuple[str, ...]]:
    """URL of the snapshot serving now, and what selects it (a PostgreSQL schema)."""
    cache = bridge.cache
    name = cache.current()
    if name is None:
        raise QueryFailed("the cache is empty: run `bpo2-bridge sync --full` first")
    if cache.kind == "sqlite":
        return make_url(f"sqlite:///{cache.path(name)}"), ()
    quoted = cache.dialect.identifier_preparer.quote(name)
    return make_url(bridge.settings.cache_url), (f"SET LOCAL search_path TO {quoted}",)


def run_query(engine: Engine, sql: str, *, max_rows: int, timeout: float) -> QueryResult:
    """Guard `sql` for the engine's dialect and run it; QueryFailed with a one-line reason otherwise.

    The statement runs without bind processing, so a ':word' or '%' inside a string literal
    stays text.
    """
    try:
        statement = check_sql(sql, engine.dialect.name)
    except RefusedQuery as exc:
        raise QueryFailed(f"Refused: {exc}") from None
    return run_statement(engine, statement, max_rows=max_rows, timeout=timeout)


def run_on_url(url: URL | str, sql: str, *, max_rows: int, timeout: float) -> QueryResult:
    """Guard and run `sql` on a fresh read-only engine whose statements stop after `timeout`."""
    try:
        engine = open_readonly(url, timeout)
    except SourceError as exc:
        raise QueryFailed(str(exc)) from None
    try:
        return run_query(engine, sql, max_rows=max_rows, timeout=timeout)
    finally:
        engine.dispose()


def run_statement(
    engine: Engine,
    statement: str | TextClause,
    *,
    max_rows: int,
    timeout: float,
    params: dict[str, Any] | None = None,
    keep: Callable[[dict[str, Any]], bool] | None = None,
    count_all: bool = False,
    prelude: tuple[str, ...] = (),
) -> QueryResult:
    """Run a statement the product trusts (already guarded, or a canned check) in a read-only,
    rolled-back session. `keep` drops rows in Python; `count_all` reads every row to count them
    while keeping only the first `max_rows`."""
    started = time.monotonic()
    rows: list[tuple[Any, ...]] = []
    total = 0
    try:
        with source_session(engine) as conn:
            for setup in prelude:
                conn.exec_driver_sql(setup)
            streaming = conn.execution_options(stream_results=True)
            if isinstance(statement, str):
                # no parameters at all: the driver leaves '%' and '?' in literals alone
                result = streaming.execution_options(no_parameters=True).exec_driver_sql(statement)
            else:
                result = streaming.execute(statement, params or {})
            _keep_deadline(conn, started + timeout - time.monotonic())
            try:
                columns = list(result.keys())
                while True:
                    batch = result.fetchmany(FETCH_BATCH)
                    if not batch:
                        break
                    for row in batch:
                        if keep is not None and not keep(dict(row._mapping)):
                            continue
                        total += 1
                        if len(rows) <= max_rows:
                            rows.append(tuple(row))
                    if not count_all and len(rows) > max_rows:
                        break
                result.close()
            finally:
                _release_deadline(conn)
    except SourceError as exc:
        raise QueryFailed(str(exc)) from None
    except SQLAlchemyError as exc:
        if is_timeout(exc):
            raise QueryFailed(f"Stopped: the query ran longer than the {timeout:g} s time limit") from None
        raise QueryFailed(f"Failed: {first_line(exc)}") from None
    elapsed = int((time.monotonic() - started) * 1000)
    truncated = len(rows) > max_rows
    sql = statement if isinstance(statement, str) else statement.text
    return QueryResult(columns, rows[:max_rows], truncated, elapsed, sql, total)


def _keep_deadline(conn: Connection, seconds_left: float) -> None:
    """SQLite computes rows while they are fetched, after the engine's per-statement deadline
    has been disarmed: re-arm it over fetching. Server engines enforce the limit themselves."""
    if conn.dialect.name == "sqlite":
        arm(conn.connection.dbapi_connection, seconds_left)


def _release_deadline(conn: Connection) -> None:
    if conn.dialect.name == "sqlite" and not conn.closed:
        disarm(conn.connection.dbapi_connection)
