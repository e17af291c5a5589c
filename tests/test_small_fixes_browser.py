"""Small things a user notices, each in a real browser (headless Debian chromium)."""

from __future__ import annotations

import datetime as dt
import re

from pypdf import PdfReader
from sqlalchemy import insert

from bpo2_bridge.demo.content import BENCH_CONTRACT_NO, DEMO_ADMIN_LOGIN, DEMO_SALESMAN_LOGIN
from bpo2_bridge.store.database import email_log

from .helpers import sign_in_browser
from .test_browser_walk import cache_rows, column_texts, walk_customer


def _lightness(css_color: str) -> float:
    red, green, blue = (int(v) for v in re.findall(r"\d+", css_color)[:3])
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def test_a_greyed_rows_account_no_is_as_grey_as_the_rest(live_server, browser_page) -> None:
    page = browser_page
    sign_in_browser(page, live_server, DEMO_SALESMAN_LOGIN)
    page.goto(live_server + "/?tab=recent&who=all")
    row = page.locator("#panel-recent tr.activity.other").first
    account = row.locator(".account-no").evaluate("e => getComputedStyle(e).color")
    subject = row.locator("td").nth(2).evaluate("e => getComputedStyle(e).color")
    name = row.locator("a.customer").evaluate("e => getComputedStyle(e).color")
    assert account == subject == name
    # in the user's own rows the account no stays quieter than the name
    own = page.locator("#panel-recent tr.activity:not(.other)").first
    quiet = own.locator(".account-no").evaluate("e => getComputedStyle(e).color")
    ink = own.locator("td").nth(2).evaluate("e => getComputedStyle(e).color")
    assert _lightness(quiet) > _lightness(ink)


def test_sales_history_leaves_out_the_month_not_yet_billed(demo_bridge, live_server, browser_page) -> None:
    page = browser_page
    sign_in_browser(page, live_server, DEMO_SALESMAN_LOGIN)
    page.goto(f"{live_server}/customers/{walk_customer(demo_bridge)['account_no']}")
    chart = page.locator(".history svg").inner_html()
    assert "Oct 26" in chart and "Nov 26" not in chart and "Nov 25" in chart  # today: 2026-11-22
    page.click(".history summary")
    months = page.locator(".history tbody td:first-child").all_inner_texts()
    assert months[0] == "November 2025" and months[-1] == "October 2026" and len(months) == 12


def test_file_sizes_read_as_people_read_them(demo_bridge, live_server, browser_page) -> None:
    page = browser_page
    sign_in_browser(page, live_server, DEMO_SALESMAN_LOGIN)
    page.goto(f"{live_server}/customers/{walk_customer(demo_bridge)['account_no']}/files")
    sizes = column_texts(page, "Size")
    assert sizes and all(re.fullmatch(r"\d+ B|\d+\.\d (KB|MB|GB)", s) for s in sizes), sizes
    # the JSON keeps the bytes
    raw = page.request.get(page.url + "?format=json").json()["rows"]
    assert all(isinstance(r["file_size"], int) for r in raw)


def test_a_bad_filter_names_the_column_not_the_url_parameter(demo_bridge, live_server, browser_page) -> None:
    page = browser_page
    sign_in_browser(page, live_server, DEMO_SALESMAN_LOGIN)
    account = walk_customer(demo_bridge)["account_no"]
    response = page.goto(f"{live_server}/customers/{account}/contracts?tab=all&f_months_remaining=soon")
    assert response is not None and response.status == 400
    message = page.locator(".grid-error").inner_text()
    assert "Months Remaining filter" in message and "f_months_remaining" not in message
    page.click("text=Show the list without the Months Remaining filter")
    page.wait_for_url(re.compile(r"/contracts\?tab=all$"))


def test_a_huge_page_number_shows_the_last_page(live_server, browser_page) -> None:
    page = browser_page
    sign_in_browser(page, live_server, DEMO_ADMIN_LOGIN)
    response = page.goto(f"{live_server}/contracts?tab=all&page=1000000000000")
    assert response is not None and response.status == 200
    reference = page.locator(".grid-reference").inner_text()
    last = re.match(r"Page ([\d,]+) of ([\d,]+)", reference)
    assert last and last.group(1) == last.group(2)
    assert page.locator("table.grid-table tbody tr:not(.grid-empty)").count() > 0


def test_the_contracts_tile_note_adds_up_to_its_count(demo_bridge, live_server, browser_page) -> None:
    page = browser_page
    sign_in_browser(page, live_server, DEMO_ADMIN_LOGIN)
    # customers with contracts without an expiry date or cancelled ones: the note must count those too
    accounts = [
        r["account_no"]
        for r in cache_rows(
            demo_bridge,
            "SELECT DISTINCT c.account_no FROM customer c JOIN contract k ON k.customer_id = c.customer_id "
            "WHERE k.expiry_date IS NULL OR k.status = 'Cancelled' ORDER BY 1 LIMIT 4",
        )
    ]
    assert accounts
    for account in accounts:
        page.goto(f"{live_server}/customers/{account}")
        total = int(page.locator("a.tile-contracts .tile-value").inner_text().replace(",", ""))
        note = page.locator("a.tile-contracts .contracts-split").inner_text()
        parts = [int(n.replace(",", "")) for n in re.findall(r"([\d,]+) [a-z/ -]+", note)]
        assert sum(parts) == total, (account, note, total)


