"""Time limits on SQL statements, and the error a screen query past its limit raises.

SQLite has no server-side statement timeout: a progress handler, called every CHECK_EVERY
virtual machine instructions, interrupts the statement once the clock passes a deadline.
SQLite does most of a SELECT's work while rows are fetched, after execute() returns, so a
deadline stays armed until the next statement arms a new one or the connection goes back to
the pool. PostgreSQL enforces its own statement_timeout. Both engines' timeout errors are
recognised here, so a screen query past its limit becomes one QueryTimeout.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, event
from sqlalchemy.exc import DBAPIError

# SQLite virtual machine instructions between two looks at the clock (a few milliseconds of a
# statement's work). Each look runs Python, so it waits for the interpreter's lock while another
# thread of the web process holds it: with one other busy thread, a 6.5 ms count of 100,000
# contracts took 580 ms looking every 10,000 instructions, 80 ms every 100,000 and 22 ms every
# 1,000,000. Under the 50-user load every long statement paid that wait at each look.
CHECK_EVERY = 1_000_000
# the same under a budget (a plan tried first, a count that says what it found by then): those
# limits are 8-120 ms, and 1,000,000 instructions overshot an 8 ms walk by 50-80 ms on this
# project's 2-core bench machine (a contract-number search that gives way to a sort)
BUDGET_CHECK_EVERY = 100_000
# SQLSTATE query_canceled: what PostgreSQL answers a statement stopped by statement_timeout
# (or cancelled by an administrator, which a reader cannot tell apart and is rare enough)
PG_QUERY_CANCELED = "57014"


def clock() -> float:
    """The time deadlines are measured in; looked up at each check, so tests can move it."""
    return time.monotonic()


def work_clock() -> float:
    """This thread's own CPU time, which a ``budget(work=True)`` is measured in; looked up at
    each check, so tests can move it."""
    return time.thread_time()


class QueryTimeout(RuntimeError):
    """A screen query on the cache ran longer than screen_query_timeout."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        super().__init__(
            f"The query took longer than {seconds:g} s, the screen query time limit; "
            "narrow the filter or try again."
        )


def arm(dbapi_conn: Any, seconds: float, work: float | None = None, *, budget: bool = False) -> None:
    """Interrupt whatever the sqlite3 connection runs once `seconds` from now have passed or,
    with ``work``, once it has used that much of this thread's CPU time. ``budget``: a short
    limit, looked at every BUDGET_CHECK_EVERY instructions."""
    deadline = clock() + seconds
    every = min(CHECK_EVERY, BUDGET_CHECK_EVERY) if budget or work is not None else CHECK_EVERY
    if work is None:
        dbapi_conn.set_progress_handler(lambda: 1 if clock() > deadline else 0, every)
        return
    spent = work_clock() + work
    dbapi_conn.set_progress_handler(lambda: 1 if clock() > deadline or work_clock() > spent else 0, every)


def disarm(dbapi_conn: Any, *_: Any) -> None:
    """No deadline on the sqlite3 connection any more (also a pool event listener)."""
    if dbapi_conn is not None:  # an invalidated connection is checked in as None
        dbapi_conn.set_progress_handler(None, 0)


def limit_statements(engine: Engine, seconds: float) -> None:
    """Give each statement on the SQLite `engine` `seconds` to run, fetching its rows included.

    Armed anew before every statement, so a quick one after a slow one gets its full time;
    disarmed when the connection goes back to the pool.
    """

    @event.listens_for(engine, "before_cursor_execute")
    def _arm(conn: Connection, *_: Any) -> None:
        info = conn.info
        arm(
            conn.connection.dbapi_connection,
            min(seconds, info.get(BUDGET, seconds)),
            info.get(WORK_BUDGET),
            budget=BUDGET in info,
        )

    event.listen(engine, "reset", disarm)
    event.listen(engine, "checkin", disarm)


# Connection.info keys: a shorter limit for the statements of a block, in wall or CPU time
BUDGET = "bpo2_budget"
WORK_BUDGET = "bpo2_work_budget"


@contextmanager
def budget(conn: Connection, seconds: float, *, work: bool = False) -> Iterator[None]:
    """A shorter limit for the SQLite statements ``conn`` runs inside the block (a count that
    says what it found by then, a plan that is tried first and given up for another when it
    takes too long); the caller tells its end apart with ``is_time_limit``.

    ``work``: the limit is this thread's CPU time (``work_clock``), not the wall clock's. A
    choice between plans must not depend on how busy the machine is: under the 50-user load a
    walk of the sort order given 30 ms of wall time ran out waiting for a core, and gave way to
    a sort of every matching row that took seconds. A count cut short by a busy machine only
    says "2,000+" instead of "10,000+" (wall time, as Datasette's count limit)."""
    key = WORK_BUDGET if work else BUDGET
    conn.info[key] = seconds
    try:
        yield
    finally:
        conn.info.pop(key, None)


def pg_statement_timeout(seconds: float) -> str:
    """SQL limiting every later statement of the current PostgreSQL transaction."""
    return f"SET LOCAL statement_timeout = {max(1, round(seconds * 1000))}"


def is_time_limit(exc: BaseException) -> bool:
    """Whether a driver error is a statement stopped by its time limit: SQLite interrupted by
    the progress handler, or PostgreSQL's statement_timeout."""
    orig = getattr(exc, "orig", exc)
    if isinstance(orig, sqlite3.OperationalError):
        return getattr(orig, "sqlite_errorcode", None) == sqlite3.SQLITE_INTERRUPT
    return getattr(orig, "sqlstate", None) == PG_QUERY_CANCELED


@contextmanager
def raising_query_timeout(seconds: float) -> Iterator[None]:
    """Inside the block, a statement stopped by its time limit raises QueryTimeout(seconds)."""
    try:
        yield
    except DBAPIError as exc:
        if is_time_limit(exc):
            raise QueryTimeout(seconds) from exc
        raise
