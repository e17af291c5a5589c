"""Home you can act on, and the Cases and Activities lists behind its tiles, in a real browser
(headless Debian chromium): names and case numbers are links, the action icons are there for the
keyboard, every tile opens its list, the lists count every row, and a salesman sees only his."""

from __future__ import annotations

import datetime as dt
import re

from bpo2_bridge.demo.content import DEMO_ADMIN_LOGIN, DEMO_SALESMAN_LOGIN
from bpo2_bridge.sync.full import full_sync

from .helpers import sign_in_browser
from .test_browser_walk import TODAY, cache_rows, walk_customer


def _reference_total(page) -> int:  # type: ignore[no-untyped-def]
    text = page.locator(".grid-reference").inner_text()
    return int(re.search(r"\(([\d,]+) rows?\)", text).group(1).replace(",", ""))


def _tile_value(page, name: str) -> int:  # type: ignore[no-untyped-def]
    return int(page.locator(f"a.tile-{name} .tile-value").inner_text().replace(",", ""))


def _employee_id(bridge, login: str) -> int:  # type: ignore[no-untyped-def]
    return cache_rows(bridge, "SELECT employee_id FROM employee WHERE login_name = :l", l=login)[0][
        "employee_id"
    ]


def test_home_rows_link_and_their_icons_are_reachable_by_keyboard(live_server, browser_page) -> None:
    page = browser_page
    sign_in_browser(page, live_server, DEMO_SALESMAN_LOGIN)
    row = page.locator("#panel-today tr.activity:not(.other)").first
    name = row.locator("a.customer")
    assert re.search(r"/customers/ACC\d+", name.get_attribute("href"))
    case = page.locator("#panel-today a.case").first
    assert re.search(r"/cases/CS\d+", case.get_attribute("href"))
    icon = row.locator("a.action[title='View customer']")
    # there without hovering, not hidden from the keyboard
    assert icon.is_visible()
    assert icon.evaluate("e => getComputedStyle(e).visibility") == "visible"

    page.locator("body").focus()
    reached = False
    for _ in range(60):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.matches('#panel-today a.action')"):
            reached = True
            break
    assert reached, "Tab never reaches an action icon"
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/(customers/ACC|cases/CS)"))

    page.goto(live_server + "/")
    with page.expect_navigation():
        name.click()
    assert "/customers/ACC" in page.url


def test_every_tile_opens_a_list_that_counts_what_the_tile_says(
    demo_bridge, live_server, browser_page
) -> None:
    page = browser_page
    sign_in_browser(page, live_server, DEMO_SALESMAN_LOGIN)
    tiles = page.locator(".tiles > *")
    assert tiles.count() == 5
    assert all(t == "a" for t in tiles.evaluate_all("els => els.map(e => e.tagName.toLowerCase())"))
    for name, path in (("cases", r"/cases\?tab=open"), ("activities", r"/activities\?tab=open")):
        page.goto(live_server + "/")
        value = _tile_value(page, name)
        page.click(f"a.tile-{name}")
        page.wait_for_url(re.compile(path))
        assert value > 0 and _reference_total(page) == value, name
        assert page.locator("a.tab.active").get_attribute("data-tab") == "open"
    # Renewals to review: the renewals with any flag
    page.goto(live_server + "/")
    value = _tile_value(page, "renewals")
    page.click("a.tile-renewals")
    page.wait_for_url(re.compile(r"/renewals\?filter="))
    assert value > 0 and _reference_total(page) == value

    customer = walk_customer(demo_bridge)
    dashboard = f"{live_server}/customers/{customer['account_no']}"
    for name, path in (("cases", "/cases?"), ("activities", "/activities?")):
        page.goto(dashboard)
        value = _tile_value(page, name)
        page.click(f"a.tile-{name}")
        page.wait_for_url(re.compile(re.escape(f"/customers/{customer['account_no']}{path}")))
        assert _reference_total(page) == value, name
        assert customer["customer_name"] in page.locator("h1").inner_text()
        # Back returns to the dashboard
        page.click(".actions a.back")
        page.wait_for_url(re.compile(rf"/customers/{customer['account_no']}(\?|$)"))


