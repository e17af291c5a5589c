"""Grids fit a 1280-pixel laptop screen in a real browser: no sideways scrolling to reach the last
column (Window, or the Case Information buttons), and the Filter Row's Filter button in view, inside
the last cell (under that column's filter input, not beside it)."""

from __future__ import annotations

import pytest

from bpo2_bridge.demo.content import DEMO_ADMIN_LOGIN, DEMO_SALESMAN_LOGIN
from bpo2_bridge.users import DEMO_PASSWORD

from .test_browser_walk import walk_customer

# (login, path) of the widest grids: every contract with its customer, every customer, and a
# customer's files with the Case Information buttons in the last column
WIDE_GRIDS = [
    (DEMO_ADMIN_LOGIN, "/contracts?tab=all"),
    (DEMO_ADMIN_LOGIN, "/contracts?tab=expiring&page_size=100"),
    (DEMO_ADMIN_LOGIN, "/customers?page_size=100"),
    (DEMO_SALESMAN_LOGIN, "/customers/{account_no}/files"),
    (DEMO_SALESMAN_LOGIN, "/customers/{account_no}/contracts?tab=all"),
]


def sign_in_as(page, base: str, login: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(base + "/login")
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("form.signin button[type=submit]")
    page.wait_for_url(base + "/")


@pytest.mark.parametrize("login, path", WIDE_GRIDS)
def test_wide_grid_fits_a_laptop_screen(demo_bridge, live_server, browser_page, login, path) -> None:
    page = browser_page
    assert page.viewport_size["width"] == 1280
    sign_in_as(page, live_server, login)
    page.goto(live_server + path.format(account_no=walk_customer(demo_bridge)["account_no"]))
    assert page.locator("table.grid-table tbody tr").count() > 1

    scroll = page.locator(".grid-scroll").first
    widths = scroll.evaluate("e => [e.scrollWidth, e.clientWidth]")
    assert widths[0] <= widths[1], f"the grid is {widths[0] - widths[1]} px wider than the page"

    button = page.locator(".grid-filter-row .grid-filter-go").bounding_box()
    cell = page.locator(".grid-filter-row td").last.bounding_box()
    assert button is not None and cell is not None
    assert button["x"] + button["width"] <= 1280, "the Filter button is off the screen"
    assert cell["x"] <= button["x"] and button["x"] + button["width"] <= cell["x"] + cell["width"], (
        "the Filter button sticks out of its cell"
    )
