"""`bpo2-bridge report CONTRACT_NO`: the Contract Performance report as figures, PDF, HTML or email."""

from __future__ import annotations

import contextlib
import getpass
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from sqlalchemy import Connection
from sqlalchemy.dialects import mssql

from ..bridge import Bridge
from ..cache.snapshots import CacheMissing
from ..report import mailer
from ..report.figures import Report, ReportNotFound, load_report, source_statements
from ..report.render import pdf_filename
from ..source.engines import SourceError, source_session
from .common import AppContext, fail, open_bridge, output_options, pass_app, print_rows


def summary_rows(report: Report) -> list[list[Any]]:
    """(figure, contract to date, last 12 months) rows of the report's summary."""

    def row(label: str, get: Any) -> list[Any]:
        return [label, get(report.to_date), get(report.last_12)]

    rows = [row(f"revenue {key}", lambda f, k=key: f.revenue.get(k, 0)) for key, _ in report.revenue_types]
    rows.append(row("revenue total", lambda f: f.revenue_total))
    rows += [row(f"volume {key}", lambda f, k=key: f.volume.get(k, 0)) for key, _ in report.volume_types]
    rows.append(row("volume total", lambda f: f.volume_total))
    rows += [row(f"cost {key}", lambda f, k=key: f.cost.get(k, 0)) for key, _ in report.cost_types]
    rows.append(row("cost total", lambda f: f.cost_total))
    rows.append(row("service calls", lambda f: f.calls))
    rows.append(row("gross profit", lambda f: f.gross_profit))
    rows.append(row("margin %", lambda f: f.margin))
    rows.append(row("revenue per copy", lambda f: f.revenue_per_copy))
    rows.append(row("cost per copy", lambda f: f.cost_per_copy))
    return rows


@contextmanager
def _connection(bridge: Bridge, from_source: bool) -> Iterator[Connection]:
    if from_source:
        with source_session(bridge.source) as conn:
            yield conn
    else:
        with bridge.cache.connect() as conn:
            yield conn


@click.command("report")
@click.argument("contract_no")
@click.option("--pdf", "pdf_file", type=click.Path(dir_okay=False, writable=True), help="Write the PDF here.")
@click.option(
    "--html", "html_file", type=click.Path(dir_okay=False, writable=True), help="Write standalone HTML here."
)
@click.option("--email", "to", metavar="ADDRESS", help="Email the PDF to these addresses (comma-separated).")
@click.option("--cc", default="", metavar="ADDRESS", help="Cc addresses for --email (comma-separated).")
@click.option("--subject", default="", help="Subject for --email (default: contract no and customer).")
@click.option(
    "--source",
    "from_source",
    is_flag=True,
    help="Compute the figures from BPO2 itself (read-only) instead of the cache, to reconcile.",
)
@click.option(
    "--sql",
    "show_sql",
    is_flag=True,
    help="Print the report's SQL as it runs on BPO2 on SQL Server (T-SQL, for ops) and exit.",
)
@output_options
@pass_app
def report(
    app: AppContext,
    contract_no: str,
    pdf_file: str | None,
    html_file: str | None,
    to: str | None,
    cc: str,
    subject: str,
    from_source: bool,
    show_sql: bool,
    fmt: str,
) -> None:
    """The Contract Performance report of CONTRACT_NO: its summary figures, or the PDF / HTML
    written to a file, and/or the PDF emailed through the configured SMTP server.

    Exit 0 done, 1 no such contract or the email failed, 2 bad usage or no data.
    """
    if pdf_file and html_file:
        fail("choose one of --pdf and --html")
    for option, target in (("--pdf", pdf_file), ("--html", html_file)):
        if target:
            _check_writable(option, Path(target))
    bridge = open_bridge(app, mapping=from_source or show_sql)
    if show_sql:
        files = bridge.sql_files
        for name, sql in source_statements(mssql.dialect(), bridge.mapping, files).items():
            comment = "\n".join(f"-- {line}" for line in files.header(name).splitlines())
            click.echo(f"-- sql/{name}.sql\n{comment}\n{sql};\n")
        return
    try:
        with _connection(bridge, from_source) as conn:
            mapping = bridge.mapping if from_source else None
            result = load_report(conn, contract_no, bridge.today(), mapping=mapping)
    except ReportNotFound:
        fail(f"no contract {contract_no}", 1)
    except (SourceError, CacheMissing) as exc:
        fail(str(exc))

    if html_file:
        _write("--html", Path(html_file), bridge.reports.document(result).encode("utf-8"))
        click.echo(f"Wrote {html_file}", err=True)
    if pdf_file:
        _write("--pdf", Path(pdf_file), bridge.reports.pdf_bytes(result))
        click.echo(f"Wrote {pdf_file}", err=True)
    if to:
        _email(bridge, result, to, cc, subject)
    if not (html_file or pdf_file or to):
        print_rows(["figure", "contract_to_date", "last_12_months"], summary_rows(result), fmt)
    bridge.dispose()


def _check_writable(option: str, target: Path) -> None:
    """Refuse a file that cannot be written before any work is done."""
    folder = target.parent
    if not folder.is_dir():
        fail(f"{option} {target}: the folder {folder} does not exist")
    if target.is_dir():
        fail(f"{option} {target}: is a folder, not a file")


def _write(option: str, target: Path, data: bytes) -> None:
    """Write through a temporary file beside the target, so a failed write leaves no half file."""
    partial = target.with_name(f".{target.name}.partial")
    try:
        partial.write_bytes(data)
        os.replace(partial, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
        fail(f"{option} {target}: cannot write: {exc.strerror or exc}")


def _email(bridge: Bridge, result: Report, to: str, cc: str, subject: str) -> None:
    settings = bridge.settings
    try:
        outgoing = mailer.Outgoing(
            to=mailer.parse_addresses(to, "--email", required=True),
            cc=mailer.parse_addresses(cc, "--cc", required=False),
            subject=subject or mailer.default_subject(result, settings),
            message=mailer.default_message(result, settings, settings.company_name),
        )
    except mailer.InvalidAddress as exc:
        fail(str(exc))
    try:
        done = mailer.send_report(
            settings,
            bridge.store,
            user_login=f"cli:{getpass.getuser()}",
            contract_no=result.contract_no,
            outgoing=outgoing,
            pdf=bridge.reports.pdf_bytes(result),
            filename=pdf_filename(result),
        )
    except mailer.InvalidInput as exc:
        fail(str(exc))
    except mailer.EmailError as exc:
        fail(str(exc), 1)
    click.echo(done, err=True)
