"""In a real browser: Contract No -> preview -> Download (the PDF holds the page's totals) ->
Print (only the report) -> Email (aiosmtpd on loopback receives it) -> with SMTP down the page
says so and keeps the form -> Back returns to the grid as it was."""

from __future__ import annotations

import email
import io
import socket
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from pypdf import PdfReader
from sqlalchemy import text

from .helpers import sign_in_browser

SALESMAN = "sales1"


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 Message accepted"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def first_contract(bridge: Any) -> tuple[str, str]:
    with bridge.cache.connect() as conn:
        row = conn.execute(
            text(
                "SELECT ct.contract_no, cu.account_no FROM contract ct"
                " JOIN customer cu ON cu.customer_id = ct.customer_id"
                " JOIN customer_salesman cs ON cs.customer_id = cu.customer_id"
                " JOIN employee e ON e.employee_id = cs.employee_id"
                " WHERE e.login_name = :login AND EXISTS"
                " (SELECT 1 FROM invoice_line il WHERE il.contract_id = ct.contract_id)"
                " ORDER BY ct.contract_no"
            ),
            {"login": SALESMAN},
        ).first()
    assert row is not None
    return row[0], row[1]


def test_report_viewer_in_browser(make_app, copied_demo, serve, browser_page, artifacts_dir: Path) -> None:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        bridge = copied_demo(smtp_host="127.0.0.1", smtp_port=controller.port, smtp_timeout=5)
        base = serve(make_app(bridge))
        contract_no, account_no = first_contract(bridge)
        page = browser_page

        sign_in_browser(page, base, SALESMAN)
        grid_url = f"{base}/customers/{account_no}/contracts?tab=all&sort=-start_date"
        page.goto(grid_url)
        page.get_by_role("link", name=contract_no, exact=True).first.click()
        page.wait_for_url(f"**/contracts/{contract_no}/report**")
        page.wait_for_selector("#report")
        shown = {
            key: page.locator(f'[data-figure="{key}"]').inner_text().strip()
            for key in (
                "to_date.revenue_total",
                "last_12.revenue_total",
                "to_date.cost_total",
                "to_date.gross_profit",
            )
        }
        assert shown["to_date.revenue_total"].startswith("R ")
        page.screenshot(path=str(artifacts_dir / "report-viewer.png"), full_page=True)

        with page.expect_download() as download_info:
            page.click("a.download")
        download = download_info.value
        assert download.suggested_filename == f"Contract-Performance-{contract_no}-2026-11-22.pdf"
        pdf_text = " ".join(p.extract_text() for p in PdfReader(download.path()).pages)
        assert contract_no in pdf_text
        for key, value in shown.items():
            assert value in pdf_text, key

        page.emulate_media(media="print")
        assert page.locator("#report").is_visible()
        assert page.locator("#report-email").is_hidden() and page.locator(".topbar").is_hidden()
        printed = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(page.pdf())).pages)
        assert contract_no in printed and shown["to_date.revenue_total"] in printed
        assert "Email this report" not in printed
        page.emulate_media(media="screen")

        # the report uses the page's width; Email opens a panel beside it, next to the buttons
        preview = page.locator(".report-preview").bounding_box()
        paper = page.locator("#report").bounding_box()
        assert paper["width"] >= 0.85 * preview["width"]
        page.click("a.button.email")
        assert page.evaluate("document.activeElement.id") == "email-to"
        preview = page.locator(".report-preview").bounding_box()
        panel = page.locator("#report-email").bounding_box()
        buttons = page.locator(".actions a.button.email").bounding_box()
        assert panel["x"] >= preview["x"] + preview["width"] - 1, "the panel is not beside the report"
        assert panel["y"] - (buttons["y"] + buttons["height"]) < 120, "the panel is far below the buttons"
        # a contact picked, a bad Cc: the message beside the field, the report's URL kept
        contact = page.locator(".report-contacts input[name=pick]").first
        picked = contact.get_attribute("value")
        contact.check()
        page.fill("#email-to", "")
        page.fill("#email-cc", "not an address")
        page.click("#report-email button[type=submit]")
        page.wait_for_selector("#email-cc-error")
        assert f"/contracts/{contract_no}/report" in page.url and "/email" not in page.url
        assert "not a valid email address" in page.locator("#email-cc-error").inner_text()
        cc_box = page.locator("#email-cc").bounding_box()
        message_box = page.locator("#email-cc-error").bounding_box()
        assert 0 <= message_box["y"] - (cc_box["y"] + cc_box["height"]) < 40
        assert page.input_value("#email-to") == picked
        assert page.locator("#report-email").get_attribute("open") is not None
        page.screenshot(path=str(artifacts_dir / "report-email-field-error.png"))
        page.fill("#email-cc", "")

        page.fill("#email-to", "ops.manager@dealer.test")
        page.fill("#email-subject", "Performance of your contract")
        page.click("#report-email button[type=submit]")
        page.wait_for_selector("text=was emailed to ops.manager@dealer.test")
        assert len(inbox.messages) == 1
        parts = [p for p in inbox.messages[0].walk() if p.get_content_type() == "application/pdf"]
        assert len(parts) == 1
        attached = PdfReader(io.BytesIO(parts[0].get_payload(decode=True)))
        assert contract_no in attached.pages[0].extract_text()

        controller.stop()
        page.click("a.button.email")
        page.fill("#email-to", "ops.manager@dealer.test")
        page.fill("#email-subject", "Second try")
        page.fill("#email-message", "Message kept after a failure")
        page.click("#report-email button[type=submit]")
        page.wait_for_selector(".report-message.error")
        assert "The email was not sent" in page.locator(".report-message.error").inner_text()
        assert f"/contracts/{contract_no}/report" in page.url and "/email" not in page.url
        assert page.input_value("#email-subject") == "Second try"
        assert page.input_value("#email-message") == "Message kept after a failure"
        assert page.input_value("#email-to") == "ops.manager@dealer.test"
        page.screenshot(path=str(artifacts_dir / "report-email-failed.png"))

        page.click("a.back")
        page.wait_for_url(grid_url)
        assert page.url == grid_url
    finally:
        if controller.loop.is_running():
            controller.stop()
