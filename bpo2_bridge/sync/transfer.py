"""Moving rows: streaming batches out of BPO2 and bulk writes into the cache."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Select

from ..source import SourceError, first_line
from .plan import EntityPlan, Row


@contextmanager
def reading(what: str) -> Iterator[None]:
    """Driver errors while reading BPO2 become one SourceError line naming what was read."""
    try:
        yield
    except SourceError:
        raise
    except Exception as exc:
        raise SourceError(f"BPO2 source failed while reading {what}: {first_line(exc)}") from exc


def read_batches(src: Connection, stmt: Select[Any], batch: int, what: str) -> Iterator[Sequence[Any]]:
    """Rows of `stmt` in lists of at most `batch` (server-side cursor where the driver has one)."""
    with reading(what):
        result = src.execution_options(yield_per=batch).execute(stmt)
        yield from result.partitions(batch)


def read_all(src: Connection, stmt: Select[Any], what: str) -> list[Sequence[Any]]:
    with reading(what):
        return list(src.execute(stmt))


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


def update_rows(conn: Connection, plan: EntityPlan, rows: Sequence[Row]) -> None:
    if rows:
        conn.exec_driver_sql(plan.update_sql(), [plan.update_params(r) for r in rows])


def delete_keys(conn: Connection, plan: EntityPlan, keys: Sequence[tuple[Any, ...]]) -> None:
    if keys:
        conn.exec_driver_sql(plan.delete_sql(), list(keys))
