"""How one entity travels from BPO2 to the cache.

The source side goes through the reflection layer (the mapped tables as they really are,
columns keyed by logical name) and is SQLAlchemy Core, so it compiles for every source
dialect, SQL Server included; each column is read as its model type, so a SQL Server
DATETIME holding a date still arrives as a date. The cache side is plain SQL on the
logical names with the driver's own placeholders, fed with rows already in the form the cache
stores (the cache dialect's bind processors applied once): what is written is exactly what a
later raw read returns, so comparing rows is comparing tuples.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from sqlalchemy import Column, Connection, Select, and_, or_, select, type_coerce
from sqlalchemy.engine import Dialect
from sqlalchemy.types import Integer

from ..source.mapping import EntityMap
from ..source.model import ENTITIES, Entity, Parent
from ..source.reflection import SourceSchema, for_customer, select_watermark

Row = tuple[Any, ...]
log = logging.getLogger(__name__)
KEY_CHUNK = 400  # keys per IN list: well under every engine's parameter limit


@dataclass
class EntityPlan:
    entity: Entity
    em: EntityMap
    schema: SourceSchema
    columns: tuple[str, ...]
    convert: Callable[[Sequence[Any]], Row]
    cache_dialect: Dialect
    pk: tuple[str, ...] = field(init=False)
    pk_index: tuple[int, ...] = field(init=False)
    key_of: Callable[[Sequence[Any]], tuple[Any, ...]] = field(init=False)
    key_value: Callable[[Sequence[Any]], Any] = field(init=False)  # fast, for equality only

    def __post_init__(self) -> None:
        self.pk = self.entity.pk
        self.pk_index = tuple(self.columns.index(k) for k in self.pk)
        self.key_value = itemgetter(*self.pk_index)
        if len(self.pk_index) == 1:
            first = self.pk_index[0]
            self.key_of = lambda row: (row[first],)
        else:
            self.key_of = itemgetter(*self.pk_index)  # a tuple for several indexes

    @property
    def name(self) -> str:
        return self.entity.name

    @property
    def change(self) -> Column[Any] | None:
        return self.schema.change_column(self.name)

    def col(self, name: str) -> Column[Any]:
        return self.schema.column(self.name, name)

    # -- source statements (SQLAlchemy Core: compiles for mssql too) ---------------------------

    def select_rows(self, *where: Any, ordered: bool = False) -> Select[Any]:
        stmt = select(
            *(type_coerce(self.col(c), self.entity.col(c).type).label(c) for c in self.columns)
        ).select_from(self.schema.table(self.name))
        if where:
            stmt = stmt.where(*where)
        if ordered:
            stmt = stmt.order_by(*(self.col(k) for k in self.pk))
        return stmt

    def select_keys(self) -> Select[Any]:
        keys = [self.col(k) for k in self.pk]
        return select(*(c.label(k) for c, k in zip(keys, self.pk))).order_by(*keys)

    def key_filter(self, keys: Sequence[tuple[Any, ...]]) -> Any:
        if len(self.pk) == 1:
            return self.col(self.pk[0]).in_([k[0] for k in keys])
        return or_(*(and_(*(self.col(c) == v for c, v in zip(self.pk, key))) for key in keys))

    def customer_filter(self, customer_id: int) -> Any:
        """Rows of one customer on the source, following the entity's owner links."""
        return for_customer(self.schema, self.name, customer_id)

    # -- cache statements (plain SQL on logical names, driver placeholders) -------------------

    @property
    def mark(self) -> str:
        return "?" if self.cache_dialect.name == "sqlite" else "%s"

    def q(self, name: str) -> str:
        return self.cache_dialect.identifier_preparer.quote(name)

    @property
    def table(self) -> str:
        return self.q(self.name)

    def insert_sql(self) -> str:
        cols = ", ".join(self.q(c) for c in self.columns)
        return f"INSERT INTO {self.table} ({cols}) VALUES ({', '.join(self.mark for _ in self.columns)})"

    def update_sql(self, changed: tuple[int, ...]) -> str:
        """UPDATE of the columns at `changed`; parameters: those values, then the key.

        Only what changed is set: SQLite rewrites every index on a column that is set, equal
        or not, so a full-row update costs several times as much."""
        sets = ", ".join(f"{self.q(self.columns[i])} = {self.mark}" for i in changed)
        return f"UPDATE {self.table} SET {sets} WHERE {self._key_match()}"

    def delete_sql(self) -> str:
        return f"DELETE FROM {self.table} WHERE {self._key_match()}"

    def _key_match(self) -> str:
        return " AND ".join(f"{self.q(k)} = {self.mark}" for k in self.pk)

    def cache_select(self, keys_only: bool = False) -> str:
        cols = self.pk if keys_only else self.columns
        return f"SELECT {', '.join(self.q(c) for c in cols)} FROM {self.table}"

    def _key_sql(self) -> tuple[str, str, str]:
        """(ORDER BY list, key expression, placeholders) for comparing keys on the cache."""
        order = ", ".join(self.q(k) for k in self.pk)
        if len(self.pk) == 1:
            return order, order, self.mark
        return order, f"({order})", "(" + ", ".join(self.mark for _ in self.pk) + ")"

    def cache_range(
        self, conn: Connection, after: tuple[Any, ...] | None, upto: tuple[Any, ...], keys_only: bool = False
    ) -> list[Row]:
        """Cache rows with `after` < key <= `upto`, in key order (no lower bound for None)."""
        order, key, marks = self._key_sql()
        base = self.cache_select(keys_only)
        if after is None:
            return fetch(conn, f"{base} WHERE {key} <= {marks} ORDER BY {order}", upto)
        return fetch(
            conn, f"{base} WHERE {key} > {marks} AND {key} <= {marks} ORDER BY {order}", after + upto
        )

    def cache_pages(
        self, conn: Connection, page: int, keys_only: bool = False, after: tuple[Any, ...] | None = None
    ) -> Iterator[list[Row]]:
        """Cache rows after `after` in key order, page by page (keyset paging: writes to keys
        already passed are safe between pages)."""
        order, key, marks = self._key_sql()
        base = self.cache_select(keys_only)
        while True:
            if after is None:
                rows = fetch(conn, f"{base} ORDER BY {order} LIMIT {page}", ())
            else:
                rows = fetch(conn, f"{base} WHERE {key} > {marks} ORDER BY {order} LIMIT {page}", after)
            if rows:
                yield rows
            if len(rows) < page:
                return
            after = tuple(rows[-1][: len(self.pk)]) if keys_only else self.key_of(rows[-1])

    def cache_rows_by_keys(
        self, conn: Connection, keys: Sequence[tuple[Any, ...]]
    ) -> dict[tuple[Any, ...], Row]:
        found: dict[tuple[Any, ...], Row] = {}
        for start in range(0, len(keys), KEY_CHUNK):
            chunk = keys[start : start + KEY_CHUNK]
            if len(self.pk) == 1:
                where = f"{self.q(self.pk[0])} IN ({', '.join(self.mark for _ in chunk)})"
                params: tuple[Any, ...] = tuple(k[0] for k in chunk)
            else:
                where = " OR ".join(f"({self._key_match()})" for _ in chunk)
                params = tuple(v for k in chunk for v in k)
            for row in fetch(conn, f"{self.cache_select()} WHERE {where}", params):
                found[self.key_of(row)] = row
        return found


