"""The cache schema: one table per logical entity, its cached columns and indexes, and the
derived rows the grids read (``contract_row``, ``customer_row``), written by the sync.

Table and column names are the logical ones, so SQL files in sql/ read the cache directly.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Date, Index, Integer, MetaData, Numeric, String, Table, Text

from ..source.model import ENTITIES, Entity

MAX_NAME = 63


def _index(table: Table, i: int, columns: tuple[str, ...]) -> None:
    # table and position make the name unique; 63 characters is PostgreSQL's limit
    name = f"ix_{table.name}_{i}_{'_'.join(columns)}"[:MAX_NAME]
    Index(name, *(table.c[c] for c in columns))


def _table(entity: Entity, metadata: MetaData) -> Table:
    cols = [Column(c.name, c.type, primary_key=c.pk, nullable=c.nullable) for c in entity.cached_columns]
    table = Table(entity.name, metadata, *cols)
    for i, columns in enumerate(entity.indexes):
        _index(table, i, columns)
    return table


# Derived rows: what a grid shows, sorts, filters or searches, stored so that a request reads
# it through an index instead of working it out per row. Values that depend on today (Months
# Remaining, the window) are not stored; the customers' contract counts and the contracts'
# last-12-months profitability are, with the day they were computed for (derived_rows.COUNTS_DAY).
def _contract_row(metadata: MetaData) -> Table:
    table = Table(
        "contract_row",
        metadata,
        Column("contract_id", Integer(), primary_key=True),
        Column("contract_no", String(20), nullable=False),
        Column("customer_id", Integer(), nullable=False),
        Column("account_no", String(20), nullable=False),
        Column("customer_name", String(120), nullable=False),
        Column("contract_type_id", Integer()),
        Column("contract_type", String(60)),
        Column("status", String(20), nullable=False),
        Column("site_id", Integer()),
        Column("site_name", String(60)),
        Column("start_date", Date()),
        Column("expiry_date", Date()),
        Column("machines", Integer(), nullable=False),
        Column("main_salesman", String(100)),
        Column("search_text", Text(), nullable=False),
        # last 12 months as the Contract Performance report counts them (sql/_profitability.sql)
        Column("revenue_12m", Numeric(18, 2), nullable=False),
        Column("cost_12m", Numeric(18, 2), nullable=False),
        Column("gross_profit_12m", Numeric(18, 2), nullable=False),
        Column("margin_12m", Numeric(18, 1)),  # percent of revenue; none without revenue
        Column("volume_12m", BigInteger(), nullable=False),  # billed copies (Meter lines)
        Column("cost_per_copy_12m", Numeric(18, 4)),  # none without volume
        Column("volume_trend", Numeric(18, 1)),  # percent, last 3 full months against the 3 before
        # for the Renewals flags: the latest invoice line's date in the 12 months (none without
        # one), and the last 3 full months' cost per billed copy (none without volume)
        Column("last_billed", Date()),
        Column("cost_per_copy_3m", Numeric(18, 4)),
    )
    # one per sortable column with the tie-break key: a page is a walk along one of them
    for i, key in enumerate(
        (
            "contract_no",
            "account_no",
            "customer_name",
            "contract_type",
            "status",
            "start_date",
            "expiry_date",
            "machines",
        )
    ):
        _index(table, i, (key, "contract_id"))
    # one customer's tabs and counts: a range per customer; with the status, a tab's count
    # reads the index alone, for a salesman's customers too (through the table, the 4,000
    # contracts sales1 has expiring took 9 ms to count)
    _index(table, 8, ("customer_id", "expiry_date", "status"))
    # the renewal questions: contracts of a status by expiry (Active ones expiring or expired)
    _index(table, 9, ("status", "expiry_date", "contract_id"))
    # profitability: sorting by margin, and the renewal flags' ranges (margin below a setting,
    # volume trend below a setting), each with the tie-break key
    _index(table, 10, ("margin_12m", "contract_id"))
    _index(table, 11, ("volume_trend", "contract_id"))
    # a status's contracts by start: the newest starts are the current contracts, so a walk of
    # the start order for expired ones passed every current contract first
    _index(table, 12, ("status", "start_date", "contract_id"))
    # the counts of the Status and Contract Type filters, in any tab, read from the index alone
    # (through the table, "1,000+" of new prepaid contracts cost 10 ms and 10,000 ran out of
    # time), and a tab's contracts of a status sorted by start without reading the table
    _index(table, 13, ("status", "expiry_date", "contract_type", "start_date"))
    return table


def _customer_row(metadata: MetaData) -> Table:
    table = Table(
        "customer_row",
        metadata,
        Column("customer_id", Integer(), primary_key=True),
        Column("account_no", String(20), nullable=False),
        Column("customer_name", String(120), nullable=False),
        Column("site_id", Integer()),
        Column("site_name", String(60)),
        Column("main_salesman", String(100)),
        Column("tel", String(30)),
        Column("status", String(20), nullable=False),
        Column("active_contracts", Integer(), nullable=False),
        Column("expiring_contracts", Integer(), nullable=False),
        Column("search_text", Text(), nullable=False),
    )
    for i, key in enumerate(
        (
            "account_no",
            "customer_name",
            "site_name",
            "main_salesman",
            "tel",
            "status",
            "active_contracts",
            "expiring_contracts",
        )
    ):
        _index(table, i, (key, "customer_id"))
    return table


DERIVED = ("customer_row", "contract_row")  # in the order they are derived
# contract_row's profitability columns, which sql/update_contract_profitability.sql writes
PROFIT_COLUMNS = (
    "revenue_12m",
    "cost_12m",
    "gross_profit_12m",
    "margin_12m",
    "volume_12m",
    "cost_per_copy_12m",
    "volume_trend",
    "last_billed",
    "cost_per_copy_3m",
)


def cache_metadata() -> MetaData:
    """A new MetaData holding every cache table (create_all on a fresh snapshot)."""
    metadata = MetaData()
    for entity in ENTITIES:
        _table(entity, metadata)
    _customer_row(metadata)
    _contract_row(metadata)
    return metadata


CACHE = cache_metadata()


def cache_table(name: str) -> Table:
    return CACHE.tables[name]


def entity_tables() -> list[Table]:
    """The entity tables (what the sync copies from BPO2), in dependency order."""
    return [t for t in CACHE.sorted_tables if t.name not in DERIVED]


def derived_tables() -> list[Table]:
    return [CACHE.tables[name] for name in DERIVED]
