"""The derived rows the grids read (``contract_row``, ``customer_row``), written by the sync.

A grid sorts, filters, counts and searches what these rows store, through their indexes, so no
request works a value out per row. They are written in the same transaction as the rows they
derive from: the full sync fills them while building a snapshot; an incremental sync and a
Refresh note which customers their changes touch (``Touched``) and derive those customers' rows
again before they commit. Readers never see base and derived rows disagree.

Two stored values depend on today: the customers' contract counts and the contracts'
last-12-months profitability (the report's window moves with the date). They are stored with the
day they were computed for (``COUNTS_DAY`` in the snapshot's metadata) and computed again
(``recount``) by the job after local midnight and by any sync that finds them computed for
another day; until then the Customers grid counts them as it reads (``counts_day``).
A change to a contract's invoice lines or service calls computes that contract's profitability
again (``Touched.contracts``), without deriving its customer's rows again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    BindParameter,
    Connection,
    Date,
    DateTime,
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

from ..cache.schema import DERIVED, cache_table
from ..queries import sqlfiles, windows
from ..report.figures import last_12_from, trend_periods
from ..settings import Settings

if TYPE_CHECKING:
    from ..bridge import Bridge

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
        bindparam("contract_ids", type_=Integer(), expanding=True),
        bindparam("from_12m", type_=Date()),
        bindparam("day_after", type_=DateTime()),
        bindparam("prior_from", type_=Date()),
        bindparam("recent_from", type_=Date()),
        bindparam("this_month", type_=Date()),
    ]
    # only the parameters the statement names: text() refuses to bind an unknown one
    return text(sql).bindparams(*(b for b in binds if f":{b.key}" in sql))


def window_values(settings: Settings, today: dt.date) -> dict[str, Any]:
    """The parameters the derivations and counts bind: today, the window's end, the excluded,
    and the report's windows for the profitability (last 12 months, the volume trend's months)."""
    p = windows.params(settings, today)
    prior_from, recent_from, this_month = trend_periods(today)
    return {
        "today": today,
        "window_end": p["window_end"],
        "excluded": p["excluded"],
        "from_12m": last_12_from(today),
        "day_after": dt.datetime.combine(today + dt.timedelta(days=1), dt.time()),
        "prior_from": prior_from,
        "recent_from": recent_from,
        "this_month": this_month,
    }


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
    """Fill the (empty) derived tables of a snapshot being built, as of ``today``."""
    for name in DERIVED:
        _insert(conn, name, settings, today, None)
    _set_counts_day(conn, today)


def rebuild(
    conn: Connection,
    customers: Iterable[int],
    settings: Settings,
    today: dt.date,
    contracts: Iterable[int] = (),
) -> None:
    """Derive again the rows of ``customers`` (their contracts included) and the profitability
    of ``contracts``, and compute every value that depends on the date again if it was computed
    for another day than ``today``."""
    ids = sorted(set(customers))
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        for name in reversed(DERIVED):  # contract rows first: they are derived from customer rows
            conn.execute(cache_table(name).delete().where(cache_table(name).c.customer_id.in_(chunk)))
        for name in DERIVED:
            _insert(conn, name, settings, today, chunk)
    if counts_day(conn) != today:
        recount(conn, settings, today)  # every contract's profitability, those noted included
        return
    values = window_values(settings, today)
    contract_ids = sorted(set(contracts))
    update = _sql("update_contract_profitability", conn.dialect, scoped=True)
    for start in range(0, len(contract_ids), CHUNK):
        conn.execute(update, values | {"contract_ids": contract_ids[start : start + CHUNK]})


def recount(conn: Connection, settings: Settings, today: dt.date) -> None:
    """Every value that depends on the date computed again for ``today``: the customers'
    contract counts and every contract's last-12-months profitability."""
    values = window_values(settings, today)
    conn.execute(_sql("update_customer_counts", conn.dialect), values)
    conn.execute(_sql("update_contract_profitability", conn.dialect), values)
    _set_counts_day(conn, today)


def recount_now(bridge: Bridge) -> None:
    """The job after local midnight: the values that depend on the date, computed for the new
    day in one write transaction on the serving snapshot (nothing to do if a sync did it already)."""
    today = bridge.today()
    with bridge.cache.write() as conn:
        if counts_day(conn) != today:
            recount(conn, bridge.settings, today)


def counts_day(conn: Connection) -> dt.date | None:
    """The day the stored counts and profitability were computed for (None: never)."""
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


def _profit_lookups() -> dict[str, Callable[[list[Key]], Any]]:
    """Per entity the profitability reads: the contracts whose figures read the rows of the
    given keys (a SELECT of contract ids)."""
    line, call, cost = cache_table("invoice_line"), cache_table("service_call"), cache_table("call_cost")

    def first(keys: list[Key]) -> list[Any]:
        return [k[0] for k in keys]

    return {
        "invoice_line": lambda keys: select(line.c.contract_id).where(
            line.c.invoice_line_id.in_(first(keys))
        ),
        "service_call": lambda keys: select(call.c.contract_id).where(call.c.call_id.in_(first(keys))),
        "call_cost": lambda keys: (
            select(call.c.contract_id)
            .join(cost, cost.c.call_id == call.c.call_id)
            .where(cost.c.call_cost_id.in_(first(keys)))
        ),
    }


class Touched:
    """What one write transaction must derive again: the customers whose derived rows read the
    changed rows, and the contracts whose profitability reads them (invoice lines, service
    calls and their costs).

    ``note`` is called with the keys of an entity's changed rows twice: before the write (the
    customers and contracts the old rows belonged to) and after it (those the new rows belong
    to), so a contract moved to another customer brings both."""

    def __init__(self) -> None:
        self.customers: set[int] = set()
        self.contracts: set[int] = set()
        self._lookups = {entity: (self.customers, lookup) for entity, lookup in _lookups().items()} | {
            entity: (self.contracts, lookup) for entity, lookup in _profit_lookups().items()
        }

    def note(self, conn: Connection, entity: str, keys: Sequence[Key]) -> None:
        found_in = self._lookups.get(entity)
        if found_in is None or not keys:
            return
        into, lookup = found_in
        keys = list(keys)
        for start in range(0, len(keys), CHUNK):
            found = lookup(keys[start : start + CHUNK])
            if isinstance(found, list):
                into.update(found)
            else:
                into.update(k for k in conn.execute(found).scalars() if k is not None)
