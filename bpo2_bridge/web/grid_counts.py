"""Row counts of grid queries, remembered per cache generation.

Counting a filtered query over a million contracts costs far more than reading one page of it,
and the answer only changes when the cache is written. A ``CountCache`` keeps the latest counts
in a small LRU keyed by the generation of the data (see ``crm.count_generation``: the snapshot
plus the last write run) and by the compiled statement with its parameters, so the same filter
over the same data is counted once. A generation of ``None`` means "the data may be changing
right now": counts are then always taken from the database and never remembered.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

from sqlalchemy import Connection, Select

Counter = Callable[[Connection, Select[Any]], int]

__all__ = ["COUNTS", "CountCache", "Counter", "count_now"]


def count_now(conn: Connection, statement: Select[Any]) -> int:
    """The count, straight from the database."""
    return int(conn.execute(statement).scalar_one())


class CountCache:
    """A bounded, thread-safe LRU of counts: (generation, SQL, parameters) -> rows."""

    def __init__(self, size: int = 512) -> None:
        self.size = size
        self._counts: OrderedDict[Hashable, int] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def counter(self, generation: Hashable | None) -> Counter:
        """``count(conn, statement)`` remembered under ``generation`` (None: never remembered)."""
        if generation is None:
            return count_now

        def count(conn: Connection, statement: Select[Any]) -> int:
            key = (generation, statement_key(conn, statement))
            with self._lock:
                found = self._counts.get(key)
                if found is not None:
                    self._counts.move_to_end(key)
                    self.hits += 1
                    return found
                self.misses += 1
            value = count_now(conn, statement)
            with self._lock:
                self._counts[key] = value
                self._counts.move_to_end(key)
                while len(self._counts) > self.size:
                    self._counts.popitem(last=False)
            return value

        return count

    def clear(self) -> None:
        with self._lock:
            self._counts.clear()

    def __len__(self) -> int:
        return len(self._counts)


def statement_key(conn: Connection, statement: Select[Any]) -> tuple[Any, ...]:
    """The statement as the database receives it: dialect, SQL text and every bound value."""
    compiled = statement.compile(dialect=conn.dialect)
    values = tuple(sorted((name, _frozen(value)) for name, value in compiled.params.items()))
    return (conn.dialect.name, str(compiled), values)


def _frozen(value: Any) -> Hashable:
    if isinstance(value, (list, tuple, set, frozenset)):
        # typed so 1 and "1" (or True and 1) never share an entry
        return tuple((type(v).__name__, _frozen(v)) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _frozen(v)) for k, v in value.items()))
    return (type(value).__name__, value)


COUNTS = CountCache()
