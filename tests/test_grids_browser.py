"""The grids as a user used to the old DevExpress grids meets them, in a real browser (headless
Debian chromium): the order a list opens in, where empty values go, and how they show."""

from __future__ import annotations

import datetime as dt
import re

from bpo2_bridge.demo.content import DEMO_ADMIN_LOGIN, DEMO_SALESMAN_LOGIN

from .helpers import sign_in_browser
from .test_browser_walk import cache_rows, column_texts, walk_customer

EMPTY = "—"


def _headers(page) -> list[str]:  # type: ignore[no-untyped-def]
    """The grid's header labels, without sort marks and value drop-downs."""
    return page.locator("table.grid-table thead tr:first-child th").evaluate_all(
        "ths => ths.map(th => { const c = th.cloneNode(true);"
        " c.querySelectorAll('details, .sort-mark').forEach(d => d.remove()); return c.textContent.trim(); })"
    )


def _dates(texts: list[str]) -> list[dt.date]:
    return [dt.date.fromisoformat(t) for t in texts]


def test_contract_tabs_open_in_the_manuals_order(demo_bridge, live_server, browser_page) -> None:
    """Contracts by Contract No, Expired newest expiry first, Expiring soonest first; for one
    customer and across customers, with no blank Expiry Date on top."""
    page = browser_page
    sign_in_browser(page, live_server, DEMO_SALESMAN_LOGIN)
    account_no = walk_customer(demo_bridge)["account_no"]
    for path in (f"/customers/{account_no}/contracts", "/contracts"):
        page.goto(f"{live_server}{path}?tab=all")
        numbers = column_texts(page, "Contract No")
        assert len(numbers) > 1 and numbers == sorted(numbers), path
        assert page.locator("th[aria-sort=ascending]").inner_text().startswith("Contract No")

        page.goto(f"{live_server}{path}?tab=expired")
        expired = _dates(column_texts(page, "Expiry Date"))
        assert len(expired) > 1 and expired == sorted(expired, reverse=True), path

        page.goto(f"{live_server}{path}?tab=expiring")
        expiring = _dates(column_texts(page, "Expiry Date"))
        assert expiring and expiring == sorted(expiring), path


def test_empty_values_sort_last_both_ways_and_show_a_dash(live_server, browser_page) -> None:
    page = browser_page
    sign_in_browser(page, live_server, DEMO_ADMIN_LOGIN)
    for sort in ("expiry_date", "-expiry_date", "months_remaining", "-months_remaining"):
        page.goto(f"{live_server}/contracts?tab=all&sort={sort}&page_size=200")
        expiries = column_texts(page, "Expiry Date")
        dated = [d for d in expiries if d != EMPTY]
        assert dated and len(dated) < len(expiries), "the demo has contracts without an expiry date"
        assert expiries == dated + [EMPTY] * (len(expiries) - len(dated)), sort
        assert _dates(dated) == sorted(_dates(dated), reverse=sort.startswith("-")), sort
        months = column_texts(page, "Months Remaining")
        assert months[len(dated) :] == [EMPTY] * (len(expiries) - len(dated))
        # page 1 of a short page size shows dated rows only, whichever way
        page.goto(f"{live_server}/contracts?tab=all&sort={sort}&page_size=10")
        assert EMPTY not in column_texts(page, "Expiry Date"), sort


def test_switching_tab_keeps_the_filter_sort_and_page_size(demo_bridge, live_server, browser_page) -> None:
    page = browser_page
    sign_in_browser(page, live_server, DEMO_ADMIN_LOGIN)
    page.goto(f"{live_server}/contracts?tab=all&page=2&page_size=10")
    page.fill("input[name=f_contract_type]", "Rental")
    page.press("input[name=f_contract_type]", "Enter")
    page.wait_for_url(re.compile(r"f_contract_type=Rental"))
    page.click("th a:text('Start Date')")
    page.wait_for_url(re.compile(r"sort=start_date"))
    page.fill("#grid-contracts-q", "CPC")
    page.press("#grid-contracts-q", "Enter")
    page.wait_for_url(re.compile(r"q=CPC"))
    for tab in ("expired", "expiring", "all"):
        page.click(f"a[data-tab={tab}]")
        page.wait_for_url(re.compile(rf"tab={tab}"))
        assert "page=" not in page.url.replace("page_size", "")
        assert page.input_value("input[name=f_contract_type]") == "Rental", tab
        assert page.input_value("#grid-contracts-q") == "CPC", tab
        assert page.locator("th[aria-sort=ascending]").inner_text().startswith("Start Date"), tab
        assert page.locator(".grid-size select").input_value() == "10", tab
        types = column_texts(page, "Contract Type")
        assert all(t == "Rental" for t in types), tab
        starts = _dates([d for d in column_texts(page, "Start Date") if d != EMPTY])
        assert starts == sorted(starts), tab

    # the Activities tabs keep theirs too
    page.goto(f"{live_server}/activities?tab=open&page_size=10")
    page.fill("input[name=f_activity_type]", "Phone")
    page.press("input[name=f_activity_type]", "Enter")
    page.wait_for_url(re.compile(r"f_activity_type=Phone"))
    page.click("a[data-tab=all]")
    page.wait_for_url(re.compile(r"tab=all"))
    assert page.input_value("input[name=f_activity_type]") == "Phone"
    assert set(column_texts(page, "Type")) == {"Phone Call"}
    assert page.locator(".grid-size select").input_value() == "10"


