"""The grid component in a tiny Flask app over real SQLite and PostgreSQL tables: paging,
sorting, Filter Row, search, Create Filter, keyset links, exports, and bad input as 400s."""

from __future__ import annotations

import base64
import csv
import datetime as dt
import io
import json
import random
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jinja2
import openpyxl
import pytest
from flask import Flask, request
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markupsafe import escape
from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    func,
    inspect,
    select,
    text,
)

from bpo2_bridge.queries.grid.columns import GridColumn
from bpo2_bridge.queries.grid.engine import Grid
from bpo2_bridge.queries.grid.state import label_of
from bpo2_bridge.web.grid import grid_response, register_grid_errors

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
AS_OF = dt.datetime(2026, 11, 22, 10, 5)
NAMES = ["Acme", "acme ltd", "O'Brien", 'Say "hi"', "100% pure", "under_score", "back\\slash", "a/b", "Zed"]
STATUSES = ["Active", "Expired", "New", None]
HYPO = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

metadata = MetaData()
thing = Table(
    "thing",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("name", String(40), nullable=False),
    Column("status", String(20)),
    Column("amount", Integer, index=True),
    Column("due", Date, index=True),
    Column("seen", DateTime),
    Column("active", Boolean),
)

GRID = Grid(
    "things",
    [
        GridColumn("id", "ID", "number"),
        GridColumn("name", "Name", link=lambda row: f"/things/{row['id']}"),
        GridColumn("status", "Status"),
        GridColumn(
            "amount", "Amount", "number", css=lambda row: "negative" if (row["amount"] or 0) < 0 else None
        ),
        GridColumn("due", "Due", "date"),
        GridColumn("seen", "Seen", "datetime"),
        GridColumn("active", "Active", "bool"),
    ],
    default_sort="id",
    key=("id",),
)


def make_rows(n: int, seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [
        {
            "id": i,
            "name": rng.choice(NAMES),
            "status": rng.choice(STATUSES),
            "amount": rng.choice([None, *range(-5, 6)]),
            "due": rng.choice([None, dt.date(2026, 1, 1) + dt.timedelta(days=rng.randint(0, 120))]),
            "seen": dt.datetime(2026, 3, 1) + dt.timedelta(minutes=rng.randint(0, 14400)),
            "active": rng.choice([True, False, None]),
        }
        for i in range(1, n + 1)
    ]


def make_client(
    url: Any, base: str = "table", grid: Grid = GRID, max_page_size: int | None = None, few: bool = False
) -> Any:
    return make_app(url, base, grid, max_page_size, few).test_client()


def make_app(
    url: Any, base: str = "table", grid: Grid = GRID, max_page_size: int | None = None, few: bool = False
) -> Flask:
    engine = create_engine(url)
    if base == "table":
        source: Any = thing
    elif base == "select":
        source = select(thing).where(thing.c.id > 0)
    else:
        source = (
            text("SELECT id, name, status, amount, due, seen, active FROM thing")
            .columns(*(Column(c.name, c.type) for c in thing.columns))
            .subquery()
        )
    app = Flask("grid_test", static_folder=str(TEMPLATES / "static"))
    app.testing = True
    app.jinja_env.undefined = jinja2.StrictUndefined
    app.jinja_loader = jinja2.ChoiceLoader(
        [
            jinja2.DictLoader(
                {
                    "base.html": "<!doctype html><main class=layout>{% block content %}{% endblock %}</main>",
                    "things.html": "{% extends 'base.html' %}{% block content %}{% include '_grid.html' %}{% endblock %}",
                }
            ),
            jinja2.FileSystemLoader(str(TEMPLATES)),
        ]
    )
    register_grid_errors(app)

    def view(**_: str) -> Any:
        with engine.connect() as conn:
            # counts never cut short by time here: a busy machine would change them
            page = grid.fetch(
                conn,
                source,
                request.args.to_dict(flat=False),
                max_page_size=max_page_size,
                count_seconds=60,
                few=few,
            )
        return grid_response(grid, page, template="things.html", as_of=AS_OF)

    app.add_url_rule("/things", "things", view)
    app.add_url_rule("/customers/<account_no>/things", "customer_things", view)
    return app


def fill(url: Any, rows: list[dict[str, Any]]) -> None:
    engine = create_engine(url)
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(thing.insert(), rows)
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, fresh_database) -> tuple[Any, list[dict[str, Any]], str]:
    url = fresh_database(request.param)
    rows = make_rows(80)
    fill(url, rows)
    return url, rows, request.param