def fetch(conn: Connection, sql: str, params: Sequence[Any]) -> list[Row]:
    """Every row of a cache query as plain tuples (what the cache stores, unconverted)."""
    result = conn.exec_driver_sql(sql, tuple(params))
    try:
        return [tuple(r) for r in result.cursor.fetchall()]
    finally:
        result.close()


def build_plans(schema: SourceSchema, cache_dialect: Dialect) -> list[EntityPlan]:
    """One plan per entity, in model order."""
    plans = []
    for entity in ENTITIES:
        em = schema.mapping[entity.name]
        columns = tuple(c.name for c in entity.cached_columns if em.has(c.name))
        for key in entity.pk:
            if not isinstance(entity.col(key).type, Integer):
                raise ValueError(f"{entity.name}.{key}: sync compares keys in order and needs integer keys")
        plans.append(
            EntityPlan(entity, em, schema, columns, _converter(entity, columns, cache_dialect), cache_dialect)
        )
    return plans


def _converter(entity: Entity, columns: Sequence[str], dialect: Dialect) -> Callable[[Sequence[Any]], Row]:
    """Source row (Python values) -> the tuple the cache stores."""
    procs: list[tuple[int, Callable[[Any], Any]]] = []
    for i, name in enumerate(columns):
        col_type = entity.col(name).type
        proc = col_type.dialect_impl(dialect).bind_processor(dialect)
        if proc is not None:
            procs.append((i, proc))
    return _apply(procs)


def raw_converter(
    plan: EntityPlan, source: Dialect, description: Sequence[Any]
) -> Callable[[Sequence[Any]], Row]:
    """Row as the source driver returns it -> the tuple the cache stores.

    The source dialect's result processor (driver value -> Python) then the cache dialect's
    bind processor (Python -> stored value). SQLite to SQLite stores values the same way on
    both sides, so they pass through untouched.
    """
    cache = plan.cache_dialect
    procs: list[tuple[int, Callable[[Any], Any]]] = []
    for i, name in enumerate(plan.columns):
        col_type = plan.entity.col(name).type
        if source.name == "sqlite" and cache.name == "sqlite":
            continue
        read = col_type.dialect_impl(source).result_processor(source, description[i][1])
        write = col_type.dialect_impl(cache).bind_processor(cache)
        if read and write:
            procs.append((i, _chained(read, write)))
        elif read is not None:
            procs.append((i, read))
        elif write is not None:
            procs.append((i, write))
    return _apply(procs)


