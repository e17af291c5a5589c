"""Structured logs: one line per event on stderr, as JSON (default) or key=value pairs.

`configure_logging` is the one place that sets logging up; `serve`, `scheduler` and `sync`
call it at start. Every line carries the time, level, logger and message; anything passed in
`extra={...}` (e.g. the request log's method, path, status, duration_ms) becomes a field of
its own, so log collectors can filter on it without parsing the message.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from types import MappingProxyType
from typing import Any, TextIO

FORMATS = ("json", "text")
# attributes every LogRecord has; anything else on a record came from `extra`
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}
_QUIET = MappingProxyType({"waitress": logging.WARNING, "apscheduler": logging.WARNING})


def fields(record: logging.LogRecord) -> dict[str, Any]:
    """The record as an ordered dict of fields: ts, level, logger, message, extras, exc."""
    out: dict[str, Any] = {
        "ts": dt.datetime.fromtimestamp(record.created).astimezone().isoformat(timespec="milliseconds"),
        "level": record.levelname.lower(),
        "logger": record.name,
        "message": record.getMessage(),
    }
    for key, value in vars(record).items():
        if key not in _STANDARD and not key.startswith("_"):
            out[key] = value
    if record.exc_info:
        out["exc"] = logging.Formatter().formatException(record.exc_info)
    elif record.exc_text:
        out["exc"] = record.exc_text
    return out


class JsonFormatter(logging.Formatter):
    """One JSON object per line (newlines inside values are escaped, so a line is an event)."""

    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(fields(record), default=str, ensure_ascii=False)


class KeyValueFormatter(logging.Formatter):
    """`ts=… level=info logger=… message="…" key=value`: readable and still greppable."""

    def format(self, record: logging.LogRecord) -> str:
        return " ".join(f"{key}={_kv(value)}" for key, value in fields(record).items())


def _kv(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    if text and text.isprintable() and not any(c in text for c in ' "=\\'):
        return text
    return json.dumps(text, ensure_ascii=False)


class _BridgeHandler(logging.StreamHandler):
    """Marks the handler we installed, so configuring twice replaces it instead of doubling lines."""


def configure_logging(
    settings: Any = None,
    *,
    level: str | int | None = None,
    fmt: str | None = None,
    stream: TextIO | None = None,
) -> logging.Handler:
    """Send every log record at `level` or above to `stream` (stderr) in `fmt` (json | text).

    Level and format come from the arguments, else from the settings `log_level` and
    `log_format` when they exist, else INFO and json. Third-party chatter (waitress,
    APScheduler) is kept to warnings.
    """
    level = level or getattr(settings, "log_level", None) or "INFO"
    fmt = (fmt or getattr(settings, "log_format", None) or "json").lower()
    if fmt not in FORMATS:
        raise ValueError(f"log_format: {fmt!r} is not one of {', '.join(FORMATS)}")
    numeric = logging.getLevelName(level.upper()) if isinstance(level, str) else level
    if not isinstance(numeric, int):
        raise ValueError(f"log_level: {level!r} is not a logging level (DEBUG, INFO, WARNING, ERROR)")
    handler = _BridgeHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else KeyValueFormatter())
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _BridgeHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(numeric)
    for name, floor in _QUIET.items():
        logging.getLogger(name).setLevel(max(floor, numeric))
    return handler
