"""How a setting's value is checked and converted, whether it came from TOML or the environment.

Each function takes the raw value (a TOML value, or the text of an environment variable) and
returns the typed value, or raises ValueError saying what was expected; the loader adds the key.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
import zoneinfo
from collections.abc import Callable
from typing import Any


def as_int(lo: int | None = None, hi: int | None = None) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        if isinstance(value, bool):
            raise ValueError("expected a whole number")
        try:
            number = int(str(value).strip())
        except ValueError:
            raise ValueError(f"expected a whole number, got {value!r}") from None
        if lo is not None and number < lo:
            raise ValueError(f"must be at least {lo}, got {number}")
        if hi is not None and number > hi:
            raise ValueError(f"must be at most {hi}, got {number}")
        return number

    return parse


def as_seconds(lo: float, hi: float) -> Callable[[Any], float]:
    """A duration in seconds, whole or with a fraction (0.5), between `lo` and `hi`."""

    def parse(value: Any) -> float:
        if isinstance(value, bool):
            raise ValueError("expected a number of seconds")
        try:
            number = float(str(value).strip())
        except ValueError:
            raise ValueError(f"expected a number of seconds, got {value!r}") from None
        if not lo <= number <= hi:  # also refuses nan
            raise ValueError(f"must be between {lo:g} and {hi:g} seconds, got {value!r}")
        return number

    return parse


def as_str(value: Any) -> str:
    if not isinstance(value, (str, int, float)):
        raise ValueError(f"expected text, got {type(value).__name__}")
    return str(value)


def as_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise ValueError("expected a list of text values (comma-separated in the environment)")


_FUNCTION = re.compile(r"((mssql|postgresql|mysql|mariadb|sqlite):)?([a-z_][a-z0-9_$]*\.)?[a-z_][a-z0-9_$]*")


def as_function_names(value: Any) -> list[str]:
    """Function names, each `name`, `schema.name` or `engine:name` (mssql, postgresql, mysql,
    mariadb, sqlite); lower case."""
    names = [name.lower() for name in as_list(value)]
    for name in names:
        if not _FUNCTION.fullmatch(name):
            raise ValueError(
                f"{name!r} is not a function name (name, schema.name, or mssql:/postgresql:/mysql:/sqlite: before it)"
            )
    return names


def as_choice(*options: str) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        text = str(value).strip().lower()
        if text not in options:
            raise ValueError(f"must be one of {', '.join(options)}, got {value!r}")
        return text

    return parse


def as_date_or_empty(value: Any) -> str:
    text = str(value).strip()
    if text:
        try:
            dt.date.fromisoformat(text)
        except ValueError:
            raise ValueError(f"expected a date as YYYY-MM-DD or empty, got {value!r}") from None
    return text


def as_timezone(value: Any) -> str:
    text = str(value).strip()
    try:
        zoneinfo.ZoneInfo(text)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r} (e.g. Africa/Johannesburg)") from None
    return text


def as_hhmm(value: Any) -> str:
    text = str(value).strip()
    try:
        dt.time.fromisoformat(text)
    except ValueError:
        raise ValueError(f"expected a time as HH:MM, got {value!r}") from None
    return text


def as_number(lo: float, hi: float) -> Callable[[Any], float]:
    """A number, whole or with a fraction (12.5), between `lo` and `hi`."""

    def parse(value: Any) -> float:
        if isinstance(value, bool):
            raise ValueError("expected a number")
        try:
            number = float(str(value).strip())
        except ValueError:
            raise ValueError(f"expected a number, got {value!r}") from None
        if not lo <= number <= hi:  # also refuses nan
            raise ValueError(f"must be between {lo:g} and {hi:g}, got {value!r}")
        return number

    return parse


_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")


def as_bool(value: Any) -> bool:
    """true or false (TOML), or true/false, yes/no, on/off, 1/0 in the environment."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"expected true or false, got {value!r}")


def as_base_url(value: Any) -> str:
    """An http(s) URL without a query or fragment (the trailing slash dropped), or empty."""
    from urllib.parse import urlsplit

    text = str(value).strip().rstrip("/")
    if not text:
        return ""
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ValueError(
            f"expected an http:// or https:// address such as https://crm.example.local, got {value!r}"
        )
    return text


def as_networks(value: Any) -> list[str]:
    """IP addresses and networks (10.0.0.5, 10.0.0.0/24, ::1): each must parse, and a network
    must not have host bits set (10.0.0.5/24 would silently mean something else)."""
    entries = as_list(value)
    for entry in entries:
        try:
            ipaddress.ip_network(entry, strict=True)
        except ValueError as exc:
            raise ValueError(f"{entry!r} is not an IP address or network ({exc})") from None
    return entries


def as_database_url(*backends: str) -> Callable[[Any], str]:
    """Empty, or a SQLAlchemy database URL whose dialect and driver are installed (and, when
    `backends` are named, of one of them)."""

    def parse(value: Any) -> str:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError, NoSuchModuleError

        text = as_str(value).strip()
        if not text:
            return text
        try:
            url = make_url(text)
        except (ArgumentError, ValueError):
            raise ValueError(
                "not a valid database URL (dialect+driver://user@host:port/database, or sqlite:///path)"
            ) from None
        if backends and url.get_backend_name() not in backends:
            raise ValueError(
                f"{url.get_backend_name()!r} is not supported here (use {' or '.join(backends)})"
            )
        try:
            dialect = url.get_dialect()
        except NoSuchModuleError:
            raise ValueError(f"no database dialect or driver {url.drivername!r} is installed") from None
        try:
            dialect.import_dbapi()
        except ImportError as exc:
            raise ValueError(f"the driver of {url.drivername!r} is not installed ({exc})") from None
        return text

    return parse


def as_existing_file_or_empty(value: Any) -> str:
    """Empty (the packaged default), or a file that exists."""
    from pathlib import Path

    text = as_str(value).strip()
    if text and not Path(text).expanduser().is_file():
        raise ValueError(f"no such file: {text}")
    return text