def test_numbered_page_buttons_beside_first_previous_next_last(live_server, browser_page) -> None:
    page = browser_page
    sign_in_browser(page, live_server, DEMO_ADMIN_LOGIN)
    page.goto(f"{live_server}/contracts?tab=all&page_size=10")
    reference = page.locator(".grid-reference").inner_text()
    pages = int(re.match(r"Page 1 of (\d+)", reference).group(1))
    assert pages >= 5
    buttons = page.locator(".grid-pages a.grid-page, .grid-pages .grid-page-current")
    assert buttons.all_inner_texts() == ["1", "2", "3", str(pages)]
    assert page.locator(".grid-pages .grid-gap").count() == 1
    assert page.locator(".grid-page-current").get_attribute("aria-current") == "page"
    first_of_page_4 = None
    page.click(".grid-pages a.grid-page:text-is('3')")
    page.wait_for_url(re.compile(r"page=3"))
    assert page.locator(".grid-reference").inner_text().startswith(f"Page 3 of {pages}")
    assert page.locator(".grid-pages a.grid-page:text-is('4')").count() == 1
    page.click(".grid-pages a.grid-page:text-is('4')")
    page.wait_for_url(re.compile(r"page=4"))
    first_of_page_4 = column_texts(page, "Contract No")[0]
    # the same rows as Next from page 3
    page.go_back()
    page.click("a[rel=next]")
    page.wait_for_url(re.compile(r"page=4"))
    assert column_texts(page, "Contract No")[0] == first_of_page_4
    page.click(f".grid-pages a.grid-page:text-is('{pages}')")
    page.wait_for_url(re.compile(rf"page={pages}"))
    assert page.locator(".grid-page-current").inner_text() == str(pages)


def test_column_chooser_hides_and_orders_columns_and_keeps_them_in_the_url(live_server, browser_page) -> None:
    page = browser_page
    sign_in_browser(page, live_server, DEMO_ADMIN_LOGIN)
    page.goto(f"{live_server}/contracts?tab=all")
    page.click(".grid-columns summary")
    page.uncheck(".grid-columns input[value=machines]")
    page.uncheck(".grid-columns input[value=window]")
    page.click(".grid-columns button[type=submit]")
    page.wait_for_url(re.compile(r"cols="))
    headers = _headers(page)
    assert "Machines" not in headers and "Window" not in headers and headers[0] == "Contract No"
    assert page.locator("input[name=f_machines]").count() == 0
    # move Status left of Contract Type
    page.click(".grid-columns summary")
    page.click(".grid-columns a[aria-label='Move Status left']")
    page.wait_for_url(re.compile(r"cols="))
    headers = _headers(page)
    assert headers.index("Status") == headers.index("Contract Type") - 1
    chosen = page.url
    # the choice survives sorting, filtering and a tab switch
    page.click("th a:text('Start Date')")
    page.wait_for_url(re.compile(r"sort=start_date"))
    page.click("a[data-tab=expired]")
    page.wait_for_url(re.compile(r"tab=expired"))
    assert "cols=" in page.url
    again = _headers(page)
    assert again == headers
    assert len(page.locator("table.grid-table tbody tr").first.locator("td").all()) == len(headers)
    assert chosen != page.url


def test_search_matches_are_highlighted(live_server, browser_page) -> None:
    page = browser_page
    sign_in_browser(page, live_server, DEMO_ADMIN_LOGIN)
    page.goto(f"{live_server}/customers?q=medical")
    marks = page.locator("table.grid-table tbody mark").all_inner_texts()
    assert marks and all(m.lower() == "medical" for m in marks)
    names = column_texts(page, "Customer Name")
    assert len(marks) >= len(names)
    # without a search nothing is marked, and marked text is still the plain name
    assert all("medical" in n.lower() for n in names)
    page.goto(f"{live_server}/customers")
    assert page.locator("table.grid-table tbody mark").count() == 0


