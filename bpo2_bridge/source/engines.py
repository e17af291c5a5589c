"""Read-only access to the BPO2 source database.

Layers, each independent of the others: the connection is opened read-only for its dialect,
every statement runs under a time limit, and every transaction is rolled back. The database
login itself should be SELECT-only (see sql/mssql_readonly_login.sql).
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, make_url
from sqlalchemy.engine import URL
from sqlalchemy.exc import ArgumentError

from ..cache.time_limit import limit_statements
from ..settings import Settings

SOURCE_PAGE_CACHE_KB = 256


class SourceError(RuntimeError):
    """The source cannot be reached or refused a statement; the message says why."""


def source_url(settings: Settings) -> URL:
    raw = settings.source_url or f"sqlite:///{settings.demo_source_path}"
    try:
        url = make_url(raw)
    except ArgumentError:
        raise SourceError(f"source_url is not a valid database URL: {raw!r}") from None
    if settings.source_password:
        url = url.set(password=settings.source_password)
    return url


def open_source(settings: Settings, timeout: float | None = None) -> Engine:
    """An engine on the source whose every session is read-only and time-limited."""
    return open_readonly(source_url(settings), timeout or settings.statement_timeout)


def open_readonly(url: URL | str, timeout: float, *, max_value_bytes: int | None = None) -> Engine:
    """A read-only engine on `url` whose statements stop after `timeout` seconds; on SQLite no
    string or blob may grow past `max_value_bytes` (ad-hoc SQL: memory per query stays bounded)."""
    url = make_url(url) if isinstance(url, str) else url
    backend = url.get_backend_name()
    if backend == "sqlite":
        return _sqlite_readonly(url, timeout, max_value_bytes)
    if backend == "postgresql":
        options = f"-c default_transaction_read_only=on -c statement_timeout={max(1, int(timeout * 1000))}"
        given = url.query.get("options")
        if given:  # keep the install's own options; ours come last and win
            options = f"{given if isinstance(given, str) else ' '.join(given)} {options}"
        return create_engine(
            url.difference_update_query(["options"]), connect_args={"options": options}, pool_pre_ping=True
        )
    if backend in {"mysql", "mariadb"}:
        engine = create_engine(url, pool_pre_ping=True)

        @event.listens_for(engine, "connect")
        def _mysql_readonly(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("SET SESSION TRANSACTION READ ONLY")
            try:
                cur.execute(f"SET SESSION max_statement_time = {float(timeout)}")  # MariaDB
            except Exception:  # MySQL spells it differently (milliseconds, SELECT only)
                cur.execute(f"SET SESSION max_execution_time = {max(1, int(timeout * 1000))}")
            cur.close()
            if hasattr(dbapi_conn, "timeout"):
                dbapi_conn.timeout = int(timeout) + 1  # pyodbc query timeout as a backstop

        return engine
    if backend == "mssql":
        engine = create_engine(_mssql_read_intent(url), pool_pre_ping=True)

        @event.listens_for(engine, "connect")
        def _mssql_timeout(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.timeout = max(1, int(timeout))  # pyodbc SQL_ATTR_QUERY_TIMEOUT

        return engine
    raise SourceError(
        f"unsupported source database {backend!r} (use mssql, postgresql, mysql/mariadb or sqlite)"
    )


def _mssql_read_intent(url: URL) -> URL:
    """Ask SQL Server for a read-only connection (routes to a readable secondary where one exists)."""
    query = dict(url.query)
    raw = query.get("odbc_connect")
    if isinstance(raw, str):
        # a raw ODBC string ignores the other URL keys, so the intent goes inside it
        if "applicationintent" not in raw.lower():
            query["odbc_connect"] = f"{raw.rstrip(';')};ApplicationIntent=ReadOnly"
    elif not any(key.lower() == "applicationintent" for key in query):
        query["ApplicationIntent"] = "ReadOnly"
    return url.set(query=query)


def _sqlite_readonly(url: URL, timeout: float, max_value_bytes: int | None = None) -> Engine:
    database = url.database or ""
    if not database or database == ":memory:":
        raise SourceError("a SQLite source must be a file")
    path = Path(database).resolve()

    def connect() -> sqlite3.Connection:
        if not path.exists():
            raise sqlite3.OperationalError(f"unable to open database file {path}")
        conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, check_same_thread=False)
        conn.execute("PRAGMA query_only = 1")
        # reads stream or seek by key: the OS file cache serves them, and a page cache of the
        # default 2 MB in every pooled connection would only hold copies of it
        conn.execute(f"PRAGMA cache_size = -{SOURCE_PAGE_CACHE_KB}")
        if max_value_bytes is not None:
            # randomblob(999999999), zeroblob or printf('%.*c', …) fail at once instead of
            # allocating a gigabyte
            conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, max_value_bytes)
        return conn

    # the file URL (not "sqlite://") so the engine pools per file, not one connection per thread
    engine = create_engine(url.set(database=str(path)), creator=connect)
    # SQLite has no server-side limit: any statement running past `timeout` seconds, executing
    # and fetching together, is interrupted. Long reads go in keyset batches.
    limit_statements(engine, timeout)
    return engine


@contextmanager
def source_session(engine: Engine, *, keep_compiled: bool = True) -> Iterator[Connection]:
    """A connection whose transaction is always rolled back, whatever happens inside.

    ``keep_compiled=False`` for statements over tables reflected for this run alone (a sync):
    the engine's cache of compiled statements could never reuse them, and kept every run's
    reflected tables alive until 500 statements pushed them out, some 0.5 MB per sync."""
    try:
        conn = engine.connect()
    except Exception as exc:  # driver errors differ per dialect; report one clear line
        raise SourceError(f"BPO2 source unreachable: {first_line(exc)}") from exc
    if not keep_compiled:
        conn.execution_options(compiled_cache=None)
    try:
        yield conn
    finally:
        try:
            conn.rollback()
        except Exception:
            # the connection broke; the server drops its transaction with it. Keep the first error.
            conn.invalidate()
        finally:
            conn.close()


# pyodbc wraps the message as "[SQLSTATE] [driver][server]text (native code) (SQLExecDirectW)"
_ODBC_TAGS = re.compile(r"^(\s*\[[^\]]*\]\s*)+")
_ODBC_CALL = re.compile(r"\s*\(SQL\w+\)\s*$")


def first_line(exc: BaseException) -> str:
    """A driver error boiled down to one readable line."""
    orig = getattr(exc, "orig", None) or exc
    args: tuple[Any, ...] = getattr(orig, "args", ())
    pyodbc_style = len(args) == 2 and all(isinstance(a, str) for a in args)  # (sqlstate, message)
    raw = (args[1] if pyodbc_style else str(orig)).strip()
    text = raw.splitlines()[0] if raw else type(orig).__name__
    text = _ODBC_CALL.sub("", _ODBC_TAGS.sub("", text)) or text
    return text[:300]


def is_timeout(exc: BaseException) -> bool:
    text = str(getattr(exc, "orig", exc)).lower()
    return any(
        marker in text
        for marker in (
            "interrupted",  # sqlite progress handler
            "statement timeout",  # postgresql
            "max_statement_time",  # mariadb
            "query execution was interrupted",
            "timeout expired",  # sql server via pyodbc
            "hyt00",
        )
    )
