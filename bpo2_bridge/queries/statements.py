"""Statements built once per cache connection: rendering a SQL file and parsing its text costs
more than running one of the screens' small queries, and every request asks for them again.

The memo is held in the connection's ``info``, which lives as long as the pooled connection
(and so with the engine the Bridge's cache opened and closes), never in a module global.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from sqlalchemy import Connection

T = TypeVar("T")

STATEMENTS_INFO = "bpo2_statements"  # key of Connection.info: (name, form) -> statement


def statement(conn: Connection, key: Hashable, build: Callable[[], T]) -> T:
    """The statement for ``key`` (its name and form: what ``build`` makes it from), built on
    this connection's first use of it. Keys are few: a name and a handful of switches."""
    memo: dict[Hashable, Any] = conn.info.setdefault(STATEMENTS_INFO, {})
    key = (conn.dialect.name, key)
    found = memo.get(key)
    if found is None:
        found = memo[key] = build()
    return found
