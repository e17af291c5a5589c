"""In a real browser: My settings turns the weekly digest off and on again; My calendar shows
a new calendar link once, and a new link makes the old one stop working."""

from __future__ import annotations

from pathlib import Path

from bpo2_bridge.store import user_options

from .helpers import sign_in_browser

SALESMAN = "sales1"


def test_my_settings_opt_out_in_browser(
    make_app, copied_demo, serve, browser_page, artifacts_dir: Path
) -> None:
    bridge = copied_demo()
    base = serve(make_app(bridge))
    page = browser_page
    sign_in_browser(page, base, SALESMAN)
    page.get_by_role("link", name="My settings").click()
    page.wait_for_url(f"{base}/me/settings")
    box = page.locator("#digest")
    assert box.is_checked()
    box.uncheck()
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(f"{base}/me/settings")
    assert "will not receive the weekly expiry digest" in page.locator(".flashes").inner_text()
    assert not page.locator("#digest").is_checked()
    assert user_options.digest_opted_out(bridge.store, SALESMAN)
    page.screenshot(path=str(artifacts_dir / "my-settings.png"), full_page=True)
    # and on again
    page.locator("#digest").check()
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(f"{base}/me/settings")
    assert page.locator("#digest").is_checked()
    assert not user_options.digest_opted_out(bridge.store, SALESMAN)
    # the preview the page links to
    page.get_by_role("link", name="See what it says today").click()
    page.wait_for_url(f"{base}/digest")
    assert page.locator("#digest-expired h2").inner_text().startswith("Expired since")


def test_my_calendar_link_shown_and_replaced_in_browser(
    make_app, copied_demo, serve, browser_page, artifacts_dir: Path
) -> None:
    bridge = copied_demo()
    base = serve(make_app(bridge))
    page = browser_page
    sign_in_browser(page, base, SALESMAN)
    page.get_by_role("link", name="My calendar").click()
    page.wait_for_url(f"{base}/me/calendar")
    assert "You have no calendar link" in page.locator("#feed-state").inner_text()
    page.locator("#new-link").click()
    old = page.locator("#feed-url").input_value()
    assert old.startswith(f"{base}/calendar/") and old.endswith(".ics")
    page.screenshot(path=str(artifacts_dir / "my-calendar.png"), full_page=True)
    feed = page.context.request.get(old)
    assert feed.status == 200 and feed.body().startswith(b"BEGIN:VCALENDAR")
    # shown once: back on the page it is not there any more
    page.goto(f"{base}/me/calendar")
    assert page.locator("#feed-url").count() == 0
    assert "You have a calendar link" in page.locator("#feed-state").inner_text()
    page.locator("#new-link").click()
    new = page.locator("#feed-url").input_value()
    assert new != old
    assert page.context.request.get(old).status == 404
    assert page.context.request.get(new).status == 200
    page.goto(f"{base}/me/calendar")
    page.locator("#revoke-link").click()
    page.wait_for_url(f"{base}/me/calendar")
    assert "You have no calendar link" in page.locator("#feed-state").inner_text()
    assert page.context.request.get(new).status == 404
