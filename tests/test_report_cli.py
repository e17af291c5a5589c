"""`bpo2-bridge report CONTRACT_NO`: figures on stdout, --pdf / --html files, --email, --source."""

from __future__ import annotations

import email
import json
import socket
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from pypdf import PdfReader
from sqlalchemy import select, text

from bpo2_bridge.report.figures import load_report
from bpo2_bridge.store.database import email_log


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def cli(copied_demo, runner):  # type: ignore[no-untyped-def]
    """run(*args, **settings) on a private copy of the synced demo, through a config file."""
    bridge = copied_demo()

    def run(*args: str, **overrides: Any) -> Any:
        return runner.invoke(*args, bridge=bridge, catch_exceptions=False, **overrides)

    run.bridge = bridge  # type: ignore[attr-defined]
    return run


def a_contract(bridge: Any) -> str:
    with bridge.cache.connect() as conn:
        return str(
            conn.execute(
                text(
                    "SELECT MIN(c.contract_no) FROM contract c WHERE EXISTS"
                    " (SELECT 1 FROM invoice_line il WHERE il.contract_id = c.contract_id)"
                )
            ).scalar_one()
        )


def test_figures_from_cache_and_source_agree(cli) -> None:
    contract_no = a_contract(cli.bridge)
    cached = cli("report", contract_no, "--format", "json")
    assert cached.exit_code == 0, cached.output
    # amounts are JSON numbers whose text is the exact amount: read back exactly as Decimals
    rows = {r["figure"]: r for r in json.loads(cached.stdout, parse_float=Decimal)}
    with cli.bridge.cache.connect() as conn:
        report = load_report(conn, contract_no, cli.bridge.today())
    assert Decimal(rows["revenue total"]["contract_to_date"]) == report.to_date.revenue_total
    assert Decimal(rows["cost total"]["last_12_months"]) == report.last_12.cost_total
    on_source = cli("report", contract_no, "--source", "--format", "json")
    assert on_source.exit_code == 0 and json.loads(on_source.stdout) == json.loads(cached.stdout)


def test_pdf_and_html_files(cli, tmp_path: Path) -> None:
    contract_no = a_contract(cli.bridge)
    pdf, html = tmp_path / "r.pdf", tmp_path / "r.html"
    assert cli("report", contract_no, "--pdf", str(pdf)).exit_code == 0
    assert contract_no in PdfReader(pdf).pages[0].extract_text()
    assert cli("report", contract_no, "--html", str(html)).exit_code == 0
    document = html.read_text(encoding="utf-8")
    assert document.startswith("<!doctype html>") and "<style>" in document and contract_no in document
    both = cli("report", contract_no, "--pdf", str(pdf), "--html", str(html))
    assert both.exit_code == 2 and "one of --pdf and --html" in both.stderr


def test_unknown_contract_exits_1(cli) -> None:
    result = cli("report", "NO-SUCH-CONTRACT")
    assert result.exit_code == 1 and "no contract NO-SUCH-CONTRACT" in result.stderr


def test_email_from_the_command_line(cli) -> None:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        contract_no = a_contract(cli.bridge)
        result = cli(
            "report",
            contract_no,
            "--email",
            "finance@customer.test",
            smtp_host="127.0.0.1",
            smtp_port=controller.port,
        )
        assert result.exit_code == 0, result.stderr
        assert "emailed to finance@customer.test" in result.stderr
    finally:
        controller.stop()
    assert len(inbox.messages) == 1
    assert any(p.get_content_type() == "application/pdf" for p in inbox.messages[0].walk())
    down = cli(
        "report",
        contract_no,
        "--email",
        "finance@customer.test",
        smtp_host="127.0.0.1",
        smtp_port=free_port(),
        smtp_timeout=3,
    )
    assert down.exit_code == 1 and "The email was not sent" in down.stderr
    with cli.bridge.store.connect() as conn:
        outcomes = [r.outcome for r in conn.execute(select(email_log).order_by(email_log.c.id))]
    assert outcomes == ["sent", "failed"]


def test_sql_for_ops_is_tsql_over_the_physical_tables(cli, settings) -> None:
    import sqlglot

    from bpo2_bridge.source.mapping import load_mapping

    result = cli("report", "ANY", "--sql")
    assert result.exit_code == 0
    statements = [s for s in sqlglot.parse(result.stdout, read="tsql") if s is not None]
    assert len(statements) == 6
    contract_table = load_mapping(settings.mapping_path)["contract"].table
    assert f"[{contract_table}]" in result.stdout and "FROM contract c" not in result.stdout