def test_ops_read_the_email_log_as_a_grid(make_app, copied_demo, serve, browser_page) -> None:
    bridge = copied_demo()
    sent = dt.datetime(2026, 11, 21, 10, 30)
    with bridge.store.begin() as conn:  # what the mailer writes for each attempt
        conn.execute(
            insert(email_log),
            [
                dict(
                    sent_at=sent,
                    user_login="sales1",
                    contract_no=BENCH_CONTRACT_NO,
                    to_addr="a@example.com",
                    cc_addr=None,
                    subject="Report",
                    outcome="sent",
                    error=None,
                ),
                dict(
                    sent_at=sent + dt.timedelta(minutes=5),
                    user_login="sales2",
                    contract_no=BENCH_CONTRACT_NO,
                    to_addr="b@example.com",
                    cc_addr="c@example.com",
                    subject="Report",
                    outcome="failed",
                    error="SMTP server unreachable",
                ),
            ],
        )
    base = serve(make_app(bridge))
    page = browser_page
    sign_in_browser(page, base, "ops")
    page.goto(base + "/status")
    page.click("a.email-log")
    page.wait_for_url(re.compile(r"/status/email-log"))
    assert column_texts(page, "To") == ["b@example.com", "a@example.com"]  # newest first
    assert column_texts(page, "Error") == ["SMTP server unreachable", "—"]
    page.fill("input[name=f_outcome]", "failed")
    page.press("input[name=f_outcome]", "Enter")
    page.wait_for_url(re.compile(r"f_outcome=failed"))
    assert column_texts(page, "User") == ["sales2"]
    csv = page.request.get(base + "/status/email-log?format=csv").text()
    assert "SMTP server unreachable" in csv

    page.context.clear_cookies()
    sign_in_browser(page, base, DEMO_SALESMAN_LOGIN)
    response = page.goto(base + "/status/email-log")
    assert response is not None and response.status == 403


MONTH_ROW = re.compile(r"[A-Z][a-z]{2} \d{4} [\d ]+\.\d\d ")


def _rows_after_header(page_text: str) -> list[int]:
    """For each header of the month-by-month table on a PDF page, how many of its rows follow it
    on that page."""
    lines = page_text.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("Month Revenue")]
    return [sum(1 for line in lines[i + 1 :] if MONTH_ROW.match(line)) for i in starts]


def test_the_pdf_never_leaves_a_table_header_at_the_foot_of_a_page(
    demo_bridge, live_server, browser_page
) -> None:
    page = browser_page
    sign_in_browser(page, live_server, DEMO_ADMIN_LOGIN)
    # the contracts with the most machines: long tables that cross pages
    numbers = [
        r["contract_no"]
        for r in cache_rows(
            demo_bridge, "SELECT contract_no FROM contract_row ORDER BY machines DESC, contract_no LIMIT 4"
        )
    ]
    for number in numbers:
        page.goto(f"{live_server}/contracts/{number}/report")
        with page.expect_download() as info:
            page.click("a.button.download")
        reader = PdfReader(info.value.path())
        assert len(reader.pages) > 1
        headers = 0
        for i, pdf_page in enumerate(reader.pages):
            following = _rows_after_header(pdf_page.extract_text())
            assert all(n >= 3 for n in following), (number, i + 1, following)
            headers += len(following)
        assert headers >= 1


def test_refresh_updates_the_freshness_line_and_status_lists_its_changes(
    make_app, copied_demo, change_expiry_in_source, serve, browser_page
) -> None:
    bridge = copied_demo()
    customer = walk_customer(bridge)
    number = cache_rows(
        bridge,
        "SELECT contract_no FROM contract_row WHERE customer_id = :c AND expiry_date IS NOT NULL ORDER BY 1 LIMIT 1",
        c=customer["customer_id"],
    )[0]["contract_no"]
    base = serve(make_app(bridge))
    page = browser_page
    sign_in_browser(page, base, DEMO_SALESMAN_LOGIN)
    page.goto(f"{base}/customers/{customer['account_no']}/contracts?tab=all")
    change_expiry_in_source(bridge, number, dt.date(2031, 3, 31))
    page.click("button.refresh")
    page.wait_for_selector(".flash")
    assert f"{number}: Expiry Date" in page.locator(".flash").inner_text()
    assert "→ 2031-03-31" in page.locator(".flash").inner_text()
    # the freshness line says this customer's data is newer than the last sync
    line = page.locator(".freshness").inner_text()
    assert re.search(rf"{re.escape(customer['customer_name'])} refreshed from BPO2 at \d\d:\d\d", line), line

    page.context.clear_cookies()
    sign_in_browser(page, base, "ops")
    page.goto(base + "/status")
    run = page.locator("table.syncs tbody tr", has_text=customer["account_no"]).first
    assert "customer" in run.inner_text()
    assert "contract: 1 changed" in run.locator("td.changes").inner_text()
