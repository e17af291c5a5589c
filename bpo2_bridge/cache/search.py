"""The search box over derived rows: one stored search text per grid row (derived_rows: the
grid's text columns together) and one trigram index over it, so a search for a fragment of a
contract number or a customer name finds its rows among a million without reading every one.

A search box matches text anywhere in a value (``LIKE '%…%'``), which no B-tree index serves.
Each full sync builds a trigram index over each search text of ``SEARCHED``:

- SQLite: an FTS5 ``trigram`` table (external content, so the texts are not stored twice),
  kept current by triggers through incremental syncs and Refreshes;
- PostgreSQL: a GIN index with ``pg_trgm``'s operator class, which serves the ``ILIKE`` a
  case-insensitive search is there; its planner weighs it against the sort order itself. Where
  ``pg_trgm`` cannot be installed (no privilege), the sync says so in its log and searches read
  every row.

On SQLite the best plan depends on how common the word is (``TextSearch``). The index only
narrows the candidates (it folds case wider than SQLite's ASCII-only LIKE); the LIKE itself
still decides, so a search answers exactly what it would answer without the index.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    Connection,
    Select,
    String,
    and_,
    bindparam,
    column,
    false,
    func,
    literal_column,
    select,
    table,
)
from sqlalchemy.sql import FromClause
from sqlalchemy.sql.elements import ColumnElement

log = logging.getLogger(__name__)

MIN_TERM = 3  # a trigram index cannot look up fewer characters
HASH_BYTES = 24 * 1024 * 1024


@dataclass(frozen=True)
class Searched:
    """One indexed column: ``table.column``, whose rows ``key`` (the rowid) names, holding the
    text of the grid columns ``columns`` (sql/derive_*.sql writes it)."""

    table: str
    column: str
    key: str
    columns: frozenset[str]

    @property
    def trigrams(self) -> str:
        """The SQLite FTS5 table (and the stem of its triggers). Named anew when its layout
        changes, so a snapshot built before is searched without it until a full sync."""
        return f"{self.table}_{self.column}_fts"

    @property
    def pg_index(self) -> str:
        return f"ix_{self.table}_{self.column}_trgm"

    def sqlite_ddl(self) -> tuple[str, ...]:
        t, fts, col, key = self.table, self.trigrams, self.column, self.key
        remove = f"INSERT INTO {fts}({fts}, rowid, {col}) VALUES ('delete', old.{key}, old.{col});"
        add = f"INSERT INTO {fts}(rowid, {col}) VALUES (new.{key}, new.{col});"
        return (
            # detail=full keeps where each trigram sits, so a word is looked up as the phrase of
            # its trigrams: exactly the rows holding it (with detail=none, every row holding its
            # trigrams anywhere: "CPC08" found 121,000 rows for 100,000 matches, and ordinary
            # digits far more); columnsize=0: nothing here ranks by length
            f"CREATE VIRTUAL TABLE {fts} USING fts5({col}, content='{t}', content_rowid='{key}',"
            " tokenize='trigram', detail=full, columnsize=0)",
            # trigrams gathered in memory before each write of the index: with FTS5's default
            # of 1 MB, the million contract rows' index was written in pieces merged again and
            # again (8-35 s); with 24 MB it builds in about 4 s
            f"INSERT INTO {fts}({fts}, rank) VALUES ('hashsize', {HASH_BYTES})",
            f"INSERT INTO {fts}({fts}) VALUES ('rebuild')",
            f"CREATE TRIGGER {fts}_ai AFTER INSERT ON {t} BEGIN {add} END",
            f"CREATE TRIGGER {fts}_ad AFTER DELETE ON {t} BEGIN {remove} END",
            f"CREATE TRIGGER {fts}_au AFTER UPDATE OF {key}, {col} ON {t} BEGIN {remove} {add} END",
        )


# one stored search text per grid row (derived_rows): one index serves the whole search box
CONTRACTS = Searched(
    "contract_row",
    "search_text",
    "contract_id",
    frozenset({"contract_no", "account_no", "customer_name", "contract_type", "status"}),
)
CUSTOMERS = Searched(
    "customer_row",
    "search_text",
    "customer_id",
    frozenset({"account_no", "customer_name", "site_name", "main_salesman", "tel", "status"}),
)
SEARCHED = (CONTRACTS, CUSTOMERS)


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
    """Whether the snapshot ``conn`` reads has the SQLite index of ``searched``. Asked once per
    SQLite connection (each stays on one snapshot file)."""
    if conn.dialect.name != "sqlite":
        return False  # PostgreSQL's planner finds its index itself: nothing to rewrite
    info = conn.connection.info
    tables = info.get("bpo2_trigrams")
    if tables is None:
        query = "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE '%\\_fts' ESCAPE '\\'"
        tables = info["bpo2_trigrams"] = frozenset(conn.exec_driver_sql(query).scalars())
    return searched.trigrams in tables


# A word the index finds in more rows than this is common: walking the list in its sort order
# and testing each row finds a page of matches within a few thousand rows, where reading every
# match and sorting them costs more. A rarer word is read through the index (a walk would read
# every row to find the few matches, 5 s for a word found nowhere among a million contracts).
DENSE_MATCHES = 2_000

# the ASCII letters FTS5's case folding also finds in other alphabets (KELVIN SIGN is "k" to it,
# LONG S "s"), where SQLite's LIKE folds ASCII alone: a word holding one is found by the index
# in rows its LIKE rejects (tests/test_search_index.py checks every character against the
# SQLite in use)
FOLDED_ONTO = frozenset("ks")


def found_exactly(term: str) -> bool:
    """Whether the trigram index finds exactly the rows whose text holds ``term`` as a
    case-blind LIKE does: no row more, none fewer. Then the index alone can count them."""
    return len(term) >= MIN_TERM and term.isascii() and not FOLDED_ONTO & set(term.lower())


@dataclass(frozen=True)
class TextSearch:
    """The search box of one grid over derived rows: ``column`` of the grid's base holds each
    row's search text, ``key`` its key (the index's rowid)."""

    conn: Connection
    searched: Searched
    column: str = "search_text"
    # this request's reads of the index, by word (several conditions may ask for one word): how
    # many rows hold it, up to one past DENSE_MATCHES, and their keys as a JSON array
    _found: dict[str, tuple[int, str]] = field(default_factory=dict, compare=False, repr=False)
    # common words that stand alone, with the key they are read on (``index_reads``)
    _common: dict[str, ColumnElement[Any]] = field(default_factory=dict, compare=False, repr=False)
    # the search box's common words the index finds exactly, with their tests (``counted``)
    _exact: list[tuple[ColumnElement[bool], str]] = field(default_factory=list, compare=False, repr=False)
    # rare words every row must hold (``few``)
    _rare: set[str] = field(default_factory=set, compare=False, repr=False)

    @property
    def key(self) -> str:
        return self.searched.key

    @property
    def index_reads(self) -> list[ColumnElement[bool]]:
        """The rows holding every common word, as the index lists them (one read of the index
        for all of them, joined on the key). A count, or a page sorted after reading every
        match, reads them through the index (a few ms for 10,000 of them) instead of testing
        every row; a page walked in its sort order does better without them, and leaves them
        out. Words common alone are often rare together ("gatew socia"): one read finds just
        the rows holding both."""
        if not self._common:
            return []
        (key, *_) = self._common.values()
        return [_joined(self.searched, list(self._common), key)]

    @property
    def common_words(self) -> int:
        """How many common words ``index_reads`` reads."""
        return len(self._common)

    @property
    def common_matches(self) -> IndexCount | None:
        """The rows holding every common word as the index lists them, to be counted (None
        without a common word): what reading them through the index would read."""
        return self._index_count(list(self._common)) if self._common else None

    @property
    def few(self) -> bool:
        """Whether the list holds at most DENSE_MATCHES rows: every row holds a rare word."""
        return bool(self._rare)

    def narrowed(
        self,
        condition: ColumnElement[bool],
        term: str,
        key: ColumnElement[Any],
        text: ColumnElement[Any] | None = None,
        *,
        alone: bool = False,
    ) -> ColumnElement[bool]:
        """``condition`` (the test for ``term``) with what narrows the rows to test to the
        index's matches. One capped read of the index decides: a rare word's few matches are
        the candidates; a common word's page is found by walking the list in its sort order,
        its count stopping at the grid's limit (queries.grid.counts). ``alone``: the test for
        ``term`` is one of the conditions every row must pass (not a branch of an OR), so a
        common word's index read may stand for it in ``index_reads``.

        ``text`` None: ``condition`` is the search box's test of the search text itself, which
        ``counted`` may answer from the index. Otherwise it tests one covered column (the Filter
        Row) and ``text`` is the base's search text: on PostgreSQL it gets the same test, which
        the planner serves with the trigram index."""
        if len(term) < MIN_TERM:
            return condition
        if self.conn.dialect.name == "postgresql":
            return and_(text.icontains(term, autoescape=True), condition) if text is not None else condition
        if not present(self.conn, self.searched):
            return condition
        found = self._found.get(term)
        if found is None:
            # the matches as one JSON array, built and read again inside SQLite: fetching 1,000
            # keys and binding each cost more than finding them
            capped = _candidates(self.searched, term).limit(DENSE_MATCHES + 1).subquery()
            query = select(func.count(), func.json_group_array(capped.c.rowid))
            found = self._found[term] = tuple(self.conn.execute(query).one())
        matches, keys = found
        if not matches:
            return false()
        if matches <= DENSE_MATCHES:
            if alone:
                self._rare.add(term)
            listed = func.json_each(bindparam(None, keys, type_=String())).table_valued("value")
            return and_(key.in_(select(listed.c.value)), condition)
        if alone:
            self._common.setdefault(term, key)
            if text is None and found_exactly(term):
                self._exact.append((condition, term))
        return condition

    def counted(self, conditions: list[ColumnElement[bool]]) -> IndexCount | None:
        """What to count for a list whose only ``conditions`` are common search box words the
        index finds exactly: the index's matches of them all, without reading a row of the
        list (3 ms instead of 5 for 10,000 of 100,000 matches). None for any other list."""
        words = []
        for condition in conditions:
            word = next((t for c, t in self._exact if c is condition), None)
            if word is None:
                return None
            words.append(word)
        return self._index_count(words) if words else None

    def _index_count(self, words: list[str]) -> IndexCount:
        """The index's rows holding every one of ``words``, common words all."""
        fts = table(self.searched.trigrams, column(self.searched.trigrams))
        # one word's read in narrowed() found more than DENSE_MATCHES; several may share fewer
        at_least = DENSE_MATCHES + 1 if len(words) == 1 else 0
        return IndexCount(fts, [_matching(fts.c[self.searched.trigrams], words)], at_least)