@pytest.fixture
def lite(fresh_database) -> tuple[Any, list[dict[str, Any]]]:
    url = fresh_database("sqlite")
    rows = make_rows(80)
    fill(url, rows)
    return url, rows


def all_json(client: Any, **params: Any) -> dict[str, Any]:
    response = client.get("/things", query_string={"format": "json", "page_size": 200, **params})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json


def ids(payload: dict[str, Any]) -> list[int]:
    return [row["id"] for row in payload["rows"]]


def reference(html: str) -> str:
    match = re.search(r'class="grid-reference"[^>]*>([^<]*)<', html)
    assert match, html
    return match.group(1)


# -- paging


def test_page_reference_paging_math_and_page_size_cap(fresh_database) -> None:
    url = fresh_database("sqlite")
    fill(url, make_rows(2391))
    client = make_client(url)
    html = client.get("/things?page=3").get_data(as_text=True)
    assert reference(html) == "Page 3 of 120 (2,391 rows)"
    assert html.count("<tr>") == 20 + 1  # the header row, then the page
    assert reference(client.get("/things?page=999").get_data(as_text=True)) == "Page 120 of 120 (2,391 rows)"
    last = client.get("/things?page=120&format=json").json
    assert ids(last) == list(range(2381, 2392)) and last["pages"] == 120
    assert client.get("/things?page_size=50&format=json").json["pages"] == 48
    assert client.get("/things?page_size=5000&format=json").json["page_size"] == 200
    capped = make_client(url, max_page_size=50).get("/things?page_size=100&format=json").json
    assert capped["page_size"] == 50 and len(capped["rows"]) == 50
    for page in (1, 2, 60, 61, 119, 120):  # near and far halves are read differently
        got = client.get(f"/things?page={page}&format=json&sort=-id").json
        top = 2391 - (page - 1) * 20
        assert ids(got) == list(range(top, max(0, top - 20), -1))


def test_empty_result_says_zero_rows(lite) -> None:
    html = make_client(lite[0]).get("/things?f_id=>1000").get_data(as_text=True)
    assert reference(html) == "Page 1 of 1 (0 rows)"
    assert "No rows match." in html and "Clear all filters" in html


# -- sorting


def test_sort_both_ways_matches_python(db) -> None:
    url, rows, kind = db
    for key in ("id", "name", "status", "amount", "due", "seen", "active"):
        check_sort(url, rows, kind, key)


def check_sort(url: Any, rows: list[dict[str, Any]], kind: str, key: str) -> None:
    """Empty values last in either direction, ties (and the empties) in key order."""
    valued = sorted((r for r in rows if r[key] is not None), key=lambda r: (r[key], r["id"]))
    empty = sorted(r["id"] for r in rows if r[key] is None)
    ascending = [r["id"] for r in valued] + empty
    descending = [r["id"] for r in valued][::-1] + empty[::-1]
    if kind == "postgresql" and key in ("name", "status"):
        # PostgreSQL orders text by the database's collation, not by Python's code points
        engine = create_engine(url)
        with engine.connect() as conn:
            col = thing.c[key]
            ascending = list(conn.scalars(select(thing.c.id).order_by(col.asc().nulls_last(), thing.c.id)))
            descending = list(
                conn.scalars(select(thing.c.id).order_by(col.desc().nulls_last(), thing.c.id.desc()))
            )
        engine.dispose()
    client = make_client(url)
    assert ids(all_json(client, sort=key)) == ascending
    assert ids(all_json(client, sort="-" + key)) == descending
    html = client.get(f"/things?sort=-{key}").get_data(as_text=True)
    assert re.search(r'aria-sort="descending"><a href="[^"]*sort=' + key + '"', html)


