"""Grids fit a laptop screen in a real browser: no sideways scrolling to reach the last column
(Window, or the Case Information buttons), even at 1024 pixels; one line per row, so a 20-row grid
fits 1366x768; and the Filter Row's Filter button in view, beside the search box rather than
under the last cell."""

from __future__ import annotations

import pytest

from bpo2_bridge.demo.content import DEMO_ADMIN_LOGIN, DEMO_SALESMAN_LOGIN

from .helpers import sign_in_browser
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


@pytest.mark.parametrize("login, path", WIDE_GRIDS)
def test_wide_grid_fits_a_laptop_screen(demo_bridge, live_server, browser_page, login, path) -> None:
    page = browser_page
    assert page.viewport_size["width"] == 1280
    sign_in_browser(page, live_server, login)
    page.goto(live_server + path.format(account_no=walk_customer(demo_bridge)["account_no"]))
    assert page.locator("table.grid-table tbody tr").count() > 1

    scroll = page.locator(".grid-scroll").first
    widths = scroll.evaluate("e => [e.scrollWidth, e.clientWidth]")
    assert widths[0] <= widths[1], f"the grid is {widths[0] - widths[1]} px wider than the page"

    button = page.locator(".grid-tools .grid-filter-go").bounding_box()
    assert button is not None
    assert button["x"] + button["width"] <= 1280, "the Filter button is off the screen"
    assert page.locator(".grid-filter-row .grid-filter-go").count() == 0, (
        "the Filter button sits under a cell"
    )


@pytest.mark.parametrize(
    "path", ["/contracts?tab=all", "/customers", "/activities?tab=all", "/cases?tab=all"]
)
def test_one_line_per_row_and_20_rows_fit_1366x768(live_server, browser_page, path) -> None:
    page = browser_page
    page.set_viewport_size({"width": 1366, "height": 768})
    sign_in_browser(page, live_server, DEMO_ADMIN_LOGIN)
    page.goto(live_server + path + "&page_size=20" if "?" in path else live_server + path + "?page_size=20")
    rows = page.locator("table.grid-table tbody tr")
    assert rows.count() == 20
    heights = rows.evaluate_all("rs => rs.map(r => r.getBoundingClientRect().height)")
    assert max(heights) - min(heights) < 1, f"rows wrap: {sorted(set(heights))}"
    table = page.locator("table.grid-table").bounding_box()
    assert table is not None and table["height"] <= 768, f"a 20-row grid is {table['height']} px tall"
    # a cut name keeps its whole text as the tooltip
    cut = page.locator("table.grid-table tbody td.col-text").evaluate_all(
        "tds => tds.filter(td => td.scrollWidth > td.clientWidth).map(td => [td.title, td.textContent])"
    )
    assert all(title == text for title, text in cut)


def test_the_contracts_grid_fits_1024_pixels(live_server, browser_page) -> None:
    page = browser_page
    page.set_viewport_size({"width": 1024, "height": 768})
    sign_in_browser(page, live_server, DEMO_ADMIN_LOGIN)
    page.goto(live_server + "/contracts?tab=all")
    widths = page.locator(".grid-scroll").first.evaluate("e => [e.scrollWidth, e.clientWidth]")
    assert widths[0] <= widths[1], f"the grid is {widths[0] - widths[1]} px wider than a 1024 px screen"
