"""Batched inserts of the demo rows: buffers per entity, one transaction per batch.

Rows arrive as dicts keyed by logical column names. On SQLite, where SQLAlchemy's per-value
parameter processing would dominate a large build, rows are turned into tuples with the same
stored text SQLAlchemy writes (dates as ISO text, datetimes with microseconds) and sent with the
driver's executemany; other engines take `conn.execute(table.insert(), batch)`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, Date, DateTime, LargeBinary, Table
from sqlalchemy.engine import Dialect

from ..source.model import ENTITIES

Progress = Callable[[str, int], None]
STAMP = "modified_date"  # the row's change stamp, also what fills a physical-only change column
Converter = Callable[[Any], Any]


def _sqlite_datetime(value: dt.datetime) -> str:
    return value.isoformat(" ", "microseconds")  # SQLAlchemy's SQLite DATETIME storage format


def sqlite_converters(table: Table, dialect: Dialect) -> list[Converter | None]:
    """Per column (table order): what turns a Python value into what SQLAlchemy stores on SQLite."""
    out: list[Converter | None] = []
    for col in table.c:
        if isinstance(col.type, DateTime):
            out.append(_sqlite_datetime)
        elif isinstance(col.type, Date):
            out.append(dt.date.isoformat)
        else:
            out.append(col.type.dialect_impl(dialect).bind_processor(dialect))
    return out


class _SqliteInsert:
    def __init__(self, table: Table, dialect: Dialect) -> None:
        compiled = table.insert().compile(dialect=dialect)
        self.sql = str(compiled)
        keys = list(compiled.positiontup or [])
        assert keys == [col.key for col in table.c], "insert binds every column in table order"
        self.getter = itemgetter(*keys)
        self.convert = [(i, fn) for i, fn in enumerate(sqlite_converters(table, dialect)) if fn is not None]

    def rows(self, rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        getter, convert = self.getter, self.convert
        out = []
        for row in rows:
            values = list(getter(row))
            for i, fn in convert:
                value = values[i]
                if value is not None:
                    values[i] = fn(value)
            out.append(tuple(values))
        return out


class Writer:
    """Buffers rows per entity and inserts them in batches, each batch in its own transaction."""

    def __init__(
        self, conn: Connection, tables: dict[str, Table], batch: int, progress: Progress | None
    ) -> None:
        self.conn = conn
        self.tables = tables
        self.batch = batch
        self.progress = progress
        self.buffers: dict[str, list[dict[str, Any]]] = {name: [] for name in tables}
        self.counts: dict[str, int] = dict.fromkeys(tables, 0)
        self._drop: dict[str, tuple[str, ...]] = {}
        self._change: dict[str, int] = {}
        self._sqlite: dict[str, _SqliteInsert] = {}
        for entity in ENTITIES:
            table = tables[entity.name]
            # "modified_date" comes with every row that has a change stamp, logical column or not
            names = dict.fromkeys([*(col.name for col in entity.columns), STAMP])
            self._drop[entity.name] = tuple(name for name in names if name not in table.c)
            if "_change" in table.c:  # a physical-only change column the mapping names
                self._change[entity.name] = 0
            if conn.dialect.name == "sqlite":
                self._sqlite[entity.name] = _SqliteInsert(table, conn.dialect)

    def add(self, entity: str, row: dict[str, Any]) -> None:
        buffer = self.buffers[entity]
        buffer.append(row)
        if len(buffer) >= self.batch:
            self.flush(entity)

    def flush(self, entity: str) -> None:
        rows = self.buffers[entity]
        if not rows:
            return
        if entity in self._change:  # before dropping: the stamp may be a dropped key
            rows = [self._with_change(entity, row) for row in rows]
        drop = self._drop[entity]
        if drop:
            rows = [{k: v for k, v in row.items() if k not in drop} for row in rows]
        fast = self._sqlite.get(entity)
        if fast is not None:
            self.conn.exec_driver_sql(fast.sql, fast.rows(rows))
        else:
            self.conn.execute(self.tables[entity].insert(), rows)
        self.conn.commit()
        self.counts[entity] += len(rows)
        self.buffers[entity] = []
        if self.progress and entity != "customer":  # customers are reported as generated
            self.progress(entity, self.counts[entity])

    def _with_change(self, entity: str, row: dict[str, Any]) -> dict[str, Any]:
        self._change[entity] += 1
        if isinstance(self.tables[entity].c["_change"].type, LargeBinary):
            value: Any = self._change[entity].to_bytes(8, "big")  # a rowversion-like counter
        else:
            value = row.get(STAMP) or dt.datetime(2000, 1, 1)
        return {**row, "_change": value}

    def finish(self) -> None:
        for entity in self.tables:
            self.flush(entity)