def test_a_short_list_read_with_its_count_answers_as_one_counted_apart(db) -> None:
    """A list its caller says is short (one customer's contracts) has a page and its count read
    in one statement: the same rows, empty values last, and the same total."""
    url, _rows, _kind = db
    apart, together = make_client(url), make_client(url, few=True)

    @HYPO
    @given(
        st.sampled_from(["id", "name", "status", "amount", "due", "seen", "active"]),
        st.booleans(),
        st.sampled_from(
            [None, "f_amount=>2", "f_status=Active", "f_id=>1000", "q=acme", "f_due=<2026-02-01"]
        ),
        st.sampled_from([5, 20, 200]),
        st.sampled_from([1, 2]),
    )
    def check(key: str, desc: bool, narrowed: str | None, size: int, page: int) -> None:
        query = f"/things?format=json&sort={'-' if desc else ''}{key}&page_size={size}&page={page}"
        query += f"&{narrowed}" if narrowed else ""
        one, other = apart.get(query).json, together.get(query).json
        assert (other["total"], other["pages"], ids(other)) == (one["total"], one["pages"], ids(one))

    check()


# -- Filter Row, search, Create Filter against Python oracles


def _cmp(op: str, a: Any, b: Any) -> bool:
    if op == "!=":
        return a is None or a != b
    if a is None:
        return False
    return {"=": a == b, "<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]


def _text_cell() -> st.SearchStrategy[tuple[str, Callable[[Any], bool]]]:
    needle = st.text(alphabet="acmeZ '\"%_\\/10", min_size=1, max_size=4).filter(lambda s: s.strip())

    def build(mode: str, n: str) -> tuple[str, Callable[[Any], bool]]:
        s = n.strip()
        low = s.lower()
        if mode == "=":
            return "=" + s, lambda v: v is not None and v.lower() == low
        if mode == "!=":
            return "!=" + s, lambda v: v is None or v.lower() != low
        if mode == "*" and not s.endswith("*"):
            return s + "*", lambda v: v is not None and v.lower().startswith(low)
        if s.startswith(("=", "!=")) or s.endswith("*"):
            return "=acme", lambda v: v is not None and v.lower() == "acme"
        return s, lambda v: v is not None and low in v.lower()

    return st.builds(build, st.sampled_from(["", "=", "!=", "*"]), needle)


def _ordered_cell(values: st.SearchStrategy[Any], show: Callable[[Any], str], conv=lambda v: v):
    def single(op: str, x: Any) -> tuple[str, Callable[[Any], bool]]:
        return f"{op}{show(x)}", lambda v: _cmp(op or "=", None if v is None else conv(v), x)

    def between(lo: Any, hi: Any) -> tuple[str, Callable[[Any], bool]]:
        text = f"{'' if lo is None else show(lo)}..{'' if hi is None else show(hi)}"
        return (
            text,
            lambda v: v is not None and (lo is None or conv(v) >= lo) and (hi is None or conv(v) <= hi),
        )

    ops = st.sampled_from(["", "=", "!=", "<", "<=", ">", ">="])
    ranged = st.builds(between, st.none() | values, st.none() | values).filter(lambda c: c[0] != "..")
    return st.builds(single, ops, values) | ranged


DAYS = st.dates(dt.date(2025, 12, 25), dt.date(2026, 5, 10))
CELLS = {
    "id": _ordered_cell(st.integers(-1, 82), str),
    "name": _text_cell(),
    "status": _text_cell(),
    "amount": _ordered_cell(st.integers(-6, 6), str),
    "due": _ordered_cell(DAYS, dt.date.isoformat),
    "seen": _ordered_cell(st.dates(dt.date(2026, 2, 28), dt.date(2026, 3, 12)), str, conv=lambda v: v.date()),
    "active": st.sampled_from(
        [("yes", lambda v: v is True), ("no", lambda v: v is False), ("", lambda v: True)]
    ),
}


def test_filter_row_every_operator_matches_python(db) -> None:
    url, rows, _ = db
    client = make_client(url)

    @HYPO
    @given(st.dictionaries(st.sampled_from(sorted(CELLS)), st.none(), min_size=1, max_size=2), st.data())
    def check(keys: dict[str, None], data: st.DataObject) -> None:
        cells = {key: data.draw(CELLS[key], label=key) for key in keys}
        got = ids(all_json(client, **{f"f_{k}": text for k, (text, _) in cells.items()}))
        assert got == [r["id"] for r in rows if all(pred(r[k]) for k, (_, pred) in cells.items())]

    check()


def test_search_box_needs_every_word_in_some_text_column(db) -> None:
    url, rows, _ = db
    client = make_client(url)

    @HYPO
    @given(
        st.lists(st.sampled_from(["acme", "ACT", "'", "%", "_", "\\", "ex", "pure", "zz", "/"]), max_size=3)
    )
    def check(words: list[str]) -> None:
        def hit(row: dict[str, Any], word: str) -> bool:
            return any(word.lower() in (row[k] or "").lower() for k in ("name", "status"))

        expected = [r["id"] for r in rows if all(hit(r, w) for w in words)]
        assert ids(all_json(client, q=" ".join(words))) == expected

    check()


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _condition() -> st.SearchStrategy[tuple[str, Callable[[dict[str, Any]], bool]]]:
    def ordered(key: str, op: str, x: Any, show: str) -> tuple[str, Callable[[dict[str, Any]], bool]]:
        return f"{key} {op} {show}", lambda r: _cmp(op, r[key], x)

    number = st.builds(
        lambda key, op, n: ordered(key, op, n, str(n)),
        st.sampled_from(["amount", "id"]),
        st.sampled_from(["=", "!=", "<", "<=", ">", ">="]),
        st.integers(-6, 80),
    )
    date = st.builds(
        lambda op, d: ordered("due", op, d, d.isoformat()),
        st.sampled_from(["=", "!=", "<", "<=", ">", ">="]),
        DAYS,
    )

    def textual(key: str, op: str, s: str) -> tuple[str, Callable[[dict[str, Any]], bool]]:
        low = s.strip().lower()
        tests = {
            "=": lambda v: v is not None and v.lower() == low,
            "!=": lambda v: v is None or v.lower() != low,
            "contains": lambda v: v is not None and s.lower() in v.lower(),
            "startswith": lambda v: v is not None and v.lower().startswith(s.lower()),
        }
        return f"{key} {op} {_quote(s)}", lambda r: tests[op](r[key])

    words = st.sampled_from(["Active", "new", "acme", "O'Brien", 'Say "hi"', "100%", "_", "back\\", "a/"])
    texts = st.builds(
        textual,
        st.sampled_from(["name", "status"]),
        st.sampled_from(["=", "!=", "contains", "startswith"]),
        words,
    )
    flags = st.builds(
        lambda op, b: (
            f"active {op} {'yes' if b else 'no'}",
            lambda r: (r["active"] is b) if op == "=" else (r["active"] is not b),
        ),
        st.sampled_from(["=", "!="]),
        st.booleans(),
    )
    return number | date | texts | flags


def _combine(parts: tuple[str, list[Any]]) -> tuple[str, Callable[[dict[str, Any]], bool]]:
    op, children = parts
    preds = [p for _, p in children]
    joined = f" {op} ".join(t for t, _ in children)
    check = (lambda r: all(p(r) for p in preds)) if op == "AND" else (lambda r: any(p(r) for p in preds))
    return f"({joined})", check


EXPRESSIONS = st.recursive(
    _condition(),
    lambda inner: st.tuples(st.sampled_from(["AND", "OR"]), st.lists(inner, min_size=2, max_size=3)).map(
        _combine
    ),
    max_leaves=6,
)


def test_create_filter_expressions_match_python(db) -> None:
    url, rows, _ = db
    client = make_client(url)

    @HYPO
    @given(EXPRESSIONS)
    def check(expression: tuple[str, Callable[[dict[str, Any]], bool]]) -> None:
        text, pred = expression
        payload = all_json(client, filter=text)
        assert ids(payload) == [r["id"] for r in rows if pred(r)]
        html = client.get("/things", query_string={"filter": text}).get_data(as_text=True)
        assert 'class="grid-active-filter"' in html and "Clear all</a>" in html

    check()


def test_builder_form_appends_conditions_and_redirects(lite) -> None:
    client = make_client(lite[0])
    form = {"tab": "expired", "fb_column": "amount", "fb_op": "<", "fb_value": "0", "page": "3"}
    first = client.get("/things", query_string=form)
    assert first.status_code == 303
    target = first.headers["Location"]
    assert "tab=expired" in target and "page=" not in target and "fb_" not in target
    second = client.get(target + "&fb_join=OR&fb_column=status&fb_op=%3D&fb_value=Active").headers["Location"]
    third = client.get(second + "&fb_join=AND&fb_column=name&fb_op=contains&fb_value=ac").headers["Location"]
    html = client.get(third).get_data(as_text=True)
    expected = '(amount < 0 OR status = "Active") AND name contains "ac"'
    assert f'name="filter" value="{escape(expected)}"' in html
    removable = re.findall(r'<span class="grid-cond"><code>([^<]*)</code>', html)
    # shown with the columns' labels
    assert removable == [escape('(Amount < 0 OR Status = "Active")'), escape('Name contains "ac"')]
    bad = client.get("/things?fb_column=amount&fb_op=contains&fb_value=1")
    assert bad.status_code == 400 and "contains applies to text columns" in bad.get_data(as_text=True)


# -- links keep state


def test_every_grid_link_and_form_keeps_unrelated_parameters(lite) -> None:
    client = make_client(lite[0])
    html = client.get(
        "/customers/A-1/things?tab=expired&back=%2Fhome&page=2&sort=-due&f_amount=%3C0"
    ).get_data(as_text=True)
    section = html[html.index("<section") : html.index("</section>")]
    links = [h for h in re.findall(r'href="([^"]*)"', section) if "?" in h or "/customers/" in h]
    assert links and all("tab=expired" in h and "back=%2Fhome" in h for h in links)
    assert all(h.startswith("/customers/A-1/things") for h in links)
    forms = re.findall(r"<form[^>]*>(.*?)</form>", section, re.S)
    assert len(forms) == 7  # search, builder (2), column chooser, Filter Row, jump, page size
    assert all('name="tab" value="expired"' in f for f in forms)
    assert '<a href="/things/' in section and 'class="col-number negative"' in section


# -- keyset pages


def test_keyset_next_and_previous_pages_equal_offset_pages(db) -> None:
    client = make_client(db[0])
    for sort in ("id", "-id", "amount", "-amount", "due", "-due", "active", "-seen", "name", "-status"):
        check_keyset(client, sort)


def check_keyset(client: Any, sort: str) -> None:
    base = {"sort": sort, "page_size": 7, "f_id": ">3"}
    first = client.get("/things", query_string={**base, "format": "json"}).json
    offset_pages = [
        client.get("/things", query_string={**base, "format": "json", "page": p}).json["rows"]
        for p in range(1, first["pages"] + 1)
    ]
    walked, payload = [], first
    while True:
        walked.append(payload["rows"])
        if payload["next"] is None:
            break
        assert "after=" in payload["next"]
        payload = client.get(payload["next"]).json
    assert walked == offset_pages
    # back again through the HTML Previous links
    html = client.get(payload_url(client, base, first["pages"])).get_data(as_text=True)
    for p in range(first["pages"] - 1, 0, -1):
        prev = re.search(r'<a href="([^"]*)" rel="prev">', html).group(1).replace("&amp;", "&")
        assert client.get(prev + "&format=json").json["rows"] == offset_pages[p - 1]
        html = client.get(prev).get_data(as_text=True)
        assert reference(html).startswith(f"Page {p} of ")


def payload_url(client: Any, base: dict[str, Any], last: int) -> str:
    """The URL of the last page reached by Next links."""
    url = "/things?" + "&".join(f"{k}={v}" for k, v in base.items())
    for _ in range(last - 1):
        html = client.get(url).get_data(as_text=True)
        url = re.search(r'<a href="([^"]*)" rel="next">', html).group(1).replace("&amp;", "&")
    return url


@pytest.mark.parametrize("base", ["select", "text"])
def test_select_and_text_bases_work_like_tables(lite, base) -> None:
    url, rows = lite
    client = make_client(url, base=base)
    payload = all_json(client, sort="-due", f_due="2026-01-10..2026-03-01", page_size=5)
    expected = sorted(
        (r for r in rows if r["due"] and dt.date(2026, 1, 10) <= r["due"] <= dt.date(2026, 3, 1)),
        key=lambda r: (r["due"], r["id"]),
        reverse=True,
    )
    assert ids(payload) == [r["id"] for r in expected[:5]]
    assert ids(client.get(payload["next"]).json) == [r["id"] for r in expected[5:10]]


# -- formats


def test_json_shape(lite) -> None:
    client = make_client(lite[0])
    payload = client.get("/things?page_size=10&page=2", headers={"Accept": "application/json"}).json
    assert set(payload) == {"rows", "total", "capped", "page", "pages", "page_size", "next", "as_of"}
    assert (payload["total"], payload["page"], payload["pages"], payload["page_size"]) == (80, 2, 8, 10)
    assert payload["as_of"] == "2026-11-22T10:05:00"
    assert list(payload["rows"][0]) == ["id", "name", "status", "amount", "due", "seen", "active"]
    assert all(r["due"] is None or dt.date.fromisoformat(r["due"]) for r in payload["rows"])
    assert payload["next"].startswith("/things?") and "page=3" in payload["next"]
    assert client.get("/things?page=8&page_size=10&format=json").json["next"] is None


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return value.isoformat() if isinstance(value, (dt.date, dt.datetime)) else str(value)


def test_csv_and_xlsx_hold_every_filtered_row(lite) -> None:
    url, rows = lite
    client = make_client(url)
    negative = [r for r in rows if r["amount"] is not None and r["amount"] < 0]
    # newest due date first, the rows without one last
    expected = sorted(
        (r for r in negative if r["due"] is not None), key=lambda r: (r["due"], r["id"]), reverse=True
    ) + sorted((r for r in negative if r["due"] is None), key=lambda r: r["id"], reverse=True)
    query = "f_amount=%3C0&sort=-due&page=2&page_size=10"
    response = client.get(f"/things?{query}&format=csv")
    assert response.headers["Content-Type"].startswith("text/csv")
    assert response.headers["X-Export-Truncated"] == "false"
    table = list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"))))
    keys = [c.key for c in GRID.columns]
    assert table[0] == [c.label for c in GRID.columns]  # the same headings as the XLSX
    assert table[1:] == [[_csv_cell(r[k]) for k in keys] for r in expected]

    book = openpyxl.load_workbook(io.BytesIO(client.get(f"/things?{query}&format=xlsx").data))
    sheet = list(book["things"].iter_rows(values_only=True))
    assert sheet[0] == tuple(c.label for c in GRID.columns)
    assert len(sheet) == len(expected) + 1
    for got, want in zip(sheet[1:], expected):
        assert got[0] == want["id"] and got[1] == want["name"] and got[3] == want["amount"]
        assert (got[4].date() if got[4] else None) == want["due"]
        assert got[5] == want["seen"] and got[6] == want["active"]


def test_export_stops_at_the_cap_and_says_so(lite) -> None:
    capped = Grid("things", GRID.columns, default_sort="id", key=("id",), export_cap=10)
    response = make_client(lite[0], grid=capped).get("/things?format=csv")
    assert response.headers["X-Export-Truncated"] == "true"
    assert len(response.get_data().decode("utf-8-sig").splitlines()) == 11


# -- bad input


def cursor(*values: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


BAD = {
    "page": ["0", "-1", "x", "1.5", "١"],
    "page_size": ["0", "abc", "-5", "²"],
    "sort": ["nope", "--id", "-", "id; DROP TABLE thing"],
    "format": ["pdf", "JSONX"],
    "f_amount": ["abc", ">x", "1..x", "..", "1e999", "NaN", "5 OR 1=1"],
    "f_due": ["2026-02-30", "yesterday", ">2026-13-01", "0001-01-01"],
    "f_seen": ["2026-01-01T25:00", "2026-01-01T10:00+02:00"],
    "f_active": ["maybe"],
    "f_nope": ["1"],
    "filter": [
        'name = "x',
        "(amount < 1",
        "amount << 1",
        "nope = 1",
        "amount contains 1",
        "amount < x",
        "AND",
    ],
    "after": ["!!!", "e30", cursor("id", "x"), cursor("-id", "1"), cursor("id", "1", "2"), cursor("id", 5)],
    "fb_column": ["nope"],
    "q": ["\x00"],
}


def test_bad_parameters_get_400_naming_them(lite) -> None:
    client = make_client(lite[0])
    for param, value in [(p, v) for p, vs in BAD.items() for v in vs]:
        html = client.get("/things", query_string={param: value})
        assert html.status_code == 400, (param, value)
        body = html.get_data(as_text=True)
        # the page names it as the screen does ("Amount filter", "Page"); JSON by the parameter
        assert "<main class=layout>" in body and f"<strong>{label_of(GRID, param)}</strong>" in body
        as_json = client.get("/things", query_string={param: value}, headers={"Accept": "application/json"})
        assert as_json.status_code == 400 and as_json.json["parameter"] == param, (param, value)
        assert as_json.json["error"].startswith(param + ": ")


PARAMS = [
    *("page", "page_size", "sort", "q", "filter", "after", "before", "format"),
    *(f"f_{c.key}" for c in GRID.columns),
    *("f_nope", "fb_column", "fb_op", "fb_value", "fb_join", "tab"),
]
NASTY = st.sampled_from(
    ["-amount", "1..", "..", "<", "9999-12-31", "1e308", "-0", "'; DROP TABLE thing; --", "(((", "%", "\\"]
)


def test_any_parameter_values_never_give_500(db) -> None:
    client = make_client(db[0])

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.dictionaries(st.sampled_from(PARAMS), st.text(max_size=40) | NASTY, max_size=4))
    def check(params: dict[str, str]) -> None:
        response = client.get("/things", query_string=params)
        assert response.status_code in (200, 303, 400)
        if response.status_code == 400:
            named = re.search(r"<strong>([^<]*)</strong>", response.get_data(as_text=True))
            assert named and named.group(1) in {label_of(GRID, p) for p in PARAMS}

    check()


def test_sql_injection_stays_data(db) -> None:
    url, rows, _ = db
    client = make_client(url)
    attacks = [
        {"q": "'; DROP TABLE thing; --"},
        {"f_name": "x' OR '1'='1"},
        {"f_name": "=' OR 1=1 --"},
        {"filter": 'name = "x\\" OR 1=1 --"'},
        {"filter": 'name contains "\'); DELETE FROM thing; --"'},
    ]
    for attack in attacks:
        assert all_json(client, **attack)["total"] == 0, attack
    percent = all_json(client, f_name="%")
    assert ids(percent) == [r["id"] for r in rows if "%" in r["name"]]
    underscore = all_json(client, q="_")
    assert ids(underscore) == [r["id"] for r in rows if "_" in r["name"]]
    engine = create_engine(url)
    with engine.connect() as conn:
        assert inspect(conn).has_table("thing")
        assert conn.execute(select(func.count()).select_from(thing)).scalar_one() == len(rows)
    engine.dispose()


# -- in a real browser


def test_browser_filters_without_javascript_and_live_with_it(
    lite, serve, _browser, browser_page, artifacts_dir
):
    url, rows = lite
    base = serve(make_app(url))
    plain = _browser.new_context(java_script_enabled=False)
    page = plain.new_page()
    page.goto(f"{base}/things?tab=expired&page_size=10")
    page.fill('input[name="f_amount"]', "<0")
    page.press('input[name="f_amount"]', "Enter")
    page.wait_for_url("**f_amount=%3C0**")
    negatives = [r for r in rows if r["amount"] is not None and r["amount"] < 0]
    assert page.text_content(".grid-reference").endswith(f"({len(negatives)} rows)")
    assert "tab=expired" in page.url
    page.click("th a:has-text('Amount')")  # sort by header, filter kept
    page.wait_for_url("**sort=amount**")
    assert "f_amount=%3C0" in page.url
    plain.close()

    browser_page.goto(f"{base}/things?tab=expired&page_size=10")
    browser_page.type('input[name="f_name"]', "acme", delay=30)  # no Enter: live filtering
    browser_page.wait_for_url("**f_name=acme**")
    acme = [r for r in rows if "acme" in r["name"].lower()]
    browser_page.wait_for_function(
        "n => document.querySelector('.grid-reference').textContent.endsWith('(' + n + ' rows)')",
        arg=len(acme),
    )
    assert browser_page.evaluate("document.activeElement.name") == "f_name"
    assert "tab=expired" in browser_page.url
    browser_page.screenshot(path=str(artifacts_dir / "grid-live-filter.png"), full_page=True)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(), st.integers(), st.none(), st.dates(), st.booleans()))
def test_cells_are_escaped_exactly_as_the_template_would(value: Any) -> None:
    """Cells are formatted in Python for speed; they must escape as Jinja's autoescape does."""
    from markupsafe import escape

    from bpo2_bridge.web.grid_page import _html

    assert _html(value) == str(escape(value))
