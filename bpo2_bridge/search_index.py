"""Trigram indexes over contract numbers: how a search for a fragment of a number finds its
contracts among a million without reading every one.

A search box matches text anywhere in a value (``LIKE '%…%'``), which no B-tree index serves.
Each full sync builds a trigram index beside the snapshot's contracts:

- SQLite: an FTS5 ``trigram`` table over ``contract.contract_no`` (external content, so the
  numbers are not stored twice), kept current by triggers through incremental syncs and
  Refreshes;
- PostgreSQL: a GIN index with ``pg_trgm``'s operator class on ``contract_no``, which serves
  the ``ILIKE`` a case-insensitive search is there; PostgreSQL keeps it current itself. Where
  ``pg_trgm`` cannot be installed (no privilege), the sync says so in its log and searches
  read every contract, as before.

``contains`` gives the search condition the grid can use. On SQLite the index only narrows
the candidates (it folds case wider than SQLite's ASCII-only LIKE); the LIKE itself still
decides, so a search answers exactly what it answered without the index.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import Connection, String, bindparam, column, literal_column, select, table
from sqlalchemy.sql.elements import ColumnElement

log = logging.getLogger(__name__)

TRIGRAMS = "contract_no_trigrams"  # the SQLite FTS5 table (and the stem of its triggers)
PG_INDEX = "ix_contract_contract_no_trgm"
MIN_TERM = 3  # a trigram index cannot look up fewer characters

_SQLITE_DDL = (
    f"CREATE VIRTUAL TABLE {TRIGRAMS} USING fts5("
    "contract_no, content='contract', content_rowid='contract_id', tokenize='trigram')",
    f"INSERT INTO {TRIGRAMS}({TRIGRAMS}) VALUES ('rebuild')",
    f"CREATE TRIGGER {TRIGRAMS}_ai AFTER INSERT ON contract BEGIN"
    f" INSERT INTO {TRIGRAMS}(rowid, contract_no) VALUES (new.contract_id, new.contract_no); END",
    f"CREATE TRIGGER {TRIGRAMS}_ad AFTER DELETE ON contract BEGIN"
    f" INSERT INTO {TRIGRAMS}({TRIGRAMS}, rowid, contract_no)"
    " VALUES ('delete', old.contract_id, old.contract_no); END",
    f"CREATE TRIGGER {TRIGRAMS}_au AFTER UPDATE OF contract_id, contract_no ON contract BEGIN"
    f" INSERT INTO {TRIGRAMS}({TRIGRAMS}, rowid, contract_no)"
    " VALUES ('delete', old.contract_id, old.contract_no);"
    f" INSERT INTO {TRIGRAMS}(rowid, contract_no) VALUES (new.contract_id, new.contract_no); END",
)


def build(conn: Connection) -> bool:
    """Create the index in the snapshot ``conn`` writes (after its contracts are loaded).
    False when this engine cannot have one; the snapshot then serves without it."""
    if conn.dialect.name == "sqlite":
        for statement in _SQLITE_DDL:
            conn.exec_driver_sql(statement)
        return True
    if conn.dialect.name == "postgresql":
        try:
            with conn.begin_nested():
                # in public: an extension created in a snapshot's schema would go with that schema
                conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public")
        except Exception as exc:  # no privilege, or the contrib package is missing
            log.warning("contract search without a trigram index: pg_trgm: %s", str(exc).splitlines()[0])
            return False
        conn.exec_driver_sql(
            f"CREATE INDEX {PG_INDEX} ON contract USING gin (contract_no public.gin_trgm_ops)"
        )
        return True
    return False


def present(conn: Connection) -> bool:
    """Whether the snapshot ``conn`` reads has the index (snapshots built before it do not).
    Asked once per SQLite connection (each stays on one snapshot file)."""
    if conn.dialect.name != "sqlite":
        return False  # PostgreSQL's planner finds its index itself: nothing to rewrite
    info = conn.connection.info
    found = info.get("bpo2_trigrams")
    if found is None:
        query = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
        found = info["bpo2_trigrams"] = conn.exec_driver_sql(query, (TRIGRAMS,)).first() is not None
    return bool(found)


def contains(contract_id: ColumnElement[Any], term: str) -> ColumnElement[bool] | None:
    """Rows whose contract number may contain ``term``: a superset of the exact match, read
    through the SQLite index; None when the index cannot look the term up (too short)."""
    if len(term) < MIN_TERM:
        return None
    phrase = '"' + term.replace('"', '""') + '"'  # one FTS5 string: the term's characters as typed
    fts = table(TRIGRAMS, column("rowid"))
    # an anonymous parameter: several search words each bring their own
    match = literal_column(TRIGRAMS).op("MATCH")(bindparam(None, phrase, type_=String()))
    return contract_id.in_(select(fts.c.rowid).where(match))