def test_header_drop_downs_tick_values_with_their_counts(demo_bridge, live_server, _browser) -> None:
    """Without JavaScript too: the drop-down is a plain <details> with a GET form."""
    context = _browser.new_context(viewport={"width": 1366, "height": 900}, java_script_enabled=False)
    page = context.new_page()
    try:
        sign_in_browser(page, live_server, DEMO_ADMIN_LOGIN)
        page.goto(f"{live_server}/contracts?tab=all&page_size=200")
        expected = {
            r["status"]: r["n"]
            for r in cache_rows(demo_bridge, "SELECT status, COUNT(*) AS n FROM contract_row GROUP BY status")
        }
        status = page.locator("th", has_text="Status").locator("details.grid-choices")
        status.locator("summary").click()
        labels = status.locator("label").all_inner_texts()
        shown = {
            m.group(1): int(m.group(2)) for m in (re.match(r"(.+) \((\d+)\)", t.strip()) for t in labels)
        }
        assert shown == expected
        status.locator("input[value=Active]").check()
        status.locator("input[value=Expired]").check()
        status.locator("button[type=submit]").click()
        page.wait_for_url(re.compile(r"in_status=Active&in_status=Expired"))
        assert set(column_texts(page, "Status")) == {"Active", "Expired"}
        total = int(re.search(r"\((\d+) rows\)", page.locator(".grid-reference").inner_text()).group(1))
        assert total == expected["Active"] + expected["Expired"]
        # ticked values stay ticked, survive a tab switch and combine with the Filter Row
        page.click("a[data-tab=expired]")
        page.wait_for_url(re.compile(r"tab=expired"))
        assert "in_status=Active" in page.url
        assert set(column_texts(page, "Status")) <= {"Active", "Expired"}

        page.goto(f"{live_server}/customers?page_size=200")
        site = page.locator("th", has_text="Site").locator("details.grid-choices")
        site.locator("summary").click()
        first = site.locator("input[type=checkbox]").first
        value = first.get_attribute("value")
        first.check()
        site.locator("button[type=submit]").click()
        page.wait_for_url(re.compile(r"in_site_name="))
        assert set(column_texts(page, "Site")) == {value}
    finally:
        context.close()


def test_active_filters_show_as_labelled_removable_chips(live_server, browser_page) -> None:
    page = browser_page
    sign_in_browser(page, live_server, DEMO_ADMIN_LOGIN)
    page.goto(f"{live_server}/contracts?tab=all")
    page.click(".grid-builder summary")
    page.select_option("select[name=fb_column]", "months_remaining")
    page.select_option("select[name=fb_op]", "<")
    page.fill("input[name=fb_value]", "-20")
    page.click(".grid-builder-add button[type=submit]")
    page.wait_for_url(re.compile(r"filter="))
    chips = page.locator(".grid-active-filter .grid-cond code").all_inner_texts()
    assert chips == ["Months Remaining < -20"]
    # a search and a Filter Row cell join them, each removable on its own
    page.fill("input[name=f_contract_type]", "Rental")
    page.press("input[name=f_contract_type]", "Enter")
    page.wait_for_url(re.compile(r"f_contract_type=Rental"))
    chips = page.locator(".grid-active-filter .grid-cond code").all_inner_texts()
    assert chips == ["Contract Type: Rental", "Months Remaining < -20"]
    page.click(".grid-cond:has-text('Months Remaining') a")
    page.wait_for_url(re.compile(r"^(?!.*filter=).*f_contract_type=Rental"))
    assert page.locator(".grid-active-filter .grid-cond code").all_inner_texts() == ["Contract Type: Rental"]
    page.click(".grid-active-filter a.grid-clear")
    page.wait_for_url(re.compile(r"/contracts\?tab=all$"))
    assert page.locator(".grid-active-filter").count() == 0

    # each grid's example speaks of its own columns
    page.goto(f"{live_server}/customers")
    example = page.get_attribute("input[name=filter]", "placeholder")
    keys = set(re.findall(r"\b([a-z]+(?:_[a-z]+)*) (?:=|>|<|>=|contains)", example))
    assert keys and keys <= {
        "account_no",
        "customer_name",
        "site_name",
        "main_salesman",
        "tel",
        "status",
        "active_contracts",
        "expiring_contracts",
    }
    assert "months_remaining" not in example


def test_create_filter_adds_a_group_with_and_or_without_typing(live_server, browser_page) -> None:
    page = browser_page
    sign_in_browser(page, live_server, DEMO_ADMIN_LOGIN)
    page.goto(f"{live_server}/contracts?tab=all&page_size=200")

    def add(column: str, op: str, value: str, join: str | None = None, target: str | None = None) -> None:
        page.locator(".grid-builder").evaluate("d => d.open = true")
        if join:
            page.select_option("select[name=fb_join]", join)
        if target:
            page.select_option("select[name=fb_target]", target)
        page.select_option("select[name=fb_column]", column)
        page.select_option("select[name=fb_op]", op)
        page.fill("input[name=fb_value]", value)
        with page.expect_navigation():
            page.click(".grid-builder-add button[type=submit]")

    add("status", "=", "Active")
    add("contract_type", "=", "Rental", join="AND", target="filter")
    add("contract_type", "=", "Service", join="OR", target="last")
    chips = page.locator(".grid-active-filter .grid-cond code").all_inner_texts()
    assert chips == ['Status = "Active"', '(Contract Type = "Rental" OR Contract Type = "Service")']
    assert set(column_texts(page, "Status")) == {"Active"}
    assert set(column_texts(page, "Contract Type")) <= {"Rental", "Service"}
    assert len(set(column_texts(page, "Contract Type"))) == 2
