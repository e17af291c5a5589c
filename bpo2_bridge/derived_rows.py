"""The derived rows the grids read (``contract_row``, ``customer_row``), written by the sync.

A grid sorts, filters, counts and searches what these rows store, through their indexes, so no
request works a value out per row. They are written in the same transaction as the rows they
derive from: the full sync fills them while building a snapshot; an incremental sync and a
Refresh note which customers their changes touch (``Touched``) and derive those customers' rows
again before they commit. Readers never see base and derived rows disagree.

Only the customers' contract counts depend on today. They are stored with the day they were
counted for (``COUNTS_DAY`` in the snapshot's metadata) and counted again by the job after local
midnight and by any sync that finds them counted for another day; until then the Customers grid
counts them as it reads (``counts_day``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    BindParameter,
    Connection,
    Date,
    Integer,
    String,
    bindparam,
    column,
    select,
    text,
    union,
)
from sqlalchemy.sql.elements import TextClause
from sqlalchemy.sql.selectable import TextualSelect

from . import sqlfiles, windows
from .cache_schema import DERIVED, cache_table
from .settings import Settings

if TYPE_CHECKING:
    from .bridge import Bridge

META_TABLE = "_bridge_meta"
COUNTS_DAY = "derived.counts_day"
CHUNK = 500  # customers per scoped statement: bound parameters stay few on every engine
Key = tuple[Any, ...]
DERIVATIONS = {"customer_row": "derive_customer_rows", "contract_row": "derive_contract_rows"}


def _sql(name: str, dialect: Any, scoped: bool = False, prefix: str = "") -> TextClause:
    sql = prefix + sqlfiles.render(name, dialect, scoped=scoped)
    binds: list[BindParameter[Any]] = [
        bindparam("today", type_=Date()),
        bindparam("window_end", type_=Date()),
        bindparam("excluded", type_=String(), expanding=True),
        bindparam("customer_ids", type_=Integer(), expanding=True),
    ]
    # only the parameters the statement names: text() refuses to bind an unknown one
    return text(sql).bindparams(*(b for b in binds if f":{b.key}" in sql))


def window_values(settings: Settings, today: dt.date) -> dict[str, Any]:
    """The parameters the derivations and counts bind: today, the window's end, the excluded."""
    p = windows.params(settings, today)
    return {"today": today, "window_end": p["window_end"], "excluded": p["excluded"]}


def derivation(name: str, dialect: Any, scoped: bool = False) -> TextualSelect:
    """The SELECT that derives table ``name`` from the entity tables, typed as its columns."""
    if name not in DERIVATIONS:
        raise ValueError(f"no derived table {name!r}")
    columns = [column(c.name, c.type) for c in cache_table(name).columns]
    return _sql(DERIVATIONS[name], dialect, scoped).columns(*columns)


def _insert(
    conn: Connection, name: str, settings: Settings, today: dt.date, ids: Sequence[int] | None
) -> None:
    columns = ", ".join(c.name for c in cache_table(name).columns)
    insert = _sql(
        f"derive_{name}s", conn.dialect, ids is not None, prefix=f"INSERT INTO {name} ({columns})\n"
    )
    scope = {"customer_ids": list(ids)} if ids is not None else {}
    conn.execute(insert, window_values(settings, today) | scope)


def build(conn: Connection, settings: Settings, today: dt.date) -> None:
    """Fill the (empty) derived tables of a snapshot being built, counts as of ``today``."""
    for name in DERIVED:
        _insert(conn, name, settings, today, None)
    _set_counts_day(conn, today)


def rebuild(conn: Connection, customers: Iterable[int], settings: Settings, today: dt.date) -> None:
    """Derive again the rows of ``customers`` (their contracts included), and count every
    customer's contracts again if they were counted for another day than ``today``."""
    ids = sorted(set(customers))
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        for name in reversed(DERIVED):  # contract rows first: they are derived from customer rows
            conn.execute(cache_table(name).delete().where(cache_table(name).c.customer_id.in_(chunk)))
        for name in DERIVED:
            _insert(conn, name, settings, today, chunk)
    if counts_day(conn) != today:
        count_contracts(conn, settings, today)