@dataclass(frozen=True)
class IndexCount:
    """The rows of ``source`` passing ``where`` are the list's rows; at least ``at_least`` of
    them are known to be there. Counted in one step: the index reads each common word's
    matches before it finds the first row holding them all, so counting 1,000 of them costs
    about what counting 10,000 does (5.0 ms and 5.5 for "print andto ltd")."""

    source: FromClause
    where: list[ColumnElement[bool]]
    at_least: int


def _candidates(searched: Searched, term: str) -> Select[Any]:
    """Rows holding ``term``: the phrase of its trigrams (the characters as typed)."""
    fts = table(searched.trigrams, column("rowid"))
    return select(fts.c.rowid).where(_matching(literal_column(searched.trigrams), [term]))


def _joined(searched: Searched, terms: list[str], key: ColumnElement[Any]) -> ColumnElement[bool]:
    """``key``'s rows holding every one of ``terms``, as a join with the index, which SQLite
    reads first and stops reading with the statement's LIMIT; an ``IN (…)`` of the same rows
    would be read whole first (26 ms instead of 5 for 10,000 of 100,000 matches)."""
    fts = table(searched.trigrams, column("rowid"), column(searched.trigrams)).alias("words")
    return and_(fts.c.rowid == key, _matching(fts.c[searched.trigrams], terms))


def _matching(index: ColumnElement[Any], terms: list[str]) -> ColumnElement[bool]:
    """``index MATCH`` the rows holding every one of ``terms``, each the phrase of its trigrams
    (the characters as typed)."""
    phrases = " AND ".join('"' + term.replace('"', '""') + '"' for term in terms)
    # an anonymous parameter: several search words each bring their own
    return index.op("MATCH")(bindparam(None, phrases, type_=String()))
