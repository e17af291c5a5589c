"""How a long list is read does not change what it shows: a page walked along its sort order's
index, the planner's own plan, and the sort the walk falls back to all answer the same rows;
counts past grid_count_limit say so ("100+") and page=last still finds the end."""

from __future__ import annotations

import itertools
import re
import time
from urllib.parse import quote

import pytest
from sqlalchemy import Engine, event, text

from bpo2_bridge.bridge import Bridge
from bpo2_bridge.cache import search as search_index
from bpo2_bridge.cache import time_limit
from bpo2_bridge.demo.content import DEMO_ADMIN_LOGIN, DEMO_SALESMAN_LOGIN
from bpo2_bridge.queries.grid import counts as row_counts
from bpo2_bridge.queries.grid import plans, value_lists

PRESENT = search_index.present
_MONOTONIC = time.monotonic
URLS = [
    "/contracts?tab=all&sort=start_date",
    "/contracts?tab=all&sort=-expiry_date",
    "/contracts?tab=expiring&sort=-start_date",
    "/contracts?tab=expired&sort=contract_no",
    "/contracts?tab=all&f_status==Active&f_contract_type==Rental&sort=-machines",
    "/contracts?tab=all&f_status==Expired&sort=-expiry_date",
    "/contracts?tab=all&f_status=activ&sort=months_remaining",
    "/contracts?tab=all&q=BULK-01&sort=-contract_no",
    # rare words sorted on columns with ties and empty values: the keys sorted, then rows read
    "/contracts?tab=all&q=BULK-01&sort=machines",
    "/contracts?tab=all&q=BULK-02&sort=-months_remaining",
    # words in more rows than search_index.DENSE_MATCHES: counted and sorted through the index
    "/contracts?tab=all&q=BULK&sort=start_date",
    "/contracts?tab=expiring&q=bulk+BULK-0&sort=-machines",
    "/contracts?tab=all&f_months_remaining=>3&sort=customer_name",
    # every status but one: a branch per status along its (status, expiry or start) index
    "/contracts?tab=all&f_status=!=Expired&sort=expiry_date",
    "/contracts?tab=all&f_status=!=New&f_contract_type=!=Rental&sort=-start_date",
    "/contracts?tab=expired&f_status=!=Cancelled&sort=-start_date",
]


def _page(client, url: str, page: int = 2) -> dict:  # type: ignore[no-untyped-def]
    answer = client.get(f"{url}&format=json&page_size=50&page={page}")
    assert answer.status_code == 200, url
    return answer.get_json()


def _next(client, body: dict) -> dict:  # type: ignore[no-untyped-def]
    assert body["next"], "a next page"
    return client.get(body["next"]).get_json()


@pytest.mark.parametrize("login_name", [DEMO_ADMIN_LOGIN, DEMO_SALESMAN_LOGIN])
def test_walked_sorted_and_planned_pages_are_the_same(
    make_app, crowded_demo, login, monkeypatch, login_name
) -> None:  # type: ignore[no-untyped-def]
    client = make_app(crowded_demo).test_client()  # counts never cut short by time
    login(client, login_name)
    monkeypatch.setattr(plans, "WALK_FROM", 10**9)  # the planner's own plan, always
    monkeypatch.setattr(search_index, "present", lambda _conn, _searched: False)  # each row tested
    planned = {url: _page(client, url) for url in URLS}
    following = {url: _next(client, planned[url]) for url in URLS if planned[url]["next"]}
    monkeypatch.setattr(search_index, "present", PRESENT)  # searches read through the index
    # the rows of a salesman's list (any tab) each tested for a common word, or its matches read
    # in the index (an administrator's lists always read the index)
    for tested_up_to in (0, 10**9):
        monkeypatch.setattr(plans, "TESTED_UP_TO", tested_up_to)
        assert {url: _page(client, url) for url in URLS} == planned, tested_up_to
    monkeypatch.setattr(plans, "TESTED_UP_TO", 0)  # the index's plans below
    monkeypatch.setattr(plans, "WALK_FROM", 0)  # walked along the sort order's index
    for few in (0, plans.FEW_ROWS, 10**9):  # each status's branch walked; as shipped; each sorted
        monkeypatch.setattr(plans, "FEW_ROWS", few)
        # a common word's matches walked for, or sorted at once (as shipped, up to the cap)
        for sorted_up_to in (0, 10**9):
            monkeypatch.setattr(plans, "SORT_INDEXED_UP_TO", sorted_up_to)
            for url in URLS:
                assert _page(client, url) == planned[url], (url, few, sorted_up_to)
    monkeypatch.setattr(plans, "WALK_SECONDS", -1.0)  # every walk given up for the sort
    for url in URLS:
        walked_or_sorted = _page(client, url)
        assert walked_or_sorted == planned[url], url
        if url in following:
            assert _next(client, walked_or_sorted) == following[url], url
    assert sum(len(p["rows"]) for p in planned.values()) > 200


