"""The distinct questions of each workload, drawn from a snapshot's rows with a seeded random.

Each question is one grid question as the bridge is asked it, and the same question put to the
bare endpoint (`bench.questions.bare`) and to Datasette, or None where that target cannot ask it
(Datasette has no per-salesman visibility; the bare endpoint serves no HTML). No URL repeats
within a workload: the first COLD questions are asked one by one, the rest under load.
"""

from __future__ import annotations

import random
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlencode

from bench.sync import TODAY
from bpo2_bridge.queries.windows import window_end

T = TypeVar("T")
EXCLUDED = "Cancelled"  # the default excluded_statuses: never expired or expiring
WINDOW_END = window_end(TODAY, 6).isoformat()  # the default expiring_window_months
PAGE_SIZE = 20
TABS = ("all", "expired", "expiring")
CONTRACT_SORTS = ("contract_no", "start_date", "expiry_date", "machines", "customer_name", "account_no")
SALESMAN_SORTS = (*CONTRACT_SORTS, "contract_type", "status")
CUSTOMER_SORTS = (
    "account_no",
    "customer_name",
    "site_name",
    "main_salesman",
    "tel",
    "status",
    "active_contracts",
    "expiring_contracts",
)
NO_COUNT = (("_nocount", "1"), ("_nofacet", "1"))
# the search box as a Datasette user writes it (as Datasette's own _search does): the trigram
# index finds the rows, LIKE decides (as the bridge's search does), in the grid's default order
# (the Contracts tab's: by contract no).
# :fts holds each word as a phrase (the index keeps positions: detail=full, as the bridge builds
# it), :w0, :w1... the words themselves for LIKE
SEARCH_SQL = (
    "select contract_id, contract_no, account_no, customer_name, contract_type, status,"
    " start_date, expiry_date, machines from contract_row"
    " where contract_id in (select rowid from contract_row_search_text_fts"
    " where contract_row_search_text_fts match :fts) and {likes}"
    f" order by contract_no, contract_id limit {PAGE_SIZE}"
)


@dataclass(frozen=True)
class Question:
    bridge: str
    bare: str | None
    datasette: str | None


@dataclass
class Workload:
    key: str
    title: str
    login: str  # who asks the bridge
    questions: list[Question]


@dataclass
class Snapshot:
    """What the questions are made of, read once from the snapshot file."""

    database: str  # Datasette's name for the file
    customers: list[tuple[int, str]]  # (customer_id, account_no)
    statuses: list[str]
    types: list[str]
    contracts: int
    names: list[str]  # the distinct customer names
    salesman: int  # employee_id of sales1

    @classmethod
    def read(cls, path: Path) -> Snapshot:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            names = [r[0] for r in conn.execute("SELECT DISTINCT customer_name FROM customer_row")]
            top = conn.execute("SELECT MAX(contract_id) FROM contract_row").fetchone()[0]
            sales1 = conn.execute("SELECT employee_id FROM employee WHERE login_name = 'sales1'").fetchone()[
                0
            ]
            return cls(
                database=path.stem,
                customers=conn.execute(
                    "SELECT customer_id, account_no FROM customer_row ORDER BY customer_id"
                ).fetchall(),
                statuses=[r[0] for r in conn.execute("SELECT DISTINCT status FROM contract_row ORDER BY 1")],
                types=[
                    r[0]
                    for r in conn.execute(
                        "SELECT DISTINCT contract_type FROM contract_row"
                        " WHERE contract_type IS NOT NULL ORDER BY 1"
                    )
                ],
                contracts=top,
                names=sorted(names),
                salesman=sales1,
            )
        finally:
            conn.close()


def workloads(snap: Snapshot, count: int, seed: int = 1) -> list[Workload]:
    """Every workload with up to `count` distinct questions each (drawn in this order, so each
    workload's questions stay the same when another's Datasette URL changes)."""
    rng = random.Random(seed)
    pairs = [(c, tab) for c in snap.customers for tab in TABS]
    rng.shuffle(pairs)
    out = [
        Workload("a", "one customer's contracts, JSON", "admin", customer(snap, pairs[:count], "json")),
        Workload(
            "b", "one customer's contracts, HTML", "admin", customer(snap, pairs[count : 2 * count], "html")
        ),
        Workload("c", "Status x Type filters, sorted", "admin", filtered(snap, rng, count)),
        Workload("d", "search box, name words", "admin", search(snap, _words(snap, rng), count)),
    ]
    numbers = _distinct(_numbers(snap, rng), count)
    return [
        *out,
        Workload("e", "search box, contract numbers", "admin", search(snap, numbers, count, table=True)),
        # e's questions put to Datasette's SQL endpoint, as d's are: for reference
        Workload("e-sql", "search box, contract numbers", "admin", search(snap, numbers, count)),
        Workload(
            "e-filter",
            "Filter Row, contract numbers",
            "admin",
            search(snap, _numbers(snap, rng), count, column="contract_no", table=True),
        ),
        Workload("f", "a salesman's list (sales1)", "sales1", salesman(snap, rng, count)),
        Workload("g", "Customers grid, sort + search", "admin", customers(snap, rng, count)),
    ]


