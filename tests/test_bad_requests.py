"""Bad requests get a 4xx with a clear message, never a 500: a file id no database integer holds,
an email Subject with a line break (refused, nothing sent, the attempt in the email log), on the
web and the command line."""

from __future__ import annotations

import email
import json
import socket
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner
from sqlalchemy import select, text

from bpo2_bridge.cli import main
from bpo2_bridge.demo.content import DEMO_ADMIN_LOGIN, DEMO_SALESMAN_LOGIN
from bpo2_bridge.store.database import email_log

from .helpers import csrf_token

HOSTILE_SUBJECTS = (
    "Report\r\nBcc: everyone@evil.example",
    "Report\nX-Injected: 1",
    "Report\rcarriage",
    "Report\u2028line separator",
)


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def smtp_server():  # type: ignore[no-untyped-def]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield controller, inbox
    controller.stop()


def _log(bridge) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    with bridge.store.connect() as conn:
        return [dict(r) for r in conn.execute(select(email_log).order_by(email_log.c.id)).mappings()]


def _contract_of(bridge, login: str) -> str:  # type: ignore[no-untyped-def]
    with bridge.cache.connect() as conn:
        return str(
            conn.execute(
                text(
                    "SELECT MIN(ct.contract_no) FROM contract ct"
                    " JOIN customer_salesman cs ON cs.customer_id = ct.customer_id"
                    " JOIN employee e ON e.employee_id = cs.employee_id WHERE e.login_name = :login"
                ),
                {"login": login},
            ).scalar_one()
        )


@pytest.mark.parametrize(
    "file_id", ["99999999999999999999999", "9223372036854775808", "18446744073709551616"]
)
def test_a_file_id_too_large_for_any_database_is_not_found(client, login, file_id: str) -> None:
    login(client, DEMO_ADMIN_LOGIN)
    page = client.get(f"/files/{file_id}")
    assert page.status_code == 404
    as_json = client.get(f"/files/{file_id}", headers={"Accept": "application/json"})
    assert as_json.status_code == 404 and "error" in as_json.get_json()
    assert client.get("/files/9223372036854775807").status_code == 404  # the largest key: no such file


def test_a_subject_with_a_line_break_is_refused_and_logged(make_app, copied_demo, login, smtp_server) -> None:
    controller, inbox = smtp_server
    bridge = copied_demo(smtp_host="127.0.0.1", smtp_port=controller.port, email_hourly_limit=2)
    client = make_app(bridge).test_client()
    login(client, DEMO_SALESMAN_LOGIN)
    contract_no = _contract_of(bridge, DEMO_SALESMAN_LOGIN)
    url = f"/contracts/{contract_no}/report"
    token = csrf_token(client.get(url).get_data(as_text=True))
    form = {"csrf_token": token, "to": "buyer@customer.test", "cc": "", "message": "Hello"}
    for subject in HOSTILE_SUBJECTS:
        response = client.post(f"{url}/email", data={**form, "subject": subject})
        assert response.status_code == 400, subject
        assert "Subject: must be one line" in response.get_data(as_text=True)
    assert inbox.messages == []
    log = _log(bridge)
    assert [r["outcome"] for r in log] == ["refused"] * len(HOSTILE_SUBJECTS)
    assert [r["subject"] for r in log] == list(HOSTILE_SUBJECTS)
    assert all(r["user_login"] == DEMO_SALESMAN_LOGIN and "one line" in r["error"] for r in log)
    # refused attempts do not use up the hourly limit: a clean subject still goes
    sent = client.post(f"{url}/email", data={**form, "subject": "Your report"})
    assert sent.status_code == 303 and len(inbox.messages) == 1
    assert inbox.messages[0]["Subject"] == "Your report" and inbox.messages[0]["Bcc"] is None


def test_the_cli_refuses_a_subject_with_a_line_break(copied_demo, tmp_path, smtp_server) -> None:
    controller, inbox = smtp_server
    bridge = copied_demo()
    contract_no = _contract_of(bridge, DEMO_SALESMAN_LOGIN)
    values = {
        "data_dir": str(bridge.settings.data_path),
        "today": "2026-11-22",
        "smtp_host": "127.0.0.1",
        "smtp_port": controller.port,
    }
    config = tmp_path / "bpo2-bridge.toml"
    config.write_text("".join(f"{k} = {json.dumps(v)}\n" for k, v in values.items()), encoding="utf-8")
    result = CliRunner().invoke(
        main,
        [
            "--config",
            str(config),
            "report",
            contract_no,
            "--email",
            "a@customer.test",
            "--subject",
            "x\r\nBcc: e@evil.example",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == ["Error: Subject: must be one line (no line breaks)."]
    assert inbox.messages == []
    assert [r["outcome"] for r in _log(bridge)] == ["refused"]
