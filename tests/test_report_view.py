"""Report Viewer and Emailer page: preview, PDF download, email through a real SMTP server on
loopback (aiosmtpd), failures that keep the form, the email log and the hourly limit."""

from __future__ import annotations

import io
import re
from typing import Any
from urllib.parse import quote

from pypdf import PdfReader
from sqlalchemy import select, text

from bpo2_bridge.store.database import email_log

from .conftest import free_port
from .helpers import csrf_token

SALESMAN, OTHER = "sales1", "sales2"


def contracts_of(bridge: Any, login: str) -> list[tuple[str, str]]:
    with bridge.cache.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT ct.contract_no, cu.account_no FROM contract ct"
                " JOIN customer cu ON cu.customer_id = ct.customer_id"
                " JOIN customer_salesman cs ON cs.customer_id = cu.customer_id"
                " JOIN employee e ON e.employee_id = cs.employee_id"
                " WHERE e.login_name = :login ORDER BY ct.contract_no"
            ),
            {"login": login},
        ).all()
    return [(r[0], r[1]) for r in rows]


def not_visible_to(bridge: Any, login: str) -> str:
    mine = {c for c, _ in contracts_of(bridge, login)}
    with bridge.cache.connect() as conn:
        every = [r[0] for r in conn.execute(text("SELECT contract_no FROM contract ORDER BY contract_no"))]
    return next(c for c in every if c not in mine)


def figures_on_page(html: str) -> dict[str, str]:
    return dict(re.findall(r'data-figure="([^"]+)">([^<]*)<', html))


def log_rows(bridge: Any) -> list[dict[str, Any]]:
    with bridge.store.connect() as conn:
        return [dict(r) for r in conn.execute(select(email_log).order_by(email_log.c.id)).mappings()]


def test_preview_download_and_back(client, login, demo_bridge) -> None:
    login(client, SALESMAN)
    contract_no, account_no = contracts_of(demo_bridge, SALESMAN)[0]
    back = f"/customers/{account_no}/contracts?tab=expired&sort=-expiry_date&page=1"
    page = client.get(f"/contracts/{contract_no}/report?back={quote(back)}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Report Viewer and Emailer" in html and contract_no in html
    assert f'href="{back.replace("&", "&amp;")}"' in html  # Back returns to the exact grid state
    assert f'href="/customers/{account_no}?back=' in html  # Customer icon
    assert 'class="page-icon"' in html
    shown = figures_on_page(html)
    assert shown["to_date.revenue_total"].startswith("R ")

    pdf = client.get(f"/contracts/{contract_no}/report.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert f"Contract-Performance-{contract_no}-2026-11-22.pdf" in pdf.headers["Content-Disposition"]
    pdf_text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.data)).pages)
    assert contract_no in pdf_text
    for key in (
        "to_date.revenue_total",
        "last_12.revenue_total",
        "to_date.cost_total",
        "to_date.gross_profit",
    ):
        assert shown[key] in pdf_text, key

    hostile = client.get(f"/contracts/{contract_no}/report?back=https://evil.example/x")
    assert "evil.example" not in hostile.get_data(as_text=True)


def test_other_salesmans_contract_is_not_found(client, login, demo_bridge) -> None:
    login(client, SALESMAN)
    foreign = not_visible_to(demo_bridge, SALESMAN)
    assert client.get(f"/contracts/{foreign}/report").status_code == 404
    assert client.get(f"/contracts/{foreign}/report.pdf").status_code == 404
    assert client.get("/contracts/NO-SUCH/report").status_code == 404


def test_email_prefilled_sent_logged_and_limited(make_app, copied_demo, login, smtp_server) -> None:
    controller, inbox = smtp_server
    bridge = copied_demo(smtp_host="127.0.0.1", smtp_port=controller.port, email_hourly_limit=2)
    client = make_app(bridge).test_client()
    login(client, SALESMAN)
    contract_no, _ = contracts_of(bridge, SALESMAN)[0]
    url = f"/contracts/{contract_no}/report"
    html = client.get(url).get_data(as_text=True)
    to_value = re.search(r'id="email-to" name="to" value="([^"]*)"', html)
    assert to_value and "@" in to_value.group(1)  # prefilled from the customer or a contact
    assert re.search(r'id="email-subject" name="subject" value="[^"]*' + contract_no, html)

    form = {
        "csrf_token": csrf_token(html),
        "to": "buyer@customer.test",
        "cc": "boss@customer.test",
        "subject": "Your report",
        "message": "Hello there",
    }
    sent = client.post(f"{url}/email", data=form, follow_redirects=True)
    assert sent.status_code == 200
    assert "was emailed to buyer@customer.test" in sent.get_data(as_text=True)
    assert len(inbox.messages) == 1
    message = inbox.messages[0]
    assert message["Subject"] == "Your report" and message["To"] == "buyer@customer.test"
    assert sorted(inbox.envelopes[0].rcpt_tos) == ["boss@customer.test", "buyer@customer.test"]
    attachments = [p for p in message.walk() if p.get_content_type() == "application/pdf"]
    assert len(attachments) == 1
    assert attachments[0].get_filename() == f"Contract-Performance-{contract_no}-2026-11-22.pdf"
    pdf = attachments[0].get_payload(decode=True)
    assert contract_no in PdfReader(io.BytesIO(pdf)).pages[0].extract_text()

    bad = client.post(f"{url}/email", data={**form, "to": "not an address"})
    assert bad.status_code == 400
    bad_html = bad.get_data(as_text=True)
    assert "is not a valid email address" in bad_html and 'value="not an address"' in bad_html

    client.post(f"{url}/email", data=form)
    refused = client.post(f"{url}/email", data=form)
    assert refused.status_code == 429
    assert "limit of 2 report emails per hour" in refused.get_data(as_text=True)
    assert len(inbox.messages) == 2
    log = log_rows(bridge)
    assert [r["outcome"] for r in log] == ["sent", "sent", "refused"]
    assert log[0]["user_login"] == SALESMAN and log[0]["contract_no"] == contract_no
    assert log[0]["to_addr"] == "buyer@customer.test" and log[0]["cc_addr"] == "boss@customer.test"


def test_smtp_down_says_so_and_keeps_the_form(make_app, copied_demo, login) -> None:
    bridge = copied_demo(smtp_host="127.0.0.1", smtp_port=free_port(), smtp_timeout=5)
    client = make_app(bridge).test_client()
    login(client, SALESMAN)
    contract_no, _ = contracts_of(bridge, SALESMAN)[0]
    url = f"/contracts/{contract_no}/report"
    token = csrf_token(client.get(url).get_data(as_text=True))
    form = {
        "csrf_token": token,
        "to": "buyer@customer.test",
        "cc": "",
        "subject": "Kept subject",
        "message": "Kept message body",
    }
    failed = client.post(f"{url}/email", data=form)
    assert failed.status_code == 502
    html = failed.get_data(as_text=True)
    assert "The email was not sent" in html and "could not be reached" in html
    assert 'value="Kept subject"' in html and "Kept message body</textarea>" in html
    assert [r["outcome"] for r in log_rows(bridge)] == ["failed"]


def test_administrator_opens_any_contract(client, login, demo_bridge) -> None:
    login(client, "admin")
    foreign = not_visible_to(demo_bridge, SALESMAN)
    page = client.get(f"/contracts/{foreign}/report")
    assert page.status_code == 200 and foreign in page.get_data(as_text=True)
