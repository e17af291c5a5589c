"""The report as HTML and PDF: one template, figures formatted per settings, pages that paginate
with repeated headers, and a PNG of the first pages in artifacts/report/ for a person to look at."""

from __future__ import annotations

import datetime as dt
import io
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy import create_engine
from sqlalchemy.pool import StaticPool

from bpo2_bridge.cache.schema import cache_metadata
from bpo2_bridge.report import render as render_module
from bpo2_bridge.report import sample
from bpo2_bridge.report.figures import Report, load_report
from bpo2_bridge.report.formatting import NumberFormat
from bpo2_bridge.report.render import PdfMaker, ReportRenderer, pdf_filename

TODAY = dt.date(2026, 11, 22)
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts" / "report"


def make_report(spec: sample.SampleContract) -> Report:
    engine = create_engine("sqlite://", poolclass=StaticPool)
    metadata = cache_metadata()
    metadata.create_all(engine)
    with engine.begin() as conn:
        sample.insert_rows(
            conn, metadata.tables, sample.merge(sample.reference_rows(), sample.contract_rows(spec, TODAY))
        )
    with engine.connect() as conn:
        report = load_report(conn, spec.contract_no, TODAY)
    engine.dispose()
    return report


def pdf_pages(data: bytes) -> list[str]:
    return [page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages]


def to_png(pdf: bytes, name: str, pages: int = 2) -> list[Path]:
    """First pages of the PDF as PNG files under artifacts/report/ (pdftoppm)."""
    if not shutil.which("pdftoppm"):
        pytest.fail("pdftoppm (poppler-utils) is required to render report pages")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    source = ARTIFACTS / f"{name}.pdf"
    source.write_bytes(pdf)
    subprocess.run(
        ["pdftoppm", "-png", "-r", "70", "-f", "1", "-l", str(pages), str(source), str(ARTIFACTS / name)],
        check=True,
        timeout=60,
    )
    return sorted(ARTIFACTS.glob(f"{name}-*.png"))


@pytest.fixture(scope="module")
def big_report() -> Report:
    spec = sample.SampleContract(1000, "CPC0020000", dt.date(2023, 6, 1), dt.date(2027, 5, 31), machines=20)
    return make_report(spec)


def test_pdf_with_20_machines_paginates_with_repeated_headers(big_report: Report, settings) -> None:
    pdf = ReportRenderer(settings).pdf_bytes(big_report)
    pages = pdf_pages(pdf)
    assert len(pages) >= 3
    for number, text in enumerate(pages, start=1):
        assert "CPC0020000" in text, f"page {number} lacks the running header"
        assert f"Page {number} of {len(pages)}" in text
    serials = [m.serial_no for m in big_report.machines]
    machine_pages = [t for t in pages if any(s in t for s in serials)]
    assert len(machine_pages) >= 1
    for text in machine_pages:
        assert "Serial No" in text, "a page listing machines repeats the table header"
    month_pages = [
        t for t in pages if re.search(r"\b(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) 20\d\d\b", t)
    ]
    assert all("Gross profit" in t for t in month_pages)
    assert all(s in "".join(pages) for s in serials)
    pngs = to_png(pdf, "contract-20-machines", pages=len(pages))
    assert len(pngs) == len(pages) and all(p.stat().st_size > 5000 for p in pngs)


def test_pdf_text_holds_contract_and_totals(settings) -> None:
    report = make_report(
        sample.SampleContract(1000, "CPC0000088", dt.date(2024, 1, 15), dt.date(2027, 1, 14))
    )
    pdf = ReportRenderer(settings).pdf_bytes(report)
    text = " ".join(pdf_pages(pdf))
    numbers = NumberFormat.from_settings(settings)
    assert "CPC0000088" in text and "Sample Customer 1000" in text
    for amount in (
        report.to_date.revenue_total,
        report.last_12.revenue_total,
        report.to_date.cost_total,
        report.to_date.gross_profit,
    ):
        assert numbers.money(amount) in text
    assert numbers.percent(report.to_date.margin) in text
    assert pdf_filename(report) == "Contract-Performance-CPC0000088-2026-11-22.pdf"
    to_png(pdf, "contract-CPC0000088", pages=1)


def test_page_preview_and_pdf_come_from_one_template(settings) -> None:
    report = make_report(sample.SampleContract(1000, "CPC7", dt.date(2025, 2, 1), dt.date(2028, 1, 31)))
    body = str(ReportRenderer(settings).body(report))
    document = ReportRenderer(settings).document(report)
    assert body in document
    assert "<script" not in document and "http://" not in document.replace("http://www.w3.org/2000/svg", "")
    assert document.count("<svg") == 1 and "Revenue and cost per month" in body


