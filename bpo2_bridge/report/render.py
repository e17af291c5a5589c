"""The report rendered: the body (page preview), the standalone document (--html) and the PDF.

One template, templates/report/_report.html, makes all three; the PDF is the standalone document
through WeasyPrint, so what the page previews is what the PDF holds.
"""

from __future__ import annotations

import base64
import gc
import hashlib
import mimetypes
import re
import threading
from collections import OrderedDict
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from ..settings import Settings
from .chart import revenue_cost_chart
from .figures import Report
from .formatting import NumberFormat, install_filters

_LOGO_TYPES = {".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp"}


def templates_root() -> Path:
    return Path(str(files("bpo2_bridge.templates")))


@cache
def environment() -> jinja2.Environment:
    """Autoescaping Jinja environment on the templates folder, with the report filters."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_root())),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=False,
    )
    install_filters(env)
    return env


@cache
def _stylesheet(name: str) -> str:
    return (templates_root() / "static" / name).read_text(encoding="utf-8")


@cache
def _logo(path: str, mtime: float) -> str:
    suffix = Path(path).suffix.lower()
    kind = "image/svg+xml" if suffix == ".svg" else mimetypes.guess_type(path)[0] or "image/png"
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f"data:{kind};base64,{data}"


def logo_data_uri(settings: Settings) -> str:
    """The settings' logo_file as a data URI (so HTML, print and PDF carry it), or "" without one."""
    raw = settings.logo_file
    if not raw:
        return ""
    path = Path(raw).expanduser()
    if path.suffix.lower() not in _LOGO_TYPES or not path.is_file():
        return ""
    return _logo(str(path.resolve()), path.stat().st_mtime)


def context(report: Report, settings: Settings) -> dict[str, Any]:
    numbers = NumberFormat.from_settings(settings)
    return {
        "report": report,
        "numbers": numbers,
        "company_name": settings.company_name,
        "logo": logo_data_uri(settings),
        "chart": revenue_cost_chart(report.months, numbers),
    }


def render_body(report: Report, settings: Settings) -> Markup:
    """The report's markup, as previewed in the Report Viewer page."""
    return Markup(environment().get_template("report/_report.html").render(context(report, settings)))


def render_document(report: Report, settings: Settings, *, inline_styles: bool = True) -> str:
    """The report as one standalone HTML document (styles inlined unless told otherwise)."""
    return (
        environment()
        .get_template("report/document.html")
        .render(
            body=render_body(report, settings),
            report=report,
            company_name=settings.company_name,
            inline_styles=inline_styles,
            css=Markup(_stylesheet("report.css")),
            print_css=Markup(_stylesheet("report-print.css")),
        )
    )


# whitespace between tags across line breaks: text nodes WeasyPrint would parse, style and drop
_BETWEEN_TAGS = re.compile(r">\s*\n\s*<")


class _PdfMaker:
    """WeasyPrint with one font configuration for the process, and the last few PDFs kept by
    the hash of their HTML: the same document (Download, then Email) is rendered once."""

    def __init__(self, keep: int = 8) -> None:
        self._lock = threading.Lock()
        self._keep = keep
        self._recent: OrderedDict[str, bytes] = OrderedDict()
        self._fonts: Any = None
        self._stylesheets: list[Any] = []

    def __call__(self, document: str) -> bytes:
        key = hashlib.sha256(document.encode("utf-8")).hexdigest()
        with self._lock:
            if key in self._recent:
                self._recent.move_to_end(key)
                return self._recent[key]
            from weasyprint import HTML  # imported on first use: loading Pango takes a while
            from weasyprint.text.fonts import FontConfiguration

            if self._fonts is None:
                from weasyprint import CSS

                self._fonts = FontConfiguration()
                # parsed once per process, not once per PDF
                self._stylesheets = [
                    CSS(string=_stylesheet(name), font_config=self._fonts)
                    for name in ("report.css", "report-print.css")
                ]
            # Parsing and layout allocate hundreds of thousands of short-lived objects, freed by
            # reference counting; cycle collections in between scan the whole heap and cost ~40%
            # of the render. Collection resumes right after (one render at a time, under the lock).
            collecting = gc.isenabled()
            gc.disable()
            try:
                html = HTML(string=_BETWEEN_TAGS.sub("><", document), base_url=str(templates_root()))
                pdf = bytes(html.write_pdf(stylesheets=self._stylesheets, font_config=self._fonts))
            finally:
                if collecting:
                    gc.enable()
            self._recent[key] = pdf
            while len(self._recent) > self._keep:
                self._recent.popitem(last=False)
            return pdf

    def clear(self) -> None:
        with self._lock:
            self._recent.clear()


make_pdf = _PdfMaker()


def render_pdf(report: Report, settings: Settings) -> bytes:
    """The report as PDF (A4, page header and numbers, table headers repeated on each page)."""
    return make_pdf(render_document(report, settings, inline_styles=False))


def pdf_filename(report: Report) -> str:
    """Contract-Performance-<contract no>-<date>.pdf, safe as a file name everywhere."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", report.contract_no).strip("._") or "contract"
    return f"Contract-Performance-{safe}-{report.today.isoformat()}.pdf"
