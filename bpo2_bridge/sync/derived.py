"""The derived rows the grids read (``contract_row``, ``customer_row``), written by the sync.

A grid sorts, filters, counts and searches what these rows store, through their indexes, so no
request works a value out per row. They are written in the same transaction as the rows they
derive from: the full sync fills them while building a snapshot; an incremental sync and a
Refresh note which derived rows their changes reach (``Touched``: a change to a column no derived
row reads reaches none) and derive those again before they commit (``rebuild``), set-wise over
temporary tables of the touched keys, writing only the rows that differ, or both tables anew
when most contract rows are reached. Readers never see base and derived rows disagree.

Two stored values depend on today: the customers' contract counts and the contracts'
last-12-months profitability (the report's window moves with the date). They are stored with the
day they were computed for (``COUNTS_DAY`` in the snapshot's metadata) and computed again
(``recount``) by the job after local midnight and by any sync that finds them computed for
another day; until then the Customers grid counts them as it reads (``counts_day``).
A change to a contract's invoice lines or service calls computes that contract's profitability
again (``Touched.profits``), without deriving its row or its customer's rows again.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    BindParameter,
    Connection,
    Date,
    DateTime,
    String,
    bindparam,
    column,
    text,
)
from sqlalchemy.schema import CreateTable
from sqlalchemy.sql.elements import TextClause
from sqlalchemy.sql.selectable import TextualSelect

from ..cache import search as search_index
from ..cache.schema import DERIVED, PROFIT_COLUMNS, cache_table
from ..queries import sqlfiles, windows
from ..queries.statements import statement
from ..report.figures import last_12_from, trend_periods
from ..settings import Settings
from .touched import Touched  # the sync and Refresh make theirs here (derived_rows.Touched)

if TYPE_CHECKING:
    from ..bridge import Bridge

log = logging.getLogger(__name__)

META_TABLE = "_bridge_meta"
COUNTS_DAY = "derived.counts_day"
DERIVATIONS = MappingProxyType(
    {"customer_row": "derive_customer_rows", "contract_row": "derive_contract_rows"}
)


def _statement(conn: Connection, name: str, scoped: bool = False, prefix: str = "") -> TextClause:
    """The statement of a SQL file on this connection, rendered and typed on its first use
    (rendering ``derive_contract_rows`` alone costs 20 ms: each Refresh asked for it again)."""
    return statement(
        conn, ("derived", name, scoped, prefix), lambda: _sql(name, conn.dialect, scoped, prefix)
    )


def _sql(name: str, dialect: Any, scoped: bool = False, prefix: str = "") -> TextClause:
    sql = prefix + sqlfiles.render(name, dialect, scoped=scoped)
    binds: list[BindParameter[Any]] = [
        bindparam("today", type_=Date()),
        bindparam("window_end", type_=Date()),
        bindparam("excluded", type_=String(), expanding=True),
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


def _insert(conn: Connection, name: str, settings: Settings, today: dt.date) -> None:
    columns = ", ".join(c.name for c in cache_table(name).columns)
    insert = _statement(conn, f"derive_{name}s", prefix=f"INSERT INTO {name} ({columns})\n")
    conn.execute(insert, window_values(settings, today))


def build(conn: Connection, settings: Settings, today: dt.date) -> None:
    """Fill the (empty) derived tables of a snapshot being built, as of ``today``."""
    for name in DERIVED:
        _insert(conn, name, settings, today)
    _set_counts_day(conn, today)


# The temporary tables of touched keys a scoped derivation reads (sql/derive_*.sql), per set of
# ``Touched``: set-wise statements over them instead of one statement per batch of keys.
TOUCHED_TABLES = (
    ("customers", "touched_customer", "customer_id"),
    ("contracts", "touched_contract", "contract_id"),
    ("profits", "touched_profit", "contract_id"),
)
# Past this share of the contract rows to derive again, deriving both tables wholesale (as a full
# sync does: filled before they are indexed) costs less than writing the rows one by one through
# their indexes and search indexes. Measured on the large demo (1.05 M contracts, SQLite, a busy
# 2-core machine): row by row 12 s for 10 %, 21 s for 25 %, 37 s for 50 %, 80 s for all;
# wholesale 46-70 s whatever the share.
WHOLESALE_SHARE = 0.7


def rebuild(conn: Connection, touched: Touched, settings: Settings, today: dt.date) -> None:
    """Derive again what ``touched`` lists, in the caller's write transaction: the customer rows
    of its customers, the contract rows of its contracts and of the touched customers' contracts
    whose customer columns no longer agree, the profitability of its profit contracts and of the
    contract rows added; and every value that depends on the date if it was computed for
    another day than ``today``. Only rows whose values differ are written, so the indexes and
    the search index of the rows that stay as they were are not rewritten."""
    values = window_values(settings, today)
    _fill_touched(conn, touched)
    # customer rows first: contract rows read their names and main salesman
    _merge(conn, "customer_row", values)
    conn.execute(
        _statement(conn, "derive_touched_contracts", prefix="INSERT INTO touched_contract (contract_id)\n")
    )
    # the rows about to be added need their profitability computed: they have none yet
    conn.execute(
        text(
            "INSERT INTO touched_profit (contract_id) SELECT t.contract_id FROM touched_contract t"
            " WHERE NOT EXISTS (SELECT 1 FROM contract_row q WHERE q.contract_id = t.contract_id)"
            " AND NOT EXISTS (SELECT 1 FROM touched_profit p WHERE p.contract_id = t.contract_id)"
        )
    )
    if _mostly_touched(conn):
        _drop_touched(conn)
        _rebuild_all(conn, settings, today)
        return
    _merge(conn, "contract_row", values, keep=PROFIT_COLUMNS)  # a scoped derivation leaves them
    if counts_day(conn) != today:
        recount(conn, settings, today)  # every contract's profitability, those noted included
    else:
        conn.execute(_statement(conn, "update_contract_profitability", scoped=True), values)
    _drop_touched(conn)


def _mostly_touched(conn: Connection) -> bool:
    """Whether the contract rows to derive (or compute the profitability of) again are past
    ``WHOLESALE_SHARE`` of those stored (said in the log when they are)."""
    touched = conn.exec_driver_sql(
        "SELECT (SELECT COUNT(*) FROM touched_contract) + (SELECT COUNT(*) FROM touched_profit p"
        " WHERE NOT EXISTS (SELECT 1 FROM touched_contract t WHERE t.contract_id = p.contract_id))"
    ).scalar_one()
    if not touched:
        return False
    # counted only as far as decides it: a Refresh's few rows need not count a million
    enough = int(touched / WHOLESALE_SHARE) + 1
    stored = conn.execute(
        text("SELECT COUNT(*) FROM (SELECT 1 FROM contract_row LIMIT :enough) q"), {"enough": enough}
    ).scalar_one()
    if stored >= enough:
        return False
    log.info(
        "derived rows rebuilt wholesale: %d of %d contract rows to derive again",
        touched,
        stored,
        extra={"touched": touched, "rows": stored},
    )
    return True


def _rebuild_all(conn: Connection, settings: Settings, today: dt.date) -> None:
    """Both derived tables written anew in this transaction, as a full sync writes them: dropped
    with their indexes and search indexes, derived in one statement each, then indexed and
    analysed again. Readers keep the rows they read until the commit (SQLite: the snapshot the
    read began on; PostgreSQL: they wait for the commit, the tables being dropped)."""
    if conn.dialect.name == "sqlite":
        for searched in search_index.SEARCHED:
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {searched.trigrams}")
    tables = [cache_table(name) for name in DERIVED]
    for table in reversed(tables):
        table.drop(conn)
    for table in tables:
        conn.execute(CreateTable(table))  # indexes after the rows: cheaper
    build(conn, settings, today)
    for table in tables:
        for index in sorted(table.indexes, key=lambda i: i.name or ""):
            index.create(conn)
    search_index.build(conn)
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("PRAGMA analysis_limit=0")  # exact statistics, as the full sync takes
    for table in tables:
        conn.exec_driver_sql(f"ANALYZE {table.name}")


def _fill_touched(conn: Connection, touched: Touched) -> None:
    _drop_touched(conn)
    for attr, table, key in TOUCHED_TABLES:
        conn.exec_driver_sql(f"CREATE TEMPORARY TABLE {table} ({key} INTEGER PRIMARY KEY)")
        ids = sorted(getattr(touched, attr))
        if ids:
            conn.execute(text(f"INSERT INTO {table} ({key}) VALUES (:id)"), [{"id": i} for i in ids])
    if conn.dialect.name == "postgresql":
        for _, table, _ in TOUCHED_TABLES:
            conn.exec_driver_sql(f"ANALYZE {table}")  # the planner knows nothing of a new temporary table


def _drop_touched(conn: Connection) -> None:
    for table in [*(table for _, table, _ in TOUCHED_TABLES), *(f"fresh_{name}" for name in DERIVED)]:
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")


def _merge(conn: Connection, name: str, values: dict[str, Any], keep: Sequence[str] = ()) -> None:
    """Make table ``name`` hold its scoped derivation's rows for the touched keys: the rows
    derived into a temporary table first, then the stored rows whose derivation is gone
    deleted, those that differ updated (all but the ``keep`` columns) and the new ones inserted."""
    table = cache_table(name)
    key = next(iter(table.primary_key.columns)).name
    touched = "touched_customer" if name == "customer_row" else "touched_contract"
    fresh = f"fresh_{name}"
    columns = [c.name for c in table.columns]
    changing = [c for c in columns if c != key and c not in keep]
    differs = "IS NOT" if conn.dialect.name == "sqlite" else "IS DISTINCT FROM"
    prefix = f"CREATE TEMPORARY TABLE {fresh} AS\n"
    conn.execute(_statement(conn, DERIVATIONS[name], scoped=True, prefix=prefix), values)
    # every statement below looks rows up in it by key: without an index, each one reads it whole
    conn.exec_driver_sql(f"CREATE UNIQUE INDEX {fresh}_key ON {fresh} ({key})")
    stored = f"SELECT 1 FROM {name} q WHERE q.{key} = f.{key}"
    conn.exec_driver_sql(
        f"DELETE FROM {name} WHERE {key} IN (SELECT t.{key} FROM {touched} t)"
        f" AND NOT EXISTS (SELECT 1 FROM {fresh} f WHERE f.{key} = {name}.{key})"
    )
    # the rows that differ found from the few fresh rows (CROSS JOIN: SQLite reads them first;
    # an UPDATE ... FROM let it walk all million stored rows, 120 ms for a Refresh)
    differing = (
        f"SELECT f.{key} FROM {fresh} f CROSS JOIN {name} q WHERE q.{key} = f.{key}"
        f" AND ({' OR '.join(f'q.{c} {differs} f.{c}' for c in changing)})"
    )
    conn.exec_driver_sql(
        f"UPDATE {name} SET ({', '.join(changing)}) ="
        f" (SELECT {', '.join(f'f.{c}' for c in changing)} FROM {fresh} f WHERE f.{key} = {name}.{key})"
        f" WHERE {key} IN ({differing})"
    )
    conn.exec_driver_sql(
        f"INSERT INTO {name} ({', '.join(columns)}) SELECT {', '.join(f'f.{c}' for c in columns)}"
        f" FROM {fresh} f WHERE NOT EXISTS ({stored})"
    )
    conn.exec_driver_sql(f"DROP TABLE {fresh}")


def recount(conn: Connection, settings: Settings, today: dt.date) -> None:
    """Every value that depends on the date computed again for ``today``: the customers'
    contract counts and every contract's last-12-months profitability."""
    values = window_values(settings, today)
    conn.execute(_statement(conn, "update_customer_counts"), values)
    conn.execute(_statement(conn, "update_contract_profitability"), values)
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
