"""Every screen in a real browser at 1366x900, as a full-page PNG, so reviewers can look at all of
them at once: set SCREENSHOT_DIR to the folder to write them to (otherwise they go to a temporary
folder). Each screen must load without an error and without the page scrolling sideways."""

from __future__ import annotations

import os
from pathlib import Path

from bpo2_bridge.demo.content import BENCH_CONTRACT_NO, DEMO_ADMIN_LOGIN, DEMO_SALESMAN_LOGIN

from .helpers import sign_in_browser
from .test_browser_walk import cache_rows, walk_customer

SIZE = {"width": 1366, "height": 900}


def _screens(bridge) -> list[tuple[str, str, str, int]]:  # type: ignore[no-untyped-def]
    """(file name, login, path, status) of every screen."""
    customer = walk_customer(bridge)["account_no"]
    case = cache_rows(bridge, "SELECT case_no FROM crm_case ORDER BY case_id LIMIT 1")[0]["case_no"]
    sales, admin = DEMO_SALESMAN_LOGIN, DEMO_ADMIN_LOGIN
    return [
        ("01_home_today", sales, "/?tab=today", 200),
        ("02_home_recent_all", sales, "/?tab=recent&who=all", 200),
        ("03_home_admin", admin, "/?tab=today&who=all", 200),
        ("04_customers", sales, "/customers", 200),
        ("05_customers_search", admin, "/customers?q=medical", 200),
        ("06_customer_dashboard", sales, f"/customers/{customer}", 200),
        ("07_contracts_customer_all", sales, f"/customers/{customer}/contracts?tab=all", 200),
        ("08_contracts_customer_expired", sales, f"/customers/{customer}/contracts?tab=expired", 200),
        ("09_contracts_customer_expiring", sales, f"/customers/{customer}/contracts?tab=expiring", 200),
        ("10_contracts_all", admin, "/contracts?tab=all", 200),
        (
            "11_contracts_expired_filtered",
            admin,
            "/contracts?tab=expired&in_status=Active&in_status=Expired",
            200,
        ),
        (
            "12_contracts_columns_chosen",
            admin,
            "/contracts?tab=all&cols=contract_no,customer_name,status,expiry_date",
            200,
        ),
        ("13_report", admin, f"/contracts/{BENCH_CONTRACT_NO}/report", 200),
        ("14_customer_files", sales, f"/customers/{customer}/files", 200),
        ("15_case_information", admin, f"/cases/{case}", 200),
        ("16_cases_open", sales, "/cases", 200),
        ("17_cases_customer_all", sales, f"/customers/{customer}/cases?tab=all", 200),
        ("18_activities_today", sales, "/activities?tab=today&who=mine", 200),
        ("19_activities_recent", sales, "/activities?tab=recent", 200),
        ("20_activities_open", admin, "/activities?tab=open", 200),
        ("21_activities_customer_all", sales, f"/customers/{customer}/activities?tab=all", 200),
        ("22_status", "ops", "/status", 200),
        ("23_email_log", "ops", "/status/email-log", 200),
        ("24_sql_checks", "ops", "/checks", 200),
        ("25_bad_filter", sales, f"/customers/{customer}/contracts?f_months_remaining=soon", 400),
        ("26_not_found", sales, "/customers/NO-SUCH-ACCOUNT", 404),
    ]


def test_every_screen_as_a_full_page_screenshot(demo_bridge, live_server, _browser, tmp_path) -> None:
    folder = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    pages = {}
    try:
        for name, login, path, status in _screens(demo_bridge):
            if login not in pages:
                pages[login] = _browser.new_context(viewport=SIZE).new_page()
                sign_in_browser(pages[login], live_server, login)
            page = pages[login]
            response = page.goto(live_server + path)
            assert response is not None and response.status == status, (name, path)
            wide = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert wide <= 0, f"{name} scrolls {wide} px sideways at 1366 px"
            page.screenshot(path=str(folder / f"{name}.png"), full_page=True)
        page = _browser.new_context(viewport=SIZE).new_page()
        pages["anonymous"] = page
        page.goto(live_server + "/login")
        page.screenshot(path=str(folder / "00_sign_in.png"), full_page=True)
    finally:
        for page in pages.values():
            page.context.close()
    written = sorted(p.name for p in folder.glob("*.png"))
    assert len(written) >= len(_screens(demo_bridge)) + 1