def _chained(first: Callable[[Any], Any], then: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda value: then(first(value))


def _apply(procs: list[tuple[int, Callable[[Any], Any]]]) -> Callable[[Sequence[Any]], Row]:
    if not procs:
        return tuple

    def convert(row: Sequence[Any]) -> Row:
        out = list(row)
        for i, proc in procs:
            out[i] = proc(out[i])
        return tuple(out)

    return convert


def cache_scope(plans: dict[str, EntityPlan], name: str) -> str:
    """WHERE clause (plain SQL, one placeholder: the customer id) on the cache table."""
    plan = plans[name]
    link = plan.entity.customer_link
    if link is None:
        raise ValueError(f"{name} is reference data, not owned by a customer")
    if isinstance(link, str):
        return f"{plan.q(link)} = {plan.mark}"
    assert isinstance(link, Parent)
    parent = plans[link.entity]
    inner = (
        f"SELECT {parent.q(link.parent_column)} FROM {parent.table} WHERE {cache_scope(plans, link.entity)}"
    )
    return f"{plan.q(link.column)} IN ({inner})"


# -- watermarks ------------------------------------------------------------------------------

DATETIME_OVERLAP = dt.timedelta(minutes=15)  # a transaction open this long still gets seen


@dataclass(frozen=True)
class Watermark:
    value: Any  # what the next incremental sync reads from
    clock: dt.datetime | None  # the source's current time as BPO2 stores times (date-time columns)

    def in_future(self, stored: Any) -> bool:
        """Whether a stored watermark lies later than the source's clock (written before the cap)."""
        if self.clock is None or not isinstance(stored, dt.date):
            return False
        return bool(stored > _clock_for(stored, self.clock))


def take_watermark(conn: Connection, plan: EntityPlan, tz: dt.tzinfo) -> Watermark:
    """The change value from which the next incremental sync must read, taken before reading.

    SQL Server rowversion: MIN_ACTIVE_ROWVERSION(), the lowest value still uncommitted, so a
    row committed later always carries a value at or above it (never @@DBTS). Elsewhere, the
    highest value present; datetime columns are read back with an overlap (DATETIME_OVERLAP).
    A date-time value later than the source's own clock (one row stamped in 2030) would carry
    the watermark past every change to come: the watermark stops at the clock (in ``tz``, as
    BPO2 stores times), and that row is read again each time until the clock passes it.
    """
    row = conn.execute(select_watermark(plan.schema, plan.name)).one()
    value = row[0]
    if len(row) < 2 or row[1] is None:
        return Watermark(value, None)
    clock = _local_time(row[1], tz)
    if isinstance(value, dt.date) and value > _clock_for(value, clock):
        cap = _clock_for(value, clock)
        log.warning(
            "watermark of %s capped at BPO2's clock %s: a row carries the change value %s, later"
            " than BPO2's own time; such rows are read again at every sync until then",
            plan.name,
            cap,
            value,
            extra={"entity": plan.name, "change_value": str(value), "source_now": str(cap)},
        )
        value = cap
    return Watermark(value, clock)


def _local_time(utc: Any, tz: dt.tzinfo) -> dt.datetime:
    """The source's UTC clock reading as a naive local time in ``tz`` (how BPO2 stores times)."""
    if isinstance(utc, str):  # a driver that hands the expression back as text
        utc = dt.datetime.fromisoformat(utc)
    moment: dt.datetime = utc.astimezone(dt.UTC) if utc.tzinfo is not None else utc.replace(tzinfo=dt.UTC)
    return moment.astimezone(tz).replace(tzinfo=None)


def _clock_for(value: dt.date, clock: dt.datetime) -> dt.date:
    return clock if isinstance(value, dt.datetime) else clock.date()


def changed_since(plan: EntityPlan, watermark: Any) -> Any:
    change = plan.change
    assert change is not None
    if isinstance(watermark, dt.datetime):
        watermark = watermark - DATETIME_OVERLAP
    return change >= watermark


def dump_watermark(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "x:" + bytes(value).hex()
    if isinstance(value, dt.datetime):
        return "t:" + value.isoformat()
    if isinstance(value, dt.date):
        return "d:" + value.isoformat()
    return "i:" + str(int(value))


def load_watermark(text: str | None) -> Any:
    if not text:
        return None
    kind, _, raw = text.partition(":")
    if kind == "x":
        return bytes.fromhex(raw)
    if kind == "t":
        return dt.datetime.fromisoformat(raw)
    if kind == "d":
        return dt.date.fromisoformat(raw)
    return int(raw)
