"""A salesman walks the manual's paths in a real browser (headless chromium) on a live server.

Screenshots of every screen go to artifacts/screenshots/.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from sqlalchemy import MetaData, create_engine, select, text

from bpo2_bridge.demo.content import DEMO_SALESMAN_LOGIN
from bpo2_bridge.queries.windows import add_months
from bpo2_bridge.source.mapping import physical_table

from .helpers import sign_in_browser

TODAY = dt.date(2026, 11, 22)
NOT_YOURS = "Sorry, this is not one of your open cases and you cannot make changes."


def cache_rows(bridge, sql: str, **params):  # type: ignore[no-untyped-def]
    with bridge.cache.connect() as conn:
        return [dict(r) for r in conn.execute(text(sql), params).mappings()]


def walk_customer(bridge) -> dict:  # type: ignore[no-untyped-def,type-arg]
    """The salesman's customer with expired and expiring contracts, an open own case and a closed
    case with files: every step of the manual has something to show."""
    found = cache_rows(
        bridge,
        """
        SELECT c.customer_id, c.account_no, c.customer_name FROM customer c
        JOIN customer_salesman cs ON cs.customer_id = c.customer_id
        JOIN employee e ON e.employee_id = cs.employee_id AND e.login_name = :login
        WHERE EXISTS (SELECT 1 FROM contract k WHERE k.customer_id = c.customer_id
                        AND k.expiry_date < :today AND k.status != 'Cancelled')
          AND EXISTS (SELECT 1 FROM contract k WHERE k.customer_id = c.customer_id
                        AND k.expiry_date >= :today AND k.expiry_date <= :end AND k.status != 'Cancelled')
          AND EXISTS (SELECT 1 FROM case_attachment a JOIN crm_case cc ON cc.case_id = a.case_id
                        WHERE a.customer_id = c.customer_id AND cc.status = 'Open'
                          AND cc.salesman_id = e.employee_id)
          AND EXISTS (SELECT 1 FROM case_attachment a JOIN crm_case cc ON cc.case_id = a.case_id
                        WHERE a.customer_id = c.customer_id AND cc.status != 'Open')
        ORDER BY c.account_no
        """,
        login=DEMO_SALESMAN_LOGIN,
        today=TODAY.isoformat(),
        end=add_months(TODAY, 6).isoformat(),
    )
    assert found, "the demo should have a customer for the whole walk"
    return found[0]


def sign_in(page, base: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(base + "/")
    assert "/login" in page.url
    sign_in_browser(page, base, DEMO_SALESMAN_LOGIN)


def shot(page, folder: Path, name: str) -> None:  # type: ignore[no-untyped-def]
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def column_texts(page, label: str) -> list[str]:  # type: ignore[no-untyped-def]
    # a header's own text, without its values drop-down
    texts = page.locator("table.grid-table thead tr:first-child th").evaluate_all(
        "ths => ths.map(th => { const c = th.cloneNode(true);"
        " c.querySelectorAll('details').forEach(d => d.remove()); return c.textContent; })"
    )
    headers = [h.strip().rstrip("▲▼ ").strip() for h in texts]
    index = headers.index(label)
    cells = page.locator(f"table.grid-table tbody tr:not(.grid-empty) td:nth-child({index + 1})")
    return [t.strip() for t in cells.all_inner_texts()]


def test_customers_to_contracts_refresh_report_and_back(
    make_app, change_expiry_in_source, copied_demo, serve, browser_page, artifacts_dir
) -> None:
    bridge = copied_demo()
    base = serve(make_app(bridge))
    customer = walk_customer(bridge)
    page = browser_page
    sign_in(page, base)
    shot(page, artifacts_dir, "01_home")

    page.click("a.tile-customers")
    page.wait_for_url(re.compile(r"/customers"))
    shot(page, artifacts_dir, "02_customers")
    # Filter Text Box: a word of the customer's name
    word = customer["customer_name"].split()[0]
    page.fill("#grid-customers-q", word)
    page.press("#grid-customers-q", "Enter")
    page.wait_for_url(re.compile(r"q=" + re.escape(word)))
    names = column_texts(page, "Customer Name")
    assert customer["customer_name"] in names and all(word.lower() in n.lower() for n in names)
    # Filter Row: the account number cell
    page.fill("input[name=f_account_no]", customer["account_no"])
    page.press("input[name=f_account_no]", "Enter")
    page.wait_for_url(re.compile(r"f_account_no=" + customer["account_no"]))
    assert column_texts(page, "Account No") == [customer["account_no"]]
    filtered_url = page.url
    shot(page, artifacts_dir, "03_customers_filtered")

    page.click("td.view-icon a")
    page.wait_for_url(re.compile(rf"/customers/{customer['account_no']}\?"))
    assert page.locator("h1").inner_text() == customer["customer_name"]
    assert page.locator(".history svg").count() == 1
    shot(page, artifacts_dir, "04_customer_dashboard")

    page.click("a.tile-contracts")
    page.wait_for_url(re.compile(r"/contracts\?tab=all"))
    assert page.locator("h1").inner_text() == f"Contracts for {customer['customer_name']}"
    shot(page, artifacts_dir, "05_contracts_all")

    page.click("a[data-tab=expired]")
    page.wait_for_url(re.compile(r"tab=expired"))
    months = [int(m) for m in column_texts(page, "Months Remaining")]
    assert months and all(m < 0 for m in months)
    assert page.locator("table.grid-table td.negative").count() == len(months)
    shot(page, artifacts_dir, "06_contracts_expired")

    page.click("a[data-tab=expiring]")
    page.wait_for_url(re.compile(r"tab=expiring"))
    expiries = [dt.date.fromisoformat(d) for d in column_texts(page, "Expiry Date")]
    assert expiries and all(TODAY <= d <= add_months(TODAY, 6) for d in expiries)
    shot(page, artifacts_dir, "07_contracts_expiring")

    # Refresh after a change made in BPO2: the expiring contract becomes expired
    target = column_texts(page, "Contract No")[0]
    old_expiry = column_texts(page, "Expiry Date")[0]
    change_expiry_in_source(bridge, target, dt.date(2020, 1, 31))
    assert target in column_texts(page, "Contract No")
    page.click("button.refresh")
    page.wait_for_selector(".flash")
    # the contract named, and what changed in it
    assert f"Changed: {target}: Expiry Date {old_expiry} → 2020-01-31" in page.locator(".flash").inner_text()
    assert "tab=expiring" in page.url
    assert target not in column_texts(page, "Contract No")
    shot(page, artifacts_dir, "08_contracts_refreshed")
    page.click("a[data-tab=expired]")
    page.wait_for_url(re.compile(r"tab=expired"))
    row = page.locator("table.grid-table tbody tr", has_text=target)
    assert "2020-01-31" in row.inner_text()
    expired_url = page.url

    # Contract No -> the report -> Back returns to the same tab
    page.click(f"table.grid-table a:text-is('{target}')")
    page.wait_for_url(re.compile(rf"/contracts/{target}/report"))
    shot(page, artifacts_dir, "09_report")
    page.click("a.back")
    page.wait_for_url(expired_url)
    assert page.locator("a.tab.active").get_attribute("data-tab") == "expired"

    # Back from Contracts -> Dashboard -> Back -> the filtered Customers grid
    page.click(".actions a.back")
    page.wait_for_url(re.compile(rf"/customers/{customer['account_no']}\?"))
    page.click(".actions a.back")
    page.wait_for_url(filtered_url)

    page.click("a.page-icon")
    page.wait_for_url(base + "/")
    assert page.locator("h1").inner_text() == "Dashboard"


def test_files_download_and_case_information(demo_bridge, live_server, browser_page, artifacts_dir) -> None:
    customer = walk_customer(demo_bridge)
    page = browser_page
    sign_in(page, live_server)
    page.goto(f"{live_server}/customers/{customer['account_no']}")
    page.click("a.tile-files")
    page.wait_for_url(re.compile(r"/files"))
    assert page.locator("h1").inner_text() == f"Customer Files for {customer['customer_name']}"
    shot(page, artifacts_dir, "10_customer_files")

    # download: the bytes equal BPO2's (bytes column or file share)
    first_name = column_texts(page, "File Name")[0]
    with page.expect_download() as info:
        page.click(f"table.grid-table a:text-is('{first_name}')")
    download = info.value
    assert download.suggested_filename == first_name
    got = Path(download.path()).read_bytes()
    file_id = int(download.url.rsplit("/", 1)[1])
    em = demo_bridge.mapping["case_attachment"]
    table = physical_table(em, MetaData())
    engine = create_engine(f"sqlite:///{demo_bridge.settings.demo_source_path}")
    with engine.connect() as conn:
        source = conn.execute(
            select(table.c.content, table.c.file_path).where(table.c.file_id == file_id)
        ).one()
    engine.dispose()
    expected = (
        source.content
        if source.content is not None
        else (demo_bridge.settings.share_path / source.file_path).read_bytes()
    )
    assert got == expected

    files_url = page.url
    statuses = column_texts(page, "Case Status")
    buttons = page.locator("table.grid-table td.button-cell a")
    open_index = next(
        i
        for i, s in enumerate(statuses)
        if s == "Open"
        and cache_rows(
            demo_bridge,
            "SELECT 1 FROM crm_case cc JOIN employee e ON e.employee_id = cc.salesman_id "
            "WHERE cc.case_no = :n AND e.login_name = :l",
            n=column_texts(page, "Case No")[i],
            l=DEMO_SALESMAN_LOGIN,
        )
    )
    closed_index = next(i for i, s in enumerate(statuses) if s != "Open")
    buttons.nth(open_index).click()
    page.wait_for_url(re.compile(r"/cases/"))
    assert page.locator(".case-details").count() == 1
    assert NOT_YOURS not in page.content()
    shot(page, artifacts_dir, "11_case_open")
    page.click(".actions a.back")
    page.wait_for_url(files_url)
    page.locator("table.grid-table td.button-cell a").nth(closed_index).click()
    page.wait_for_url(re.compile(r"/cases/"))
    assert page.locator(".case-message").inner_text() == NOT_YOURS
    shot(page, artifacts_dir, "12_case_closed")
    page.click(".actions a.back")
    page.wait_for_url(files_url)


def test_today_tab_hover_brightens_icons_then_view_customer(live_server, browser_page, artifacts_dir) -> None:
    page = browser_page
    sign_in(page, live_server)
    row = page.locator("#panel-today tr.activity:not(.other)").first
    icon = row.locator("a.action[title='View customer']")
    assert icon.is_visible()  # there for the keyboard too, brighter on hover
    row.hover()
    assert icon.evaluate("e => getComputedStyle(e).opacity") == "1"
    shot(page, artifacts_dir, "13_home_today_hover")
    customer_cell = row.locator("td").nth(3).inner_text()
    icon.click()
    page.wait_for_url(re.compile(r"/customers/ACC"))
    assert page.locator("h1").inner_text() in customer_cell
    page.click(".actions a.back")
    page.wait_for_url(re.compile(r"/\?tab=today"))

    # Recent tab switches in place (script) and keeps the state in the URL
    page.click("a[data-tab=recent]")
    assert page.locator("#panel-recent").is_visible() and not page.locator("#panel-today").is_visible()
    assert "tab=recent" in page.url
    page.click("a[data-keep-tab]")
    page.wait_for_url(re.compile(r"who=all"))
    assert "tab=recent" in page.url
    others = page.locator("#panel-recent tr.activity.other")
    assert others.count() > 0
    others.first.hover()
    assert others.first.locator("a.action").count() == 0
    shot(page, artifacts_dir, "14_home_recent_all")


def test_pages_work_without_javascript(demo_bridge, live_server, _browser, artifacts_dir) -> None:
    context = _browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        sign_in(page, live_server)
        page.click("a[data-tab=recent]")
        page.wait_for_url(re.compile(r"tab=recent"))
        assert page.locator("#panel-recent").is_visible()
        page.goto(f"{live_server}/contracts?tab=expired")
        assert page.locator("a.tab.active").get_attribute("data-tab") == "expired"
        page.fill("input[name=f_months_remaining]", "<-12")
        page.press("input[name=f_months_remaining]", "Enter")
        page.wait_for_url(re.compile(r"f_months_remaining="))
        assert all(int(m) < -12 for m in column_texts(page, "Months Remaining"))
        assert "tab=expired" in page.url
        shot(page, artifacts_dir, "15_contracts_no_script")
    finally:
        context.close()