def test_a_count_past_the_limit_says_so_and_the_last_page_is_still_found(
    make_app, crowded_demo, login, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    def app(**overrides):  # type: ignore[no-untyped-def]
        return make_app(Bridge(crowded_demo.settings.replace(**overrides))).test_client()

    client = app(grid_count_limit=100)
    login(client, DEMO_ADMIN_LOGIN)
    everything = client.get("/contracts?format=json&page_size=200&sort=contract_no").get_json()
    assert everything["capped"] and everything["total"] == 100

    exact = make_app(crowded_demo).test_client()
    login(exact, DEMO_ADMIN_LOGIN)
    truth = exact.get("/contracts?format=json&page_size=10&sort=contract_no&page=last").get_json()
    assert not truth["capped"] and truth["total"] > 100

    first = client.get("/contracts?format=json&page_size=10&sort=contract_no").get_json()
    assert (first["total"], first["pages"], first["capped"]) == (100, 10, True)
    html = client.get("/contracts?page_size=10&sort=contract_no").get_data(as_text=True)
    assert "Page 1 of 10+ (100+ rows)" in html
    assert 'rel="last"' in html and "page=last" in html
    # Next goes on past the counted rows, and page=last counts them all
    body = client.get("/contracts?format=json&page_size=10&sort=contract_no&page=10").get_json()
    assert body["next"], "more rows past the counted ones"
    last = client.get("/contracts?format=json&page_size=10&sort=contract_no&page=last").get_json()
    assert last == {**truth, "as_of": last["as_of"]}
    # a count that runs out of time says what it found
    monkeypatch.setattr(row_counts, "CHUNK", 7)  # PostgreSQL's fetches
    monkeypatch.setattr(row_counts, "FIRST_STEP", 7)  # SQLite's first count
    timed = app(grid_count_seconds=0.01)
    login(timed, DEMO_ADMIN_LOGIN)
    monkeypatch.setattr(row_counts, "clock", iter(range(0, 10**6, 1)).__next__)  # a second a look
    found = timed.get("/contracts?format=json&page_size=5&sort=contract_no").get_json()
    assert found["capped"] and found["total"] == 7 and len(found["rows"]) == 5


def test_a_count_whose_rows_sit_far_down_the_table_stops_at_its_time_limit(
    make_app, crowded_demo, login, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """The bulk contracts come last in the table: a count of them reads every other contract
    before its first row, and is stopped by the statement's own deadline, not left to run on."""
    client = make_app(Bridge(crowded_demo.settings.replace(grid_count_seconds=0.5))).test_client()
    login(client, DEMO_ADMIN_LOGIN)
    monkeypatch.setattr(search_index, "present", lambda _conn, _searched: False)  # each row tested
    url = "/contracts?format=json&page_size=5&sort=contract_no&f_contract_no=BULK-059"
    assert client.get(url).get_json()["total"] == 100  # in time: exact
    # a second for each look at the clock (every 10,000 SQLite instructions, about 3,000 rows
    # here): the count's 0.5 s end at its first look, the page's 10 s at its tenth
    monkeypatch.setattr(time_limit, "CHECK_EVERY", 10_000)
    monkeypatch.setattr(time_limit, "clock", itertools.count().__next__)
    found = client.get(url).get_json()
    assert found["capped"] and found["total"] == 0, "nothing counted before the deadline"
    assert [r["contract_no"] for r in found["rows"]] == [f"BULK-0590{i}" for i in range(5)]
    monkeypatch.setattr(time_limit, "clock", time.monotonic)
    assert client.get(url).get_json()["total"] == 100  # the next request counts again


@pytest.mark.parametrize("count_limit", [100, 10_000])
def test_a_common_word_the_index_finds_exactly_is_counted_in_the_index_as_row_by_row(
    make_app, crowded_demo, login, monkeypatch, count_limit: int
) -> None:  # type: ignore[no-untyped-def]
    """A list made by search box words alone, each of them common and one the index finds
    exactly (no letter it folds from another alphabet), is counted from the index without
    reading a contract: the same total and cap as testing each row."""
    client = make_app(Bridge(crowded_demo.settings.replace(grid_count_limit=count_limit))).test_client()
    login(client, DEMO_ADMIN_LOGIN)
    urls = [f"/contracts?tab=all&format=json&page_size=5&sort=contract_no&q={q}" for q in ("-05", "-05+-059")]
    monkeypatch.setattr(search_index, "present", lambda _conn, _searched: False)  # each row tested
    row_by_row = {url: client.get(url).get_json() for url in urls}
    monkeypatch.setattr(search_index, "present", PRESENT)
    monkeypatch.setattr(search_index, "DENSE_MATCHES", 10)  # BULK-05000 to -05999: common words
    counts: list[str] = []

    def keep(_conn, _cursor, statement, _parameters, _context, _many) -> None:  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("SELECT COUNT(*)"):
            counts.append(statement)

    event.listen(Engine, "before_cursor_execute", keep)
    try:
        for url in urls:
            counts.clear()
            indexed = client.get(url).get_json()
            assert indexed == {**row_by_row[url], "as_of": indexed["as_of"]}, url
            read = [s.replace(search_index.CONTRACTS.trigrams, "the index") for s in counts]
            assert len(read) >= 2 and not any("contract_row" in s for s in read), read
    finally:
        event.remove(Engine, "before_cursor_execute", keep)
    assert row_by_row[urls[0]]["total"] == min(1000, count_limit)
    assert row_by_row[urls[0]]["capped"] == (count_limit < 1000)
    assert row_by_row[urls[1]]["total"] == 100


@pytest.mark.parametrize("column", ["status", "contract_type"])
def test_text_tests_on_few_valued_columns_read_as_value_lists_answer_as_the_grid_own_test(
    make_app, crowded_demo, login, monkeypatch, column: str
) -> None:  # type: ignore[no-untyped-def]
    """A Filter Row test on Status or Contract Type becomes the list of values that pass
    (value_lists), read through the column's index; every operator it rewrites keeps exactly
    the rows the grid's own test keeps, empty cells included for "differs"."""
    client = make_app(crowded_demo).test_client()
    login(client, DEMO_ADMIN_LOGIN)
    values = {r[column] for r in _page(client, "/contracts?tab=all&sort=contract_no", page=1)["rows"]}
    words = sorted(v for v in values if v)
    cells = [f"{op}{v}" for v in words for op in ("=", "!=", "")]  # equals, differs, contains
    cells += [c for v in words for c in (f"!={v.lower()}", f"{v.upper()[:3]}*", v[1:4].upper(), f"=x{v}")]
    urls = [
        f"/contracts?tab={tab}&sort=-start_date&f_{column}={quote(cell)}"
        for tab in ("all", "expired")
        for cell in cells
    ]
    listed = {url: _page(client, url, page=1) for url in urls}
    monkeypatch.setattr(value_lists, "listed", lambda *_: lambda _op, _value: None)
    for url in urls:
        assert _page(client, url, page=1) == listed[url], url
    assert any(answer["total"] for answer in listed.values())


def test_a_busy_machine_walks_the_sort_order_as_a_quiet_one(
    make_app, crowded_demo, login, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """Whether a page walks its sort order's index or gives way to a sort of every matching row
    is decided on this thread's CPU time: with other threads and processes taking the cores
    (here: a wall clock that runs a second at every look), the walk that finds a page on a quiet
    machine still finds it, instead of a sort that costs seconds on a million contracts."""
    settings = crowded_demo.settings.replace(screen_query_timeout=3600)
    client = make_app(Bridge(settings)).test_client()
    login(client, DEMO_ADMIN_LOGIN)
    monkeypatch.setattr(plans, "WALK_FROM", 10)  # 100 matches are walked for, along start dates
    monkeypatch.setattr(time_limit, "CHECK_EVERY", 10_000)  # a few looks at the clock in that walk
    monkeypatch.setattr(search_index, "present", lambda _conn, _searched: False)  # each row tested
    url = "/contracts?tab=all&f_contract_no=BULK-059&sort=start_date"
    statements: list[str] = []

    def record(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(Engine, "before_cursor_execute", record)
    try:
        quiet = _page(client, url)["rows"]
        walked = len(statements)
        looks = itertools.count()
        began = time.monotonic()
        monkeypatch.setattr(time, "monotonic", lambda: began + next(looks))
        busy = _page(client, url)["rows"]
        monkeypatch.setattr(time, "monotonic", _MONOTONIC)
    finally:
        event.remove(Engine, "before_cursor_execute", record)
    # each look moved it a second: far past any walk's budget, had the walk gone by it
    assert next(looks) > 5, "the wall clock was read while the page was read"
    assert busy == quiet
    rows_read = [
        [s for s in part if "c.contract_id" in s] for part in (statements[:walked], statements[walked:])
    ]
    assert rows_read[1] == rows_read[0], "the same statements: no sort after a given-up walk"


def _choices(html: str, label: str) -> list[tuple[str, str]]:
    """(value, count text) of a header drop-down as the page draws it."""
    block = re.search(rf'aria-label="Filter {label} values">.*?</details>', html, re.S)
    assert block, f"a {label} drop-down"
    items = re.findall(
        r'name="in_\w+" value="([^"]*)"[^>]*> [^<]*(?:<span class="grid-count">\(([\d,]+)\))?', block[0]
    )
    return [(value, count) for value, count in items]


def test_a_list_past_the_count_cap_lists_the_values_its_columns_hold_without_counts(
    make_app, crowded_demo, login
) -> None:  # type: ignore[no-untyped-def]
    """Counting each status of a list longer than grid_count_limit would read all of it (half a
    second for the types of 263,000 expired contracts): its drop-downs list the values the
    column holds, uncounted. A list within the cap keeps a count beside each value."""
    with crowded_demo.cache.connect() as conn:
        held = sorted(
            conn.execute(text("SELECT DISTINCT status FROM contract_row WHERE status IS NOT NULL")).scalars()
        )
    capped = make_app(Bridge(crowded_demo.settings.replace(grid_count_limit=100))).test_client()
    login(capped, DEMO_ADMIN_LOGIN)
    html = capped.get("/contracts?tab=all").get_data(as_text=True)
    assert "100+" in html, "the list is past the cap"
    assert _choices(html, "Status") == [(status, "") for status in held]
    counted = make_app(crowded_demo).test_client()
    login(counted, DEMO_ADMIN_LOGIN)
    choices = _choices(counted.get("/contracts?tab=all").get_data(as_text=True), "Status")
    assert [value for value, _ in choices] == held and all(count for _, count in choices)


def test_a_tab_page_reads_what_only_its_tab_can_hold(make_app, crowded_demo, login, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The expired tab holds only contracts with an expiry date: its page does not also look
    for those without one (105,000 of a million, 8 ms a page), and the tab's count is the
    page's own, not counted twice."""
    client = make_app(Bridge(crowded_demo.settings.replace(grid_count_limit=100))).test_client()
    login(client, DEMO_ADMIN_LOGIN)
    monkeypatch.setattr(plans, "WALK_FROM", 10)  # the demo's expired contracts read as a long list
    client.get("/contracts?tab=expired")  # a connection's first use asks more
    statements: list[str] = []

    def record(*args: object) -> None:
        statements.append(" ".join(str(args[2]).split()))

    event.listen(Engine, "before_cursor_execute", record)
    try:
        assert client.get("/contracts?tab=expired").status_code == 200
    finally:
        event.remove(Engine, "before_cursor_execute", record)
    assert not [s for s in statements if "contracts.expiry_date IS NULL" in s]
    counts = [s for s in statements if s.startswith("SELECT count(*)")]
    assert len(counts) == 3, "one count for each tab"
