"""The search box's trigram index against the test it stands in for (a case-blind LIKE): the
index finds every row the LIKE finds, and exactly those rows for a word ``found_exactly``
admits, so such a word's rows can be counted from the index alone."""

from __future__ import annotations

import sqlite3
import string

from hypothesis import given, settings
from hypothesis import strategies as st

from bpo2_bridge.cache import search as search_index

# letters of several alphabets, the ones FTS5 folds onto ASCII among them (KELVIN SIGN, LONG S,
# and the dotted capital I, which it leaves alone), LIKE's wildcards and escape, a quote
ALPHABET = "aAkKsSiI\u212a\u017f\u0130\u00e9\u00c9\u00df09 _%/\"'-"
THINGS = search_index.Searched("things", "search_text", "id", frozenset({"search_text"}))


def _things(texts: list[str]) -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE things (id INTEGER PRIMARY KEY, search_text TEXT)")
    conn.executemany("INSERT INTO things (id, search_text) VALUES (?, ?)", enumerate(texts, 1))
    for statement in THINGS.sqlite_ddl():
        conn.execute(statement)
    return conn


def _phrase(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


@settings(max_examples=300, deadline=None)
@given(
    texts=st.lists(st.text(ALPHABET, min_size=0, max_size=12), min_size=1, max_size=12),
    term=st.text(ALPHABET, min_size=search_index.MIN_TERM, max_size=5),
)
def test_the_index_finds_every_row_the_like_finds_and_no_other_for_an_exact_word(
    texts: list[str], term: str
) -> None:
    conn = _things(texts)
    escaped = term.replace("/", "//").replace("%", "/%").replace("_", "/_")
    liked = {
        r
        for (r,) in conn.execute(
            "SELECT id FROM things WHERE search_text LIKE '%' || ? || '%' ESCAPE '/'", (escaped,)
        )
    }
    indexed = {
        r
        for (r,) in conn.execute(
            f"SELECT rowid FROM {THINGS.trigrams} WHERE {THINGS.trigrams} MATCH ?", (_phrase(term),)
        )
    }
    assert liked <= indexed
    if search_index.found_exactly(term):
        assert indexed == liked


def test_no_other_character_is_folded_onto_ascii_but_the_letters_named() -> None:
    """Every character outside ASCII, against every ASCII character, in the SQLite in use: the
    index takes a character for an ASCII one only where FOLDED_ONTO says it may."""
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE chars USING fts5(c, tokenize='trigram', detail=full, columnsize=0)")
    conn.executemany(
        "INSERT INTO chars (rowid, c) VALUES (?, ?)",
        ((cp, f"#{chr(cp)}#") for cp in range(0x80, 0x110000) if not 0xD800 <= cp < 0xE000),
    )
    folded = {
        (char, chr(cp))
        for char in string.printable
        for (cp,) in conn.execute("SELECT rowid FROM chars WHERE chars MATCH ?", (_phrase(f"#{char}#"),))
    }
    assert folded, "the check finds the letters it knows of (KELVIN SIGN is k)"
    assert {char.lower() for char, _ in folded} <= search_index.FOLDED_ONTO, sorted(folded)


def test_words_found_exactly_are_ascii_without_the_folded_letters() -> None:
    assert search_index.found_exactly("CPC09")
    assert search_index.found_exactly("0042")
    assert not search_index.found_exactly("Desk")  # KELVIN SIGN is a k to the index
    assert not search_index.found_exactly("caf\u00e9")
    assert not search_index.found_exactly("ab")  # shorter than a trigram
