"""The report rendered: the body (page preview), the standalone document (--html) and the PDF.

One template, templates/report/_report.html, makes all three; the PDF is the standalone document
through WeasyPrint, so what the page previews is what the PDF holds.
"""

from __future__ import annotations

import base64
import gc
import hashlib
import mimetypes
import multiprocessing
import os
import re
import threading
from collections import OrderedDict
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from importlib.resources import files
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from ..settings import Settings
from .chart import revenue_cost_chart
from .figures import Report
from .formatting import NumberFormat, install_filters

# the PDF workers are replaced after this many documents, so what their allocators hold stays
# bounded. By a new pool, not ProcessPoolExecutor(max_tasks_per_child=): with that, a worker
# leaving at its limit while documents wait can leave them waiting forever (CPython gh-115634,
# unfixed in 3.11 and 3.12)
PDF_WORKER_TASKS = 500
PDF_WORKER_EXIT_SECONDS = 1.0  # for an ended worker to be reaped by its pool
_LOGO_TYPES = frozenset({".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp"})


STYLESHEETS = ("report.css", "report-print.css")


def templates_root() -> Path:
    return Path(str(files("bpo2_bridge.templates")))


def report_environment() -> jinja2.Environment:
    """Autoescaping Jinja environment on the templates folder, with the report filters."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_root())),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=False,
    )
    install_filters(env)
    return env


def read_stylesheet(name: str) -> str:
    return (templates_root() / "static" / name).read_text(encoding="utf-8")


def logo_data_uri(settings: Settings) -> str:
    """The settings' logo_file as a data URI (so HTML, print and PDF carry it), or "" without one."""
    raw = settings.logo_file
    if not raw:
        return ""
    path = Path(raw).expanduser()
    if path.suffix.lower() not in _LOGO_TYPES or not path.is_file():
        return ""
    suffix = path.suffix.lower()
    kind = "image/svg+xml" if suffix == ".svg" else mimetypes.guess_type(path.name)[0] or "image/png"
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f"data:{kind};base64,{data}"


def context(report: Report, settings: Settings) -> dict[str, Any]:
    numbers = NumberFormat.from_settings(settings)
    return {
        "report": report,
        "numbers": numbers,
        "company_name": settings.company_name,
        "logo": logo_data_uri(settings),
        "chart": revenue_cost_chart(report.months, numbers),
    }


class ReportRenderer:
    """The report for one Bridge (``bridge.reports``): its markup as previewed in the Report
    Viewer page, the standalone document (--html) and the PDF. The template environment (which
    keeps the compiled templates) and the stylesheets are loaded once; ``pdf`` holds the PDF
    workers, stopped by `dispose`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.environment = report_environment()
        self.stylesheets = {name: read_stylesheet(name) for name in STYLESHEETS}
        self.pdf = PdfMaker()

    def body(self, report: Report) -> Markup:
        """The report's markup, as previewed in the Report Viewer page."""
        template = self.environment.get_template("report/_report.html")
        return Markup(template.render(context(report, self.settings)))

    def document(self, report: Report, *, inline_styles: bool = True) -> str:
        """The report as one standalone HTML document (styles inlined unless told otherwise)."""
        return self.environment.get_template("report/document.html").render(
            body=self.body(report),
            report=report,
            company_name=self.settings.company_name,
            inline_styles=inline_styles,
            css=Markup(self.stylesheets["report.css"]),
            print_css=Markup(self.stylesheets["report-print.css"]),
        )

    def pdf_bytes(self, report: Report) -> bytes:
        """The report as PDF (A4, page header and numbers, table headers repeated on each page)."""
        return self.pdf(self.document(report, inline_styles=False))

    def dispose(self, timeout: float | None = None) -> None:
        self.pdf.shutdown(timeout)


# whitespace between tags across line breaks: text nodes WeasyPrint would parse, style and drop
_BETWEEN_TAGS = re.compile(r">\s*\n\s*<")


class _Renderer:
    """WeasyPrint with one font configuration and the parsed stylesheets, kept for the process."""

    def __init__(self) -> None:
        from weasyprint import CSS  # imported on first use: loading Pango takes a while
        from weasyprint.text.fonts import FontConfiguration

        self.fonts = FontConfiguration()
        self.stylesheets = [CSS(string=read_stylesheet(name), font_config=self.fonts) for name in STYLESHEETS]

    def __call__(self, document: str) -> bytes:
        from weasyprint import HTML

        # Parsing and layout allocate hundreds of thousands of short-lived objects, freed by
        # reference counting; cycle collections in between scan the whole heap and cost ~40%
        # of the render. Collection resumes right after (one render at a time per process).
        collecting = gc.isenabled()
        gc.disable()
        try:
            html = HTML(string=_BETWEEN_TAGS.sub("><", document), base_url=str(templates_root()))
            return bytes(html.write_pdf(stylesheets=self.stylesheets, font_config=self.fonts))
        finally:
            if collecting:
                gc.enable()


# the renderer of a PDF worker process (never set in the web process): made on the worker's
# first document, gone with the worker, whose pool the Bridge's PdfMaker owns
_worker_renderer: _Renderer | None = None


def _render_in_worker(document: str) -> bytes:
    """Runs in a PDF worker process: one renderer per worker, made on its first document."""
    global _worker_renderer
    if _worker_renderer is None:
        _worker_renderer = _Renderer()
    return _worker_renderer(document)


def _start_worker(nice: int = 0) -> None:
    """A PDF worker runs ``nice`` steps below its web process's CPU priority, and ends with it,
    however that one ended (a terminated service gives its workers no word)."""
    if nice:
        _lower_priority(nice)

    def watch() -> None:
        parent = multiprocessing.parent_process()
        if parent is not None:
            parent.join()
            os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _lower_priority(steps: int) -> None:
    # a busy host gives the pages' threads the CPU first; a Download waits a little longer
    import psutil

    me = psutil.Process()
    if psutil.WINDOWS:
        me.nice(psutil.BELOW_NORMAL_PRIORITY_CLASS)
    else:
        me.nice(min(19, me.nice() + steps))