# -- the workloads -------------------------------------------------------------------------


def customer(snap: Snapshot, pairs: list[tuple[tuple[int, str], str]], body: str) -> list[Question]:
    out = []
    for (customer_id, account_no), tab in pairs:
        fmt = "&format=json" if body == "json" else ""
        table = _table(snap, "contract_row", body)
        ds = [("customer_id", str(customer_id)), *_tab_filters(tab), ("_sort", "expiry_date")]
        out.append(
            Question(
                f"/customers/{account_no}/contracts?tab={tab}{fmt}",
                _bare("/contracts", customer_id=customer_id, tab=tab) if body == "json" else None,
                table + _query(ds),
            )
        )
    return out


def filtered(snap: Snapshot, rng: random.Random, count: int) -> list[Question]:
    """Status (equals or differs) x Contract Type (any, equals, differs) x sort x tab."""
    combos = [
        (status, s_op, ctype, t_op, sort, tab)
        for status in snap.statuses
        for s_op in ("=", "!=")
        for ctype in snap.types
        for t_op in ("", "=", "!=")
        for sort in (f"{d}{c}" for c in CONTRACT_SORTS for d in ("", "-"))
        for tab in TABS
    ]
    combos = list(dict.fromkeys((s, so, "" if not to else t, to, o, tab) for s, so, t, to, o, tab in combos))
    rng.shuffle(combos)
    out = []
    for status, s_op, ctype, t_op, sort, tab in combos[:count]:
        bridge = {"tab": tab, "f_status": s_op + status}
        ds = [("status" if s_op == "=" else "status__not", status)]
        if t_op:
            bridge["f_contract_type"] = t_op + ctype
            ds.append(("contract_type" if t_op == "=" else "contract_type__not", ctype))
        bridge.update(sort=sort, format="json")
        ds += [*_tab_filters(tab), _ds_sort(sort)]
        out.append(
            Question(
                "/contracts?" + urlencode(bridge),
                _bare(
                    "/contracts", tab=tab, status=status, status_op=s_op, type=ctype, type_op=t_op, sort=sort
                ),
                _table(snap, "contract_row", "json") + _query(ds),
            )
        )
    return out


def fts_query(terms: list[str]) -> str:
    """An FTS5 query for rows holding every word (each a phrase of its trigrams)."""
    return " AND ".join('"' + t.replace('"', '""') + '"' for t in terms)


def search(
    snap: Snapshot, words: Iterator[str] | list[str], count: int, column: str = "", table: bool = False
) -> list[Question]:
    """The search box (`q`) or the Filter Row on one column (`f_<column>`) over every contract.

    Datasette is asked through its SQL endpoint, or (``table``) as its table page searches: the
    same trigram index through `_search`, the column's own test through `<column>__contains`,
    in the Contracts tab's order, counting nothing (`_nocount`), as a, b and c ask it."""
    out = []
    for q in _distinct(iter(words), count):
        terms = q.split()
        bridge = {f"f_{column}" if column else "q": q, "format": "json"}
        if table:
            ds = [
                *_ds_search("contract_row", "contract_id", terms),
                *((f"{column}__contains", t) for t in terms if column),
                ("_sort", "contract_no"),
            ]
            datasette = _table(snap, "contract_row", "json") + _query(ds)
        else:
            likes = " and ".join(
                f"{column or 'search_text'} like '%' || :w{i} || '%'" for i in range(len(terms))
            )
            params = {"sql": SEARCH_SQL.format(likes=likes), "fts": fts_query(terms)}
            params.update({f"w{i}": t for i, t in enumerate(terms)})
            datasette = f"/{snap.database}.json?" + urlencode(params)
        out.append(
            Question(
                "/contracts?" + urlencode(bridge),
                _bare("/contracts", q=q, column=column or "search_text"),
                datasette,
            )
        )
    return out


