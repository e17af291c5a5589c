"""Trigram indexes over the columns the contract search reads: how a search for a fragment of a
contract number or customer name finds its rows among a million without reading every one.

A search box matches text anywhere in a value (``LIKE '%…%'``), which no B-tree index serves.
Each full sync builds a trigram index over each column of ``SEARCHED``:

- SQLite: an FTS5 ``trigram`` table per column (external content, so the values are not stored
  twice), kept current by triggers through incremental syncs and Refreshes;
- PostgreSQL: a GIN index with ``pg_trgm``'s operator class, which serves the ``ILIKE`` a
  case-insensitive search is there; PostgreSQL keeps it current itself. Where ``pg_trgm``
  cannot be installed (no privilege), the sync says so in its log and searches read every
  row, as before.

``contains`` gives the condition the search rewrites use on SQLite. The index only narrows the
candidates there (it folds case wider than SQLite's ASCII-only LIKE); the LIKE itself still
decides, so a search answers exactly what it answered without the index.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Select, String, bindparam, column, func, literal_column, select, table
from sqlalchemy.sql.elements import ColumnElement

log = logging.getLogger(__name__)

MIN_TERM = 3  # a trigram index cannot look up fewer characters


@dataclass(frozen=True)
class Searched:
    """One indexed column: ``table.column``, whose rows ``key`` (the rowid) names."""

    table: str
    column: str
    key: str

    @property
    def trigrams(self) -> str:
        """The SQLite FTS5 table (and the stem of its triggers)."""
        return f"{self.table}_{self.column}_trigrams"

    @property
    def pg_index(self) -> str:
        return f"ix_{self.table}_{self.column}_trgm"

    def sqlite_ddl(self) -> tuple[str, ...]:
        t, fts, col, key = self.table, self.trigrams, self.column, self.key
        remove = f"INSERT INTO {fts}({fts}, rowid, {col}) VALUES ('delete', old.{key}, old.{col});"
        add = f"INSERT INTO {fts}(rowid, {col}) VALUES (new.{key}, new.{col});"
        return (
            f"CREATE VIRTUAL TABLE {fts} USING fts5({col}, content='{t}', content_rowid='{key}',"
            " tokenize='trigram')",
            f"INSERT INTO {fts}({fts}) VALUES ('rebuild')",
            f"CREATE TRIGGER {fts}_ai AFTER INSERT ON {t} BEGIN {add} END",
            f"CREATE TRIGGER {fts}_ad AFTER DELETE ON {t} BEGIN {remove} END",
            f"CREATE TRIGGER {fts}_au AFTER UPDATE OF {key}, {col} ON {t} BEGIN {remove} {add} END",
        )


CONTRACT_NO = Searched("contract", "contract_no", "contract_id")
ACCOUNT_NO = Searched("customer", "account_no", "customer_id")
CUSTOMER_NAME = Searched("customer", "customer_name", "customer_id")
SEARCHED = (CONTRACT_NO, ACCOUNT_NO, CUSTOMER_NAME)


def build(conn: Connection) -> bool:
    """Create the indexes in the snapshot ``conn`` writes (after its rows are loaded). False
    when this engine cannot have them; the snapshot then serves without."""
    if conn.dialect.name == "sqlite":
        for searched in SEARCHED:
            for statement in searched.sqlite_ddl():
                conn.exec_driver_sql(statement)
        return True
    if conn.dialect.name == "postgresql":
        try:
            with conn.begin_nested():
                # in public: an extension created in a snapshot's schema would go with that schema
                conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public")
        except Exception as exc:  # no privilege, or the contrib package is missing
            log.warning("searches without trigram indexes: pg_trgm: %s", str(exc).splitlines()[0])
            return False
        for s in SEARCHED:
            conn.exec_driver_sql(
                f"CREATE INDEX {s.pg_index} ON {s.table} USING gin ({s.column} public.gin_trgm_ops)"
            )
        return True
    return False


def present(conn: Connection, searched: Searched) -> bool:
    """Whether the snapshot ``conn`` reads has the SQLite index of ``searched`` (snapshots built
    before it do not). Asked once per SQLite connection (each stays on one snapshot file)."""
    if conn.dialect.name != "sqlite":
        return False  # PostgreSQL's planner finds its index itself: nothing to rewrite
    info = conn.connection.info
    tables = info.get("bpo2_trigrams")
    if tables is None:
        query = "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE '%\\_trigrams' ESCAPE '\\'"
        tables = info["bpo2_trigrams"] = frozenset(conn.exec_driver_sql(query).scalars())
    return searched.trigrams in tables


def contains(key: ColumnElement[Any], searched: Searched, term: str) -> ColumnElement[bool] | None:
    """Rows (by ``key``) whose ``searched`` value may contain ``term``: a superset of the exact
    match, read through the SQLite index; None when the index cannot look the term up."""
    if len(term) < MIN_TERM:
        return None
    return key.in_(_candidates(searched, term))


def more_than(conn: Connection, searched: Searched, term: str, limit: int) -> bool:
    """Whether the SQLite index finds more than ``limit`` rows for ``term`` (reading at most
    ``limit + 1`` of them): how common a search word is, before choosing how to search."""
    if len(term) < MIN_TERM:
        return True  # the index cannot look it up: every row is a candidate
    found = _candidates(searched, term).limit(limit + 1).subquery()
    return int(conn.execute(select(func.count()).select_from(found)).scalar_one()) > limit


def _candidates(searched: Searched, term: str) -> Select[Any]:
    phrase = '"' + term.replace('"', '""') + '"'  # one FTS5 string: the term's characters as typed
    fts = table(searched.trigrams, column("rowid"))
    # an anonymous parameter: several search words each bring their own
    match = literal_column(searched.trigrams).op("MATCH")(bindparam(None, phrase, type_=String()))
    return select(fts.c.rowid).where(match)
