"""The SQL checks page in a real browser: an ops user runs a check and an ad-hoc query; a plain
user is refused."""

from __future__ import annotations

from bpo2_bridge.demo.content import DEMO_SALESMAN_LOGIN

from .helpers import sign_in_browser


def test_ops_runs_a_check_and_a_query_in_the_browser(
    make_app, copied_demo, serve, browser_page, artifacts_dir, seed_expiry_before_start
) -> None:
    bridge = copied_demo()
    seed_expiry_before_start(bridge)
    base = serve(make_app(bridge))
    page = browser_page
    sign_in_browser(page, base, "ops")

    page.click("nav.mainnav a:has-text('SQL checks')")
    page.wait_for_url(f"{base}/checks")
    row = page.locator("#check-contract_expiry_before_start")
    assert "not run yet" in row.inner_text()
    row.locator("button:has-text('Run now')").click()
    page.wait_for_url(f"{base}/checks/contract_expiry_before_start")
    assert "FAIL" in page.locator(".last-result").inner_text()
    grid = page.locator("section.grid")
    assert "SEED-EXP-START" in grid.inner_text()
    with page.expect_download() as download:
        page.click("section.grid a:has-text('CSV')")
    assert "SEED-EXP-START" in download.value.path().read_text(encoding="utf-8-sig")
    page.screenshot(path=str(artifacts_dir / "checks-detail.png"), full_page=True)

    page.click("a:has-text('Back to SQL checks')")
    assert "FAIL" in page.locator("#check-contract_expiry_before_start .result").inner_text()
    page.screenshot(path=str(artifacts_dir / "checks-index.png"), full_page=True)
    table = bridge.mapping["contract"].table
    page.fill(
        "#query-sql",
        f'SELECT "{bridge.mapping["contract"].physical("contract_no")}" AS contract_no FROM "{table}"',
    )
    page.fill("input[name=max_rows]", "5")
    page.click("button:has-text('Run query')")
    page.wait_for_url(f"{base}/checks/query")
    assert page.locator("table.query-result tbody tr").count() == 5
    assert "Showing the first 5 rows only" in page.locator(".query-truncated").inner_text()
    page.screenshot(path=str(artifacts_dir / "checks-query.png"), full_page=True)

    page.fill("#query-sql", f'DELETE FROM "{table}"')
    page.click("button:has-text('Run query')")
    error = page.locator(".query-error").inner_text()
    assert error.startswith("Refused: DELETE")
    page.screenshot(path=str(artifacts_dir / "checks-refused.png"), full_page=True)


def test_plain_user_is_refused_the_checks_page(make_app, serve, browser_page) -> None:
    base = serve(make_app())
    page = browser_page
    sign_in_browser(page, base, DEMO_SALESMAN_LOGIN)
    assert page.locator("nav.mainnav a:has-text('SQL checks')").count() == 0
    response = page.goto(f"{base}/checks")
    assert response is not None and response.status == 403
    assert page.locator("#query-sql").count() == 0