def count_contracts(conn: Connection, settings: Settings, today: dt.date) -> None:
    """Every customer's stored contract counts, counted again for ``today``."""
    clause = _sql("update_customer_counts", conn.dialect)
    conn.execute(clause, window_values(settings, today))
    _set_counts_day(conn, today)


def count_contracts_now(bridge: Bridge) -> None:
    """The job after local midnight: every customer's contract counts, counted for the new day
    in one write transaction on the serving snapshot (nothing to do if a sync did it already)."""
    today = bridge.today()
    with bridge.cache.write() as conn:
        if counts_day(conn) != today:
            count_contracts(conn, bridge.settings, today)


def counts_day(conn: Connection) -> dt.date | None:
    """The day the stored contract counts were counted for (None: never)."""
    value = conn.execute(
        text(f"SELECT value FROM {META_TABLE} WHERE key = :key"), {"key": COUNTS_DAY}
    ).scalar()
    return dt.date.fromisoformat(value) if value else None


def _set_counts_day(conn: Connection, today: dt.date) -> None:
    conn.execute(text(f"DELETE FROM {META_TABLE} WHERE key = :key"), {"key": COUNTS_DAY})
    conn.execute(
        text(f"INSERT INTO {META_TABLE} (key, value) VALUES (:key, :value)"),
        {"key": COUNTS_DAY, "value": today.isoformat()},
    )


# -- which customers a write touches --------------------------------------------------------


def _lookups() -> dict[str, Callable[[list[Key]], Any]]:
    """Per entity whose rows a derived row reads: the customers whose derived rows read the
    rows of the given keys (a SELECT of customer ids), or None where the key is the customer."""
    contract, item, customer = cache_table("contract"), cache_table("contract_item"), cache_table("customer")
    links = cache_table("customer_salesman")

    def first(keys: list[Key]) -> list[Any]:
        return [k[0] for k in keys]

    return {
        "customer": lambda keys: first(keys),
        "customer_salesman": lambda keys: first(keys),
        "contract": lambda keys: select(contract.c.customer_id).where(
            contract.c.contract_id.in_(first(keys))
        ),
        "contract_item": lambda keys: (
            select(contract.c.customer_id)
            .join(item, item.c.contract_id == contract.c.contract_id)
            .where(item.c.contract_item_id.in_(first(keys)))
        ),
        "contract_type": lambda keys: select(contract.c.customer_id).where(
            contract.c.contract_type_id.in_(first(keys))
        ),
        "site": lambda keys: union(
            select(customer.c.customer_id).where(customer.c.site_id.in_(first(keys))),
            select(contract.c.customer_id).where(contract.c.site_id.in_(first(keys))),
        ),
        "employee": lambda keys: select(links.c.customer_id).where(
            links.c.employee_id.in_(first(keys)), links.c.is_main.is_(True)
        ),
    }


class Touched:
    """The customers whose derived rows one write transaction must derive again.

    ``note`` is called with the keys of an entity's changed rows twice: before the write (the
    customers the old rows belonged to) and after it (the customers the new rows belong to), so
    a contract moved to another customer brings both."""

    def __init__(self) -> None:
        self.customers: set[int] = set()
        self._lookups = _lookups()

    def note(self, conn: Connection, entity: str, keys: Sequence[Key]) -> None:
        lookup = self._lookups.get(entity)
        if lookup is None or not keys:
            return
        keys = list(keys)
        for start in range(0, len(keys), CHUNK):
            found = lookup(keys[start : start + CHUNK])
            if isinstance(found, list):
                self.customers.update(found)
            else:
                self.customers.update(conn.execute(found).scalars())
