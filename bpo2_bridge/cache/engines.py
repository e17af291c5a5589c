"""Engines on cache snapshots: how a SQLite snapshot's connections are opened and pooled.

PostgreSQL snapshots share the cache's one engine (a schema each); SQLite snapshots are files,
each read through an engine of its own, and written through short-lived ones.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.pool import NullPool, QueuePool

from .time_limit import limit_statements

# Each web thread keeps a reader connection, and what every one of them caches adds up: SQLite's
# default 2 MB page cache would mostly hold copies of pages the OS file cache holds already, and
# Python's default of 128 prepared statements (13 KB each for a contract grid query) would keep
# every variant of every grid query in every connection
READER_PAGE_CACHE_KB = 1024
READER_STATEMENTS = 32
# cache connections a web process keeps open. A thread waiting for a PDF holds none, so threads
# beyond these (see pool_sizes) open one only when they need it, and close it after
KEPT_CONNECTIONS = 16
# how long an incremental sync or a Refresh waits for another's write on the serving snapshot
WRITE_WAIT_SECONDS = 30.0


def pool_sizes(threads: int) -> dict[str, int]:
    kept = min(threads, KEPT_CONNECTIONS)
    # every thread can have one at once, and a few more for the in-process scheduler. Last in,
    # first out: a quiet spell's requests reuse the few connections whose caches are warm,
    # instead of going round all of them and filling every one with the same pages
    return {"pool_size": kept, "max_overflow": threads - kept + 10, "pool_use_lifo": True}


def reader_engine(path: Path, threads: int, *, timeout: float) -> Engine:
    """Pooled read-only connections on a published snapshot, for the web threads; each
    statement may run `timeout` seconds."""
    # BEGIN (deferred): each reader sees one consistent snapshot across statements;
    # connections kept for the web threads, so none is opened (and its schema and
    # page cache built again) per request when many threads are busy
    engine = _sqlite_engine(
        path,
        begin="BEGIN",
        pragmas=("PRAGMA query_only=1", f"PRAGMA cache_size=-{READER_PAGE_CACHE_KB}"),
        pool=pool_sizes(threads),
        statements=READER_STATEMENTS,
    )
    limit_statements(engine, timeout)
    return engine


def writer_engine(path: Path) -> Engine:
    """One writer on a published snapshot (incremental sync, Refresh)."""
    # take the write lock up front: readers carry on (WAL), a concurrent writer waits up to
    # WRITE_WAIT_SECONDS, then Cache.write raises CacheBusy
    # WAL + synchronous=NORMAL: a commit survives a crash of the process; only a power cut
    # may lose the last commits, which the next sync reads again anyway
    return _sqlite_engine(
        path, begin="BEGIN IMMEDIATE", pragmas=("PRAGMA synchronous=NORMAL",), wait=WRITE_WAIT_SECONDS
    )


def builder_engine(path: Path) -> Engine:
    """The full sync's writer of a new snapshot file, created empty."""
    # nobody reads this file before it is published; a crash just leaves it to be deleted
    return _sqlite_engine(
        path,
        begin="BEGIN",
        create=True,
        pragmas=("PRAGMA journal_mode=OFF", "PRAGMA synchronous=OFF", "PRAGMA cache_size=-65536"),
    )


def _sqlite_engine(
    path: Path,
    *,
    begin: str,
    pragmas: tuple[str, ...] = (),
    create: bool = False,
    pool: dict[str, int] | None = None,
    statements: int = 128,
    wait: float = 30,
) -> Engine:
    """SQLite engine whose transactions start with `begin` (the driver's own handling is off);
    a connection waits up to `wait` seconds for another's lock."""
    uri = path.resolve().as_uri() + ("?mode=rwc" if create else "?mode=rw")  # rw: never create

    def connect() -> sqlite3.Connection:
        conn = sqlite3.connect(
            uri,
            uri=True,
            check_same_thread=False,
            timeout=wait,
            isolation_level=None,
            cached_statements=statements,
        )
        conn.execute(f"PRAGMA busy_timeout={round(wait * 1000)}")
        for pragma in pragmas:
            conn.execute(pragma)
        return conn

    engine = create_engine(
        "sqlite://",
        creator=connect,
        **({"poolclass": QueuePool, **pool} if pool else {"poolclass": NullPool}),
    )

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql(begin)

    return engine
