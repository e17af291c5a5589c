"""What a request and its templates see: the running bridge, and the formatting filters."""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any

from flask import Flask, current_app

from ..bridge import Bridge
from ..report.formatting import NumberFormat
from .links import LinkFor

EXTENSION_KEY = "bpo2_bridge"


def current_bridge() -> Bridge:
    """The Bridge of the app handling this request (settings, mapping, engines, cache)."""
    bridge: Bridge = current_app.extensions[EXTENSION_KEY]
    return bridge


def release_cache() -> None:
    """The request's cache connection goes back now, before long work that reads no more (an
    app without a Bridge, a grid test's, has none)."""
    bridge: Bridge | None = current_app.extensions.get(EXTENSION_KEY)
    if bridge is not None:
        bridge.cache.release()


def _numbers() -> NumberFormat:
    return NumberFormat.from_settings(current_bridge().settings)


def group(value: Any, decimals: int = 0) -> str:
    """A number grouped per settings; blank for no value (one formatter with the report's)."""
    if value is None or value == "":
        return ""
    return _numbers().number(decimal.Decimal(str(value)), decimals)


def money(value: Any) -> str:
    if value is None:
        return ""
    return _numbers().money(decimal.Decimal(str(value)))


def cache_as_of() -> Any:
    """When the serving cache was last synced, or None (no cache yet, or it cannot be read)."""
    try:
        return current_bridge().cache.as_of()
    except Exception:
        return None


def date(value: Any) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        return value[:10]
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d")
    return str(value.isoformat())


def datetime(value: Any) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return str(value.isoformat())


def time(value: Any) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return str(value.strftime("%H:%M"))


def filesize(value: Any) -> str:
    """A size in bytes as people read it: "783 B", "1.2 KB", "3.4 MB"."""
    if value is None:
        return ""
    size = float(value)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{int(size)} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return str(value)


def register_filters(app: Flask) -> None:
    app.add_template_filter(group, "number")
    app.add_template_filter(money, "money")
    app.add_template_filter(date, "date")
    app.add_template_filter(datetime, "datetime")
    app.add_template_filter(time, "time")
    app.add_template_filter(filesize, "filesize")
    app.add_template_global(LinkFor, "link_for")