def test_money_follows_settings_and_logo_shows(make_settings, tmp_path) -> None:
    logo = tmp_path / "logo.svg"
    logo.write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20"><rect width="40" height="20"/></svg>'
    )
    settings = make_settings(
        currency_symbol="$",
        thousands_separator=",",
        decimal_separator=".",
        company_name="Acme Copiers",
        logo_file=str(logo),
    )
    report = make_report(
        sample.SampleContract(1000, "CPC8", dt.date(2024, 1, 1), dt.date(2027, 1, 1), machines=6)
    )
    body = str(ReportRenderer(settings).body(report))
    total = report.to_date.revenue_total
    assert total > 1000
    assert NumberFormat("$", ",", ".").money(total) in body
    assert "Acme Copiers" in body and 'src="data:image/svg+xml;base64,' in body
    text = " ".join(pdf_pages(ReportRenderer(settings).pdf_bytes(report)))
    assert "Acme Copiers" in text and NumberFormat("$", ",", ".").money(total) in text


def test_contract_without_invoices_renders_blank_margin(settings) -> None:
    report = make_report(
        sample.SampleContract(1000, "CPC9", dt.date(2025, 1, 1), dt.date(2027, 1, 1), invoices=False)
    )
    body = str(ReportRenderer(settings).body(report))
    margin = re.search(r'data-figure="to_date.margin">([^<]*)<', body)
    assert margin and margin.group(1) == "—"
    assert "CPC9" in " ".join(pdf_pages(ReportRenderer(settings).pdf_bytes(report)))


def test_expired_contract_notes_months_left_out(settings) -> None:
    report = make_report(sample.SampleContract(1000, "CPC10", dt.date(2017, 1, 1), dt.date(2021, 12, 31)))
    body = str(ReportRenderer(settings).body(report))
    assert "Figures of 24 earlier months are not" in body
    assert 'class="negative"' in body


def test_pdf_workers_render_the_same_document_and_survive_a_killed_worker(
    big_report: Report, settings
) -> None:
    reports = ReportRenderer(settings)
    here = pdf_pages(reports.pdf_bytes(big_report))
    reports.pdf.use_workers(1)
    try:
        reports.pdf.clear()  # nothing answered from the recent PDFs
        worker = reports.pdf.worker_pid()
        assert worker is not None and worker != os.getpid()
        assert pdf_pages(reports.pdf_bytes(big_report)) == here
        os.kill(worker, signal.SIGKILL)  # out of memory, or an operator's kill
        reports.pdf.clear()
        assert pdf_pages(reports.pdf_bytes(big_report)) == here  # a new worker took over
        assert reports.pdf.worker_pid() not in (None, worker)
    finally:
        reports.dispose()


def test_pdf_workers_run_below_the_web_process_priority() -> None:
    """On a busy host the pages' threads get the CPU before the PDF workers (pdf_nice)."""
    mine = os.getpriority(os.PRIO_PROCESS, 0)
    make_pdf = PdfMaker()
    make_pdf.use_workers(1, nice=5)
    try:
        worker = make_pdf.worker_pid()
        assert worker is not None
        assert os.getpriority(os.PRIO_PROCESS, worker) == min(19, mine + 5)
        make_pdf.use_workers(1, nice=0)  # 0: the web process's own priority
        assert os.getpriority(os.PRIO_PROCESS, make_pdf.worker_pid()) == mine
    finally:
        make_pdf.shutdown()


def test_pdf_workers_are_renewed_while_documents_wait(monkeypatch) -> None:
    """The workers are replaced every PDF_WORKER_TASKS documents. Documents queued while that
    happens are all rendered: with ProcessPoolExecutor's own max_tasks_per_child they could wait
    forever (CPython gh-115634), and every later Download with them."""
    monkeypatch.setattr(render_module, "PDF_WORKER_TASKS", 2)
    make_pdf = PdfMaker()
    make_pdf.use_workers(1)
    try:
        make_pdf.clear()
        documents = [f"<!doctype html><title>t</title><p>document {i}</p>" for i in range(9)]
        pdfs: dict[int, bytes] = {}
        clients = [  # nine Downloads at once: a backlog; daemons, so a hang fails, not blocks
            threading.Thread(target=lambda i=i: pdfs.update({i: make_pdf(documents[i])}), daemon=True)
            for i in range(len(documents))
        ]
        for client in clients:
            client.start()
        deadline = time.monotonic() + 60
        for client in clients:
            client.join(max(0.0, deadline - time.monotonic()))
        assert len(pdfs) == len(documents), f"{len(documents) - len(pdfs)} Downloads still waiting"
        assert all(pdf.startswith(b"%PDF") for pdf in pdfs.values())
        assert {pdf_pages(pdf)[0].splitlines()[0] for pdf in pdfs.values()} == {
            f"document {i}" for i in range(9)
        }
    finally:
        make_pdf.shutdown()
