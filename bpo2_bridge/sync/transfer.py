"""Moving rows: streaming batches out of BPO2 and bulk writes into the cache."""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Select

from ..cache.time_limit import arm
from ..source.engines import SourceError, first_line
from .plan import EntityPlan, Row, raw_converter


@contextmanager
def reading(what: str) -> Iterator[None]:
    """Driver errors while reading BPO2 become one SourceError line naming what was read."""
    try:
        yield
    except SourceError:
        raise
    except Exception as exc:
        raise SourceError(f"BPO2 source failed while reading {what}: {first_line(exc)}") from exc


BATCH_TIMEOUT_KEY = "bpo2_batch_timeout"


def limit_batches(src: Connection, seconds: float) -> None:
    """Time-limit each batch a sync fetches on `src` rather than the whole statement.

    Reading a whole table legitimately takes longer than any statement timeout; the limit that
    protects BPO2 then applies per batch, as it does to each FETCH of a PostgreSQL server-side
    cursor. SQLite needs it said explicitly: its time limit runs while rows are fetched.
    """
    src.info[BATCH_TIMEOUT_KEY] = seconds


def _arm_batch(src: Connection, dbapi: Any) -> None:
    seconds = src.info.get(BATCH_TIMEOUT_KEY)
    if seconds and src.dialect.name == "sqlite":
        arm(dbapi, seconds)


def read_batches(
    src: Connection, plan: EntityPlan, stmt: Select[Any], batch: int, what: str, keys_only: bool = False
) -> Iterator[list[Row]]:
    """Batches of `stmt`'s rows in the form the cache stores them.

    Rows come from the bare DBAPI cursor and are converted column by column, with no per-row
    objects in between (that is most of a sync's time otherwise). A statement without
    parameters (a whole table) runs on a cursor of its own, server-side on PostgreSQL, so
    memory holds one batch; one with parameters (changed rows, one customer) is bound by
    SQLAlchemy and its rows then read from the same bare cursor.
    """
    with reading(what):
        compiled = stmt.compile(dialect=src.dialect)
        result = None
        dbapi = src.connection.dbapi_connection
        assert dbapi is not None
        if compiled.params:
            result = src.execute(stmt)  # default fetch strategy: nothing read ahead of us
            cursor = result.cursor
        else:
            _arm_batch(src, dbapi)
            if src.dialect.name == "postgresql":
                cursor = dbapi.cursor(name=f"bpo2_sync_{secrets.token_hex(4)}")
                cursor.itersize = batch  # type: ignore[attr-defined]  # a server-side cursor: rows per fetch
            else:
                cursor = dbapi.cursor()
            cursor.execute(str(compiled))
        try:
            # integer keys need no conversion; whole rows do
            convert = tuple if keys_only else raw_converter(plan, src.dialect, cursor.description)
            while True:
                _arm_batch(src, dbapi)
                part = cursor.fetchmany(batch)
                if not part:
                    return
                yield [convert(r) for r in part]
        finally:
            if result is not None:
                result.close()
            else:
                cursor.close()


def read_all(src: Connection, plan: EntityPlan, stmt: Select[Any], what: str) -> list[Row]:
    return [row for part in read_batches(src, plan, stmt, 10_000, what) for row in part]


def insert_rows(conn: Connection, plan: EntityPlan, rows: Sequence[Row]) -> None:
    if not rows:
        return
    if plan.cache_dialect.name == "postgresql":
        cols = ", ".join(plan.q(c) for c in plan.columns)
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            with cursor.copy(f"COPY {plan.table} ({cols}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        finally:
            cursor.close()
        return
    conn.exec_driver_sql(plan.insert_sql(), list(rows))


def update_rows(conn: Connection, plan: EntityPlan, changed: dict[tuple[int, ...], list[Row]]) -> None:
    """Rows grouped by the column positions that changed; one executemany per group."""
    for columns, rows in changed.items():
        params = [tuple(row[i] for i in columns) + plan.key_of(row) for row in rows]
        conn.exec_driver_sql(plan.update_sql(columns), params)


def delete_keys(conn: Connection, plan: EntityPlan, keys: Sequence[tuple[Any, ...]]) -> None:
    if keys:
        conn.exec_driver_sql(plan.delete_sql(), list(keys))