def salesman(snap: Snapshot, rng: random.Random, count: int) -> list[Question]:
    """sales1's contracts: tabs, sorts and pages 1-3, a third of them with a search word."""
    sorts = [f"{d}{c}" for c in SALESMAN_SORTS for d in ("", "-")]
    words = _words(snap, rng)

    def asked() -> Iterator[tuple[str, str, int, str]]:
        while True:
            q = next(words) if rng.random() < 1 / 3 else ""
            yield rng.choice(TABS), rng.choice(sorts), rng.randint(1, 3), q

    out = []
    for tab, sort, page, q in _distinct(asked(), count):
        bridge = {"tab": tab, "sort": sort, "page": page, **({"q": q} if q else {}), "format": "json"}
        bare = _bare("/contracts", tab=tab, sort=sort, page=page, employee_id=snap.salesman, q=q)
        out.append(Question("/contracts?" + urlencode(bridge), bare, None))
    return out


def customers(snap: Snapshot, rng: random.Random, count: int) -> list[Question]:
    sorts = [f"{d}{c}" for c in CUSTOMER_SORTS for d in ("", "-")]
    words = _words(snap, rng)

    def asked() -> Iterator[tuple[str, str]]:
        while True:
            yield rng.choice(sorts), next(words)

    out = []
    for sort, q in _distinct(asked(), count):
        ds = [*_ds_search("customer_row", "customer_id", q.split()), _ds_sort(sort)]
        out.append(
            Question(
                "/customers?" + urlencode({"sort": sort, "q": q, "format": "json"}),
                _bare("/customers", sort=sort, q=q),
                _table(snap, "customer_row", "json") + _query(ds),
            )
        )
    return out


# -- words ----------------------------------------------------------------------------------


def _words(snap: Snapshot, rng: random.Random) -> Iterator[str]:
    """Fragments of 3-5 letters of the words of real customer names: one fragment (found in
    tens of thousands of contracts), or, one time in three, two or three fragments of the words
    of one name (a few thousand down to a few hundred)."""
    split = [re.findall(r"[a-z]{3,}", n.lower()) for n in snap.names]
    vocabulary = sorted({w for words in split for w in words})
    while True:
        words = rng.choice(split)
        if rng.random() < 1 / 3 and len(words) >= 2:
            picked = rng.sample(words, min(len(words), rng.choice((2, 3))))
        else:
            picked = [rng.choice(vocabulary)]
        yield " ".join(_fragment(w, rng) for w in picked)


def _fragment(word: str, rng: random.Random) -> str:
    size = rng.randint(3, min(5, len(word)))
    start = rng.randint(0, len(word) - size)
    return word[start : start + size]


def _numbers(snap: Snapshot, rng: random.Random) -> Iterator[str]:
    """5-7 characters of real contract numbers (CPC0000001...): from the front (CPC01: a
    hundred thousand contracts) to the last digits (one contract)."""
    while True:
        number = f"CPC{rng.randint(1, snap.contracts):07d}"
        size = rng.randint(5, 7)
        start = rng.randint(0, len(number) - size)
        yield number[start : start + size]


def _distinct(asked: Iterator[T], count: int, tries: int = 50) -> list[T]:
    """Up to `count` distinct values of `asked`, giving up after `tries` * `count` draws."""
    seen: dict[T, None] = {}
    for _ in range(count * tries):
        seen.setdefault(next(asked), None)
        if len(seen) == count:
            break
    return list(seen)


# -- URLs -----------------------------------------------------------------------------------


def _tab_filters(tab: str) -> list[tuple[str, str]]:
    today = TODAY.isoformat()
    if tab == "expired":
        return [("expiry_date__lt", today), ("status__not", EXCLUDED)]
    if tab == "expiring":
        return [("expiry_date__gte", today), ("expiry_date__lte", WINDOW_END), ("status__not", EXCLUDED)]
    return []


def _ds_search(table: str, key: str, terms: list[str]) -> list[tuple[str, str]]:
    """Datasette's table page searching `table`'s search text through its trigram index, as
    the bridge builds it (cache.search), for rows holding every one of `terms`."""
    return [
        ("_search", fts_query(terms)),
        ("_searchmode", "raw"),
        ("_fts_table", f"{table}_search_text_fts"),
        ("_fts_pk", key),
    ]


def _ds_sort(sort: str) -> tuple[str, str]:
    return ("_sort_desc", sort[1:]) if sort.startswith("-") else ("_sort", sort)


def _table(snap: Snapshot, table: str, body: str) -> str:
    return f"/{snap.database}/{table}" + (".json" if body == "json" else "")


def _query(pairs: list[tuple[str, str]]) -> str:
    return "?" + urlencode([*pairs, ("_size", str(PAGE_SIZE)), *NO_COUNT])


def _bare(path: str, **params: object) -> str:
    return path + "?" + urlencode({k: v for k, v in params.items() if v not in ("", None)})