def _warm_worker() -> None:
    _render_in_worker("<p>warm</p>")


class PdfMaker:
    """PDFs from report documents, in this process or in worker processes, with the last few
    kept by the hash of their HTML: the same document (Download, then Email) is rendered once.

    Layout holds the interpreter lock for its whole 150-200 ms, so a web process that renders
    PDFs itself stalls every other request meanwhile; `use_workers` moves rendering into
    processes of its own (the web process then only waits, without the lock). One per Bridge
    (``bridge.reports.pdf``); `shutdown` (from `Bridge.dispose`) stops its workers."""

    def __init__(self, keep: int = 8) -> None:
        self._lock = threading.Lock()
        self._render_lock = threading.Lock()
        self._keep = keep
        self._recent: OrderedDict[str, bytes] = OrderedDict()
        self._renderer: _Renderer | None = None
        self._workers = 0
        self._nice = 0
        self._pool: ProcessPoolExecutor | None = None
        self._pool_tasks = 0  # documents given to the current pool

    def use_workers(self, count: int, *, nice: int = 0, warm: bool = True) -> None:
        """Render in ``count`` worker processes from now on (0: in this process), ``nice`` steps
        below this process's CPU priority. ``warm`` starts them now, so the first Download does
        not wait for WeasyPrint to load."""
        with self._lock:
            old, self._pool, self._workers, self._nice = self._pool, None, count, nice
        if old is not None:
            old.shutdown(wait=False, cancel_futures=True)
        if count and warm:
            pool = self._worker_pool()
            for _ in range(count):
                pool.submit(_warm_worker)

    def worker_pid(self) -> int | None:
        """Process id of a PDF worker (None when rendering here)."""
        return self._worker_pool().submit(os.getpid).result() if self._workers else None

    def _worker_pool(self) -> ProcessPoolExecutor:
        with self._lock:
            return self._current_pool()

    def _current_pool(self) -> ProcessPoolExecutor:
        # the caller holds self._lock
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self._workers,
                mp_context=multiprocessing.get_context("spawn"),  # the same on Windows and Linux
                initializer=_start_worker,
                initargs=(self._nice,),
            )
            self._pool_tasks = 0
        return self._pool

    def _submit(self, document: str) -> tuple[ProcessPoolExecutor, Future[bytes]]:
        """Give ``document`` to the workers, renewing them every PDF_WORKER_TASKS documents."""
        retired = broken = None
        with self._lock:  # held while submitting: no other request retires the pool in between
            if self._pool is not None and self._pool_tasks >= PDF_WORKER_TASKS * self._workers:
                retired, self._pool = self._pool, None
            pool = self._current_pool()
            self._pool_tasks += 1
            try:
                future = pool.submit(_render_in_worker, document)
            except BrokenProcessPool:
                # a worker died while the pool was idle (killed, out of memory): the pool takes
                # nothing more, so a new one gets the document
                broken, self._pool = pool, None
                pool = self._current_pool()
                self._pool_tasks += 1
                future = pool.submit(_render_in_worker, document)
        if retired is not None:
            retired.shutdown(wait=False)  # its workers finish what they were given, then leave
        if broken is not None:
            broken.shutdown(wait=False, cancel_futures=True)
        return pool, future

    def __call__(self, document: str) -> bytes:
        key = hashlib.sha256(document.encode("utf-8")).hexdigest()
        with self._lock:
            if key in self._recent:
                self._recent.move_to_end(key)
                return self._recent[key]
        pdf = self._in_workers(document) if self._workers else self._here(document)
        with self._lock:
            self._recent[key] = pdf
            while len(self._recent) > self._keep:
                self._recent.popitem(last=False)
        return pdf

    def _here(self, document: str) -> bytes:
        with self._render_lock:
            if self._renderer is None:
                self._renderer = _Renderer()
            return self._renderer(document)

    def _in_workers(self, document: str) -> bytes:
        pool, future = self._submit(document)
        try:
            return future.result()
        except BrokenProcessPool:
            # a worker died (killed, out of memory): a new pool, and this document once more
            with self._lock:
                if self._pool is pool:
                    self._pool = None
            pool.shutdown(wait=False)
            return self._submit(document)[1].result()

    def clear(self) -> None:
        with self._lock:
            self._recent.clear()

    def shutdown(self, timeout: float | None = None) -> None:
        """Stop the worker processes and wait for them (the web server's exit): queued documents
        are dropped, and nothing of the pool is left for the interpreter's exit to clean up.
        Documents being rendered get ``timeout`` seconds (None: as long as they take); then
        their workers are ended."""
        with self._lock:
            pool, self._pool, self._workers = self._pool, None, 0
        if pool is None:
            return
        if timeout is None:
            pool.shutdown(wait=True, cancel_futures=True)
            return
        # the pool's own manager thread and processes (ProcessPoolExecutor.terminate_workers
        # comes only with Python 3.14)
        manager: threading.Thread | None = getattr(pool, "_executor_manager_thread", None)
        processes = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        if manager is None:
            return
        manager.join(max(0.0, timeout))
        if manager.is_alive():
            for process in processes:
                process.terminate()
            manager.join(PDF_WORKER_EXIT_SECONDS)


def pdf_filename(report: Report) -> str:
    """Contract-Performance-<contract no>-<date>.pdf, safe as a file name everywhere."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", report.contract_no).strip("._") or "contract"
    return f"Contract-Performance-{safe}-{report.today.isoformat()}.pdf"
