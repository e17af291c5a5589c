"""What ad-hoc SQL may be beyond one SELECT (the Policy the guard applies), the error the guard
raises when it is not, and the dialects it knows."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from types import MappingProxyType

# SQLAlchemy dialect names (and sqlglot's own), as the guard and the query_allowed_functions
# setting name them -> sqlglot dialect
DIALECTS = MappingProxyType(
    {
        "mssql": "tsql",
        "tsql": "tsql",
        "postgresql": "postgres",
        "postgres": "postgres",
        "mysql": "mysql",
        "mariadb": "mysql",
        "sqlite": "sqlite",
    }
)


@dataclass(frozen=True)
class Policy:
    """What a query may be beyond one SELECT: its size, the functions it may call, the tables
    it may read, and the row cap written into it."""

    max_chars: int = 20_000  # the query_max_chars setting
    max_depth: int = 32  # the query_max_depth setting: brackets inside brackets
    functions: tuple[str, ...] = ()  # query_allowed_functions: names added to the allow list
    tables: Collection[str] | None = None  # the only tables it may read (None: any)
    max_rows: int | None = None  # the outermost LIMIT (None: none added)


class RefusedQuery(ValueError):
    """The SQL is not exactly one read-only SELECT; the message says why, on one line."""

    def __init__(self, reason: str) -> None:
        text = " ".join(reason.split())
        super().__init__(text if len(text) <= 240 else text[:239] + "…")
