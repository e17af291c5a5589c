"""A keyboard-only walk (Tab, Enter) reaches every action on Home, a grid, the report and the
files, in a real browser (headless Debian chromium)."""

from __future__ import annotations

import re

from bpo2_bridge.demo.content import BENCH_CONTRACT_NO, DEMO_ADMIN_LOGIN, DEMO_SALESMAN_LOGIN

from .helpers import sign_in_browser
from .test_browser_walk import walk_customer


def _tab_stops(page, limit: int = 400) -> list[str]:  # type: ignore[no-untyped-def]
    """Marks of every element Tab reaches from the top of the page, once round."""
    page.locator("body").focus()
    page.evaluate("document.activeElement && document.activeElement.blur()")
    seen: list[str] = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        mark = page.evaluate(
            "(() => { const e = document.activeElement; if (!e || e === document.body) return '';"
            " e.dataset.kbd = '1'; return e.tagName + '|' + (e.className || '') + '|' + (e.getAttribute('href') || '')"
            " + '|' + (e.getAttribute('name') || '') + '|' + (e.textContent || '').trim().slice(0, 40); })()"
        )
        if not mark or (seen and mark == seen[0]):
            break
        seen.append(mark)
    return seen


def _reached(stops: list[str], pattern: str) -> bool:
    return any(re.search(pattern, stop) for stop in stops)


def test_keyboard_reaches_every_action(demo_bridge, live_server, browser_page) -> None:
    page = browser_page
    sign_in_browser(page, live_server, DEMO_SALESMAN_LOGIN)
    stops = _tab_stops(page)
    for pattern in (
        r"tile-customers",
        r"tile-expiring",
        r"tile-cases",
        r"tile-activities",
        r"\|tab",
        r"\|action\|",
        r"\|customer\|/customers/ACC",
        r"\|case\|/cases/CS",
        r"show all I may see",
        r"Open in Activities",
    ):
        assert _reached(stops, pattern), f"Home: Tab never reaches {pattern}"

    account = walk_customer(demo_bridge)["account_no"]
    page.goto(f"{live_server}/customers/{account}/contracts?tab=all")
    stops = _tab_stops(page)
    for pattern in (
        r"\|search\||\|q\|",
        r"sort=",
        r"\|f_contract_no\|",
        r"grid-filter-go",
        r"format=csv",
        r"format=xlsx",
        r"format=json",
        r"button\|refresh|refresh",
        r"/report\?",
        r"\|page_size\|",
        r"data-tab|\|tab",
        r"SUMMARY\|",
    ):
        assert _reached(stops, pattern), f"grid: Tab never reaches {pattern}"

    page.goto(f"{live_server}/customers/{account}/files")
    stops = _tab_stops(page)
    assert _reached(stops, r"/files/\d+"), "files: a file's download"
    assert _reached(stops, r"/cases/CS"), "files: Case Information"
    assert _reached(stops, r"Back to Previous Page|back"), "files: Back"

    page.context.clear_cookies()
    sign_in_browser(page, live_server, DEMO_ADMIN_LOGIN)
    page.goto(f"{live_server}/contracts/{BENCH_CONTRACT_NO}/report")
    stops = _tab_stops(page)
    for pattern in (r"download", r"\|button print", r"\|button email", r"customer-icon", r"\|button back"):
        assert _reached(stops, pattern), f"report: Tab never reaches {pattern}"
    # Enter on Email opens the panel with the cursor in To
    page.locator("a.button.email").focus()
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "email-to"
