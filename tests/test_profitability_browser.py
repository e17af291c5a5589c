"""The profitability columns of the contract grids in a real browser (headless Debian chromium):
offered unticked by the column chooser, then sorted by a header click and filtered from the
Filter Row like any other column."""

from __future__ import annotations

import re
from decimal import Decimal

from sqlalchemy import select

from bpo2_bridge.cache.schema import cache_table
from bpo2_bridge.demo.content import DEMO_ADMIN_LOGIN

from .helpers import sign_in_browser
from .test_browser_walk import column_texts
from .test_grids_browser import _headers

EMPTY = "—"


def _percent(text: str) -> Decimal:
    return Decimal(text.removesuffix(" %"))


def test_chooser_shows_the_columns_then_margin_sorts_and_filters(
    demo_bridge, live_server, browser_page
) -> None:
    page = browser_page
    sign_in_browser(page, live_server, DEMO_ADMIN_LOGIN)
    page.goto(f"{live_server}/contracts?tab=all&page_size=200")
    assert "Margin 12m %" not in _headers(page)
    page.click(".grid-columns summary")
    for key in ("revenue_12m", "margin_12m", "volume_trend"):
        box = page.locator(f".grid-columns input[value={key}]")
        assert box.is_visible() and not box.is_checked(), key
    page.check(".grid-columns input[value=margin_12m]")
    page.check(".grid-columns input[value=volume_trend]")
    page.click(".grid-columns button[type=submit]")
    page.wait_for_url(re.compile(r"cols="))
    headers = _headers(page)
    assert "Margin 12m %" in headers and "Volume Trend %" in headers and "Contract No" in headers

    page.click("th a:text('Margin 12m %')")
    page.wait_for_url(re.compile(r"sort=margin_12m"))
    texts = column_texts(page, "Margin 12m %")
    given = [_percent(t) for t in texts if t != EMPTY]
    assert given and given == sorted(given)
    assert texts == [*(t for t in texts if t != EMPTY), *(t for t in texts if t == EMPTY)]

    table = cache_table("contract_row")
    with demo_bridge.cache.connect() as conn:
        margins = sorted(m for (m,) in conn.execute(select(table.c.margin_12m)) if m is not None)
    limit = margins[len(margins) // 2]
    page.fill("input[name=f_margin_12m]", f"<{limit}")
    page.press("input[name=f_margin_12m]", "Enter")
    page.wait_for_url(re.compile(r"f_margin_12m="))
    shown = [_percent(t) for t in column_texts(page, "Margin 12m %")]
    assert shown == sorted(m for m in margins if m < limit)
    # the chosen columns stay through the filter
    assert "Volume Trend %" in _headers(page)
