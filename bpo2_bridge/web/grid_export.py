"""A grid's filtered rows as JSON, CSV and XLSX.

CSV and XLSX carry every filtered row in the grid's order up to the grid's export cap; when the
cap cut rows off, the ``X-Export-Truncated`` header says so (and the XLSX "About" sheet). Both
head their columns with the labels the screen shows; CSV cells a spreadsheet would run as a
formula are neutralised (XLSX cells are written as strings, never formulas).
"""

from __future__ import annotations

import datetime as dt
import decimal
import io
import json
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import xlsxwriter
from flask import Response, stream_with_context

from ..values import csv_lines

if TYPE_CHECKING:
    from ..queries.grid.engine import Grid
    from .grid_page import PageView


def json_response(payload: dict[str, Any]) -> Response:
    return Response(json.dumps(payload, ensure_ascii=False, default=str), mimetype="application/json")


def _filename(grid: Grid, ext: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", grid.name) + "." + ext


def _headers(grid: Grid, page: PageView, ext: str) -> dict[str, str]:
    return {
        "Content-Disposition": f'attachment; filename="{_filename(grid, ext)}"',
        "X-Export-Rows": str(len(page.rows)),
        "X-Export-Truncated": "true" if page.truncated else "false",
        "X-Export-Cap": str(grid.export_cap),
    }


def csv_download(header: Sequence[str], rows: Sequence[Sequence[Any]], headers: dict[str, str]) -> Response:
    """A CSV download of `rows` under `header` (values.csv_lines, as the command line writes)."""
    return Response(stream_with_context(csv_lines(header, rows)), mimetype="text/csv", headers=headers)


def csv_response(grid: Grid, page: PageView, as_of: Any) -> Response:
    """Header row of the column labels (as the XLSX has them), then the rows."""
    keys = [c.key for c in grid.columns]
    rows = [[row[k] for k in keys] for row in page.rows]
    return csv_download([c.label for c in grid.columns], rows, _headers(grid, page, "csv"))


def xlsx_response(grid: Grid, page: PageView, as_of: Any) -> Response:
    """One sheet of rows (dates as dates, numbers as numbers) and an About sheet."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True, "remove_timezone": True})
    bold = book.add_format({"bold": True})
    formats = {
        "date": book.add_format({"num_format": "yyyy-mm-dd"}),
        "datetime": book.add_format({"num_format": "yyyy-mm-dd hh:mm"}),
    }
    sheet = book.add_worksheet(re.sub(r"[\[\]:*?/\\']", "-", grid.name)[:31] or "Rows")
    for col, column in enumerate(grid.columns):
        sheet.write_string(0, col, column.label, bold)
        sheet.set_column(col, col, max(10, min(40, len(column.label) + 2)))
    for r, row in enumerate(page.rows, start=1):
        for col, column in enumerate(grid.columns):
            _write(sheet, r, col, row[column.key], formats)
    sheet.freeze_panes(1, 0)
    if page.rows:
        sheet.autofilter(0, 0, len(page.rows), len(grid.columns) - 1)
    about = book.add_worksheet("About")
    facts = [
        ("Rows", len(page.rows)),
        ("Filter", page.filter_text),
        ("Search", page.q),
        ("Sort", ("-" if page.sort_desc else "") + page.sort_key),
        ("Data as of", as_of.isoformat() if as_of is not None else ""),
    ]
    facts += [(f"Filter Row: {k}", v) for k, v in page.cells.items()]
    if page.truncated:
        facts.append(("Note", f"Export stopped at {grid.export_cap:,} rows; narrow the filter for the rest."))
    for r, (name, value) in enumerate(facts):
        about.write_string(r, 0, name, bold)
        if isinstance(value, str):
            about.write_string(r, 1, value)  # a search for "=HYPERLINK(…)" stays text, not a formula
        else:
            about.write(r, 1, value)
    about.set_column(0, 0, 20)
    about.set_column(1, 1, 60)
    book.close()
    return Response(
        buffer.getvalue(),
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers=_headers(grid, page, "xlsx"),
    )


def _write(sheet: Any, row: int, col: int, value: Any, formats: dict[str, Any]) -> None:
    if value is None:
        return
    if isinstance(value, bool):
        sheet.write_boolean(row, col, value)
    elif isinstance(value, dt.datetime):
        sheet.write_datetime(row, col, value, formats["datetime"])
    elif isinstance(value, dt.date):
        sheet.write_datetime(row, col, value, formats["date"])
    elif isinstance(value, (int, float, decimal.Decimal)):
        sheet.write_number(row, col, float(value))
    else:
        sheet.write_string(row, col, str(value))
