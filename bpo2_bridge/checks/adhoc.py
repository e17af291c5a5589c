"""Ad-hoc read-only SQL: guarded, time-limited, row-capped, reported in one line when it fails."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, make_url
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.sql.elements import TextClause

from ..cache.schema import CACHE
from ..cache.time_limit import arm, disarm, pg_statement_timeout
from ..setting_values import as_seconds
from ..settings import Settings
from ..source.engines import SourceError, first_line, is_timeout, open_readonly, source_session, source_url
from .guard import Policy, RefusedQuery, check_sql

if TYPE_CHECKING:
    from ..bridge import Bridge

FETCH_BATCH = 500
TARGETS = ("source", "cache")
MB = 1024 * 1024
# what a time limit may be, wherever it comes from (CLI, the page, a caller): finite seconds
MIN_TIMEOUT, MAX_TIMEOUT = 0.1, 3600.0
parse_timeout = as_seconds(MIN_TIMEOUT, MAX_TIMEOUT)


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
    (BPO2, or the current cache snapshot, of which it sees only the cache tables) that stops
    the whole query, fetching included, after `timeout` seconds."""
    settings = bridge.settings
    try:
        timeout = parse_timeout(settings.query_timeout if timeout is None else timeout)
    except ValueError as exc:
        raise QueryFailed(f"timeout {exc}") from None
    max_rows = int(max_rows or settings.query_max_rows)
    policy = query_policy(settings, max_rows)
    if target == "source":
        url = source_url(settings)
        prelude: tuple[str, ...] = ()
    elif target == "cache":
        url, prelude = _cache_target(bridge)
        policy = replace(policy, tables=frozenset(CACHE.tables))
    else:
        raise QueryFailed(f"unknown target {target!r} (use {' or '.join(TARGETS)})")
    max_bytes = settings.query_max_mb * MB
    try:
        engine = open_readonly(url, timeout, max_value_bytes=max_bytes)
    except SourceError as exc:
        raise QueryFailed(str(exc)) from None
    try:
        try:
            statement = check_sql(sql, engine.dialect.name, policy)
        except RefusedQuery as exc:
            raise QueryFailed(f"Refused: {exc}") from None
        return run_statement(
            engine, statement, max_rows=max_rows, timeout=timeout, prelude=prelude, max_bytes=max_bytes
        )
    finally:
        engine.dispose()


def query_policy(settings: Settings, max_rows: int) -> Policy:
    """The guard's rules for ad-hoc SQL from the settings; one row past the cap tells a
    truncated result from a complete one."""
    return Policy(
        max_chars=settings.query_max_chars,
        max_depth=settings.query_max_depth,
        functions=tuple(settings.query_allowed_functions),
        max_rows=max_rows + 1,
    )


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


def run_query(
    engine: Engine, sql: str, *, max_rows: int, timeout: float, policy: Policy | None = None
) -> QueryResult:
    """Guard `sql` for the engine's dialect and run it; QueryFailed with a one-line reason otherwise.

    The statement runs without bind processing, so a ':word' or '%' inside a string literal
    stays text.
    """
    policy = policy or Policy(max_rows=max_rows + 1)
    try:
        statement = check_sql(sql, engine.dialect.name, policy)
    except RefusedQuery as exc:
        raise QueryFailed(f"Refused: {exc}") from None
    return run_statement(engine, statement, max_rows=max_rows, timeout=timeout)


def run_on_url(
    url: URL | str, sql: str, *, max_rows: int, timeout: float, policy: Policy | None = None
) -> QueryResult:
    """Guard and run `sql` on a fresh read-only engine whose statements stop after `timeout`."""
    try:
        engine = open_readonly(url, timeout)
    except SourceError as exc:
        raise QueryFailed(str(exc)) from None
    try:
        return run_query(engine, sql, max_rows=max_rows, timeout=timeout, policy=policy)
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
    max_bytes: int | None = None,
) -> QueryResult:
    """Run a statement the product trusts (already guarded, or a canned check) in a read-only,
    rolled-back session. `keep` drops rows in Python; `count_all` reads every row to count them
    while keeping only the first `max_rows`; `max_bytes` bounds the row data kept.

    `timeout` covers the whole statement: the engine's own limit stops each round trip, and a
    wall clock around the fetch loop stops the rows of a query that, batch by batch, would
    each stay under it (PostgreSQL applies statement_timeout to every FETCH on its own)."""
    started = time.monotonic()
    deadline = started + timeout
    rows: list[tuple[Any, ...]] = []
    total = size = 0
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
                    _before_fetch(conn, deadline, timeout)
                    batch = result.fetchmany(FETCH_BATCH)
                    if not batch:
                        break
                    for row in batch:
                        if keep is not None and not keep(dict(row._mapping)):
                            continue
                        total += 1
                        if len(rows) <= max_rows:
                            rows.append(tuple(row))
                            size += sum(_size(v) for v in row)
                    if max_bytes is not None and size > max_bytes:
                        raise QueryFailed(
                            f"Stopped: the rows came to more than {max_bytes // MB} MB (query_max_mb); "
                            "select fewer rows or narrower columns"
                        )
                    if not count_all and len(rows) > max_rows:
                        break
                result.close()
            finally:
                _release_deadline(conn)
    except SourceError as exc:
        raise QueryFailed(str(exc)) from None
    except SQLAlchemyError as exc:
        if is_timeout(exc):
            raise QueryFailed(_too_long(timeout)) from None
        if max_bytes is not None and "too big" in first_line(exc).lower():
            raise QueryFailed(
                f"Stopped: a value grew past {max_bytes // MB} MB, the largest a query may build (query_max_mb)"
            ) from None
        raise QueryFailed(f"Failed: {first_line(exc)}") from None
    elapsed = int((time.monotonic() - started) * 1000)
    truncated = len(rows) > max_rows
    sql = statement if isinstance(statement, str) else statement.text
    return QueryResult(columns, rows[:max_rows], truncated, elapsed, sql, total)


def _too_long(timeout: float) -> str:
    return f"Stopped: the query ran longer than the {timeout:g} s time limit"


def _before_fetch(conn: Connection, deadline: float, timeout: float) -> None:
    """Stop once the wall clock passes the deadline; on PostgreSQL the next FETCH gets only
    the time that is left as its statement_timeout."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise QueryFailed(_too_long(timeout))
    if conn.dialect.name == "postgresql":  # a plain cursor: the rows' own cursor is a named one
        conn.exec_driver_sql(pg_statement_timeout(left), execution_options={"stream_results": False})


def _size(value: Any) -> int:
    """Roughly what a value costs to keep: its length for text and bytes, a word otherwise."""
    if isinstance(value, (str, bytes, bytearray, memoryview)):
        return len(value)
    return 16


def _keep_deadline(conn: Connection, seconds_left: float) -> None:
    """SQLite computes rows while they are fetched, after the engine's per-statement deadline
    has been disarmed: re-arm it over fetching. Server engines enforce the limit themselves."""
    if conn.dialect.name == "sqlite":
        arm(conn.connection.dbapi_connection, seconds_left)


def _release_deadline(conn: Connection) -> None:
    if conn.dialect.name == "sqlite" and not conn.closed:
        disarm(conn.connection.dbapi_connection)
