"""The Renewals page in a real browser (headless Debian chromium), as a salesman reaches it from
Home: his contracts only, soonest expiry first, a horizon to choose, and each flag's count a
link that filters the list on it."""

from __future__ import annotations

import datetime as dt
import re

from bpo2_bridge.demo.content import DEMO_SALESMAN_LOGIN
from bpo2_bridge.renewals.desk import FLAGS as FLAGS_AND_LABELS

from .helpers import sign_in_browser
from .test_browser_walk import column_texts
from .test_grids_browser import _headers
from .test_renewals import FLAGS, _expected, renewal_bridge  # noqa: F401  (the fixture)


def test_a_salesman_reviews_his_renewals_from_home(make_app, renewal_bridge, serve, browser_page) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    base = serve(make_app(renewal_bridge))
    page = browser_page
    sign_in_browser(page, base, DEMO_SALESMAN_LOGIN)
    page.click("a.tile-renewals")
    page.wait_for_url(re.compile(r"/renewals\?filter="))
    # the tile opens the renewals with a flag
    labels = [label for _, label in FLAGS_AND_LABELS]
    marks = list(zip(*(column_texts(page, label) for label in labels)))
    assert marks and all("Yes" in row for row in marks)
    page.click("nav.mainnav a:text('Renewals')")
    page.wait_for_url(re.compile(r"/renewals$"))
    headers = _headers(page)
    assert {
        "Contract No",
        "Expiry Date",
        "Margin 12m %",
        "Volume Trend %",
        "Unprofitable",
        "Cost rising",
    } <= set(headers)
    window = renewal_bridge.settings.expiring_window_months
    assert page.locator(".renewal-horizon strong").inner_text() == f"{window} months"
    numbers = column_texts(page, "Contract No")
    assert set(numbers) == _expected(renewal_bridge, DEMO_SALESMAN_LOGIN, window)

    page.click(".renewal-horizon a[data-horizon='12']")
    page.wait_for_url(re.compile(r"horizon=12"))
    numbers = column_texts(page, "Contract No")
    mine = _expected(renewal_bridge, DEMO_SALESMAN_LOGIN, 12)
    assert set(numbers) == mine and len(mine) > 1
    expiries = [dt.date.fromisoformat(t) for t in column_texts(page, "Expiry Date")]
    assert expiries == sorted(expiries), "soonest first"

    # each flag's count links to the list filtered on it, and the count is its rows
    flagged = 0
    for flag in FLAGS:
        tile = page.locator(f"a[data-flag={flag}]")
        count = int(tile.locator(".tile-value").inner_text())
        flagged += count
        label = tile.locator(".tile-label").inner_text()
        tile.click()
        page.wait_for_url(re.compile(rf"f_{flag}=yes"))
        assert "horizon=12" in page.url
        flags = column_texts(page, label)
        assert len(flags) == count and all(f == "Yes" for f in flags), flag
        page.go_back()
        page.wait_for_url(re.compile(r"horizon=12$"))

    assert flagged, "the salesman has flagged renewals"

    # sorted by margin from its header, empty margins last
    page.click("th a:text('Margin 12m %')")
    page.wait_for_url(re.compile(r"sort=margin_12m"))
    texts = column_texts(page, "Margin 12m %")
    given = [float(t.removesuffix(" %")) for t in texts if t != "—"]
    assert given == sorted(given)