def test_an_administrator_sees_no_greyed_rows_and_a_salesman_only_his_customers(
    demo_bridge, live_server, browser_page, _browser
) -> None:
    page = browser_page
    sign_in_browser(page, live_server, DEMO_ADMIN_LOGIN)
    for url in ("/?tab=today&who=all", "/?tab=recent&who=all"):
        page.goto(live_server + url)
        assert page.locator("tr.activity").count() > 0
        assert page.locator("tr.activity.other").count() == 0, url
        assert (
            page.locator("tr.activity a.action[title='View customer']").count()
            == page.locator("tr.activity").count()
        )
    page.goto(live_server + "/activities?tab=all&who=all&page_size=200")
    every = cache_rows(demo_bridge, "SELECT COUNT(*) AS n FROM activity")[0]["n"]
    assert _reference_total(page) == every
    assert page.locator("td.other").count() == 0

    context = _browser.new_context(viewport={"width": 1280, "height": 900})
    salesman = context.new_page()
    try:
        sign_in_browser(salesman, live_server, DEMO_SALESMAN_LOGIN)
        me = _employee_id(demo_bridge, DEMO_SALESMAN_LOGIN)
        mine = cache_rows(
            demo_bridge,
            "SELECT a.activity_id, a.salesman_id, c.account_no FROM activity a "
            "JOIN customer c ON c.customer_id = a.customer_id "
            "WHERE a.customer_id IN (SELECT customer_id FROM customer_salesman WHERE employee_id = :me)",
            me=me,
        )
        salesman.goto(live_server + "/activities?tab=all&who=all&page_size=200")
        assert _reference_total(salesman) == len(mine) < every
        shown = {
            t.strip() for t in salesman.locator("table.grid-table tbody td:nth-child(6)").all_inner_texts()
        }
        assert shown == {r["account_no"] for r in mine}
        greyed_rows = salesman.locator("table.grid-table tbody tr:has(td.other)").count()
        assert greyed_rows == sum(1 for r in mine if r["salesman_id"] not in (None, me)) > 0
        foreign = cache_rows(
            demo_bridge,
            "SELECT account_no FROM customer WHERE customer_id NOT IN "
            "(SELECT customer_id FROM customer_salesman WHERE employee_id = :me) ORDER BY 1 LIMIT 1",
            me=me,
        )[0]["account_no"]
        for path in (f"/customers/{foreign}/activities", f"/customers/{foreign}/cases"):
            response = salesman.goto(live_server + path)
            assert response is not None and response.status == 404, path
        salesman.goto(live_server + "/cases?tab=all&page_size=200")
        cases = cache_rows(
            demo_bridge,
            "SELECT COUNT(*) AS n FROM crm_case WHERE customer_id IN "
            "(SELECT customer_id FROM customer_salesman WHERE employee_id = :me)",
            me=me,
        )[0]["n"]
        assert _reference_total(salesman) == cases
    finally:
        context.close()


def test_recent_counts_every_activity_and_pages_them(
    make_app, copied_demo, write_source_rows, serve, browser_page
) -> None:
    """More than 200 activities changed lately: the badge and the list say how many, all reachable."""
    bridge = copied_demo()
    customer = walk_customer(bridge)
    me = _employee_id(bridge, DEMO_SALESMAN_LOGIN)
    changed = dt.datetime.combine(TODAY, dt.time(9)) - dt.timedelta(days=2)
    write_source_rows(
        bridge,
        "activity",
        *(
            dict(
                activity_id=900_000 + i,
                customer_id=customer["customer_id"],
                activity_type="Phone Call",
                subject=f"Follow-up call {i}",
                scheduled_for=changed,
                salesman_id=me,
                completed=True,
                completed_date=changed,
                modified_date=changed,
            )
            for i in range(260)
        ),
    )
    full_sync(bridge)
    since = dt.datetime.combine(TODAY, dt.time()) - dt.timedelta(days=14)
    recent = cache_rows(
        bridge,
        "SELECT COUNT(*) AS n FROM activity WHERE salesman_id = :me AND modified_date >= :since",
        me=me,
        since=since.isoformat(sep=" "),
    )[0]["n"]
    assert recent > 260

    base = serve(make_app(bridge))
    page = browser_page
    sign_in_browser(page, base, DEMO_SALESMAN_LOGIN)
    page.goto(base + "/?tab=recent")
    badge = page.locator("a[data-tab=recent] .count").inner_text()
    assert badge == f"{recent:,}"
    page.click(f"#panel-recent .show-all a:has-text('Show all {recent:,}')")
    page.wait_for_url(re.compile(r"/activities\?tab=recent"))
    assert _reference_total(page) == recent
    page.click("a[rel=last]")
    page.wait_for_url(re.compile(r"page="))
    rows = page.locator("table.grid-table tbody tr").count()
    pages = -(-recent // 20)
    assert page.locator(".grid-reference").inner_text().startswith(f"Page {pages} of {pages}")
    assert rows == recent - (pages - 1) * 20
