"""Values as they leave the product in machine-readable form: JSON values, and CSV cells and
text for the web screens' downloads and the command line alike.

One place, so a date, an amount or a blob reads the same in the grid's JSON, a CSV download,
`bpo2-bridge sql --format json|csv` and a stored check result; and so every CSV, wherever it is
written, neutralises what a spreadsheet would run as a formula.
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

# what a spreadsheet takes for the start of a formula (OWASP's CSV injection list)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CHUNK_ROWS = 1000  # rows per piece of a streamed CSV


def json_value(value: Any) -> Any:
    """A value JSON carries as itself: dates as ISO 8601, amounts as numbers (whole ones as
    integers; a JSON number's text is the amount's, so ``parse_float=Decimal`` reads it back
    exactly), bytes as their size, lists and mappings with their items so converted, anything
    else JSON does not know as its text."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [json_value(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"<{len(value)} bytes>"
    return str(value)


def csv_cell(value: Any) -> Any:
    """A value as a CSV cell: numbers stay numbers (negative ones too); text a spreadsheet would
    run as a formula gets a leading apostrophe, so it shows as the text it is."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float, decimal.Decimal)):
        return json_value(value)
    text = str(json_value(value))
    return "'" + text if text.startswith(FORMULA_START) else text


def csv_lines(
    header: Sequence[str], rows: Iterable[Sequence[Any]], *, bom: bool = True, newline: str = "\r\n"
) -> Iterator[str]:
    """The CSV text in pieces: a BOM when asked (so Excel reads UTF-8), the header row, then the
    rows; every cell, header included, through csv_cell. Lines end as RFC 4180 has it unless
    ``newline`` says otherwise (a terminal's "\\n")."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=newline)
    if bom:
        buffer.write("\ufeff")
    writer.writerow([csv_cell(h) for h in header])
    for count, row in enumerate(rows, 1):
        writer.writerow([csv_cell(v) for v in row])
        if count % CHUNK_ROWS == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
