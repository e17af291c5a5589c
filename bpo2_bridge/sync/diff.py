"""Comparing BPO2 rows with cached rows, and applying the differences in batches."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from .plan import EntityPlan, Row
from .results import empty_changes
from .transfer import delete_keys, insert_rows, update_rows

if TYPE_CHECKING:
    from .touched import Touched

Key = tuple[Any, ...]


class Changes:
    """Added / changed / removed rows of one entity, written to the cache every `limit` rows."""

    def __init__(
        self,
        conn: Connection,
        plan: EntityPlan,
        limit: int,
        touched: Touched | None = None,
    ) -> None:
        self.conn = conn
        self.touched = touched  # told the keys written, before and after each write
        self.plan = plan
        self.limit = limit
        self.counts = empty_changes()
        self._added: list[Row] = []
        self._changed: dict[tuple[int, ...], list[Row]] = {}
        self._pending = 0
        self._values = tuple(i for i in range(len(plan.columns)) if i not in plan.pk_index)
        self._removed: list[Key] = []

    def add(self, row: Row) -> None:
        self._added.append(row)
        self.counts["added"] += 1
        self._maybe_flush()

    def change(self, row: Row, old: Row) -> None:
        """`row` replaces the cached `old` (same key); only the differing columns are written."""
        columns = tuple(i for i in self._values if row[i] != old[i])
        self._changed.setdefault(columns, []).append(row)
        self.counts["changed"] += 1
        self._maybe_flush()

    def remove(self, key: Key) -> None:
        self._removed.append(key)
        self.counts["removed"] += 1
        self._maybe_flush()

    def upsert(self, row: Row, old: Row | None) -> None:
        """`row` from BPO2 against the cached `old` (None: not cached)."""
        if old is None:
            self.add(row)
        elif old != row:
            self.change(row, old)

    def upsert_all(self, rows: Sequence[Row], cached: dict[Key, Row]) -> None:
        """`upsert` for a batch, against the cached rows by key: the per-row path of an
        incremental sync, so the loop keeps everything it needs at hand."""
        key_of, values, added, changed = self.plan.key_of, self._values, self._added, self._changed
        fresh = 0
        for row in rows:
            old = cached.get(key_of(row))
            if old is None:
                added.append(row)
                fresh += 1
            elif old != row:
                columns = tuple([i for i in values if row[i] != old[i]])
                group = changed.get(columns)
                if group is None:
                    changed[columns] = [row]
                else:
                    group.append(row)
                self.counts["changed"] += 1
                self._pending += 1
        self.counts["added"] += fresh
        self._pending += fresh
        if self._pending >= self.limit:
            self.flush()

    def flush(self) -> None:
        # in key order: each write lands next to the previous one in the cache's key b-tree,
        # not on a random page (changed rows arrive in change order)
        if not (self._removed or self._changed or self._added):
            return
        key_of = self.plan.key_of
        self._removed.sort()
        for rows in self._changed.values():
            rows.sort(key=key_of)
        self._added.sort(key=key_of)
        if self.touched is not None:  # the customers and contracts the old rows belonged to
            self._note(self._removed, self._changed)
        delete_keys(self.conn, self.plan, self._removed)
        update_rows(self.conn, self.plan, self._changed)
        insert_rows(self.conn, self.plan, self._added)
        if self.touched is not None:  # and those the new rows belong to
            self._note([key_of(row) for row in self._added], self._changed)
        self._removed, self._changed, self._added = [], {}, []
        self._pending = 0

    def _note(self, keys: list[Key], changed: dict[tuple[int, ...], list[Row]]) -> None:
        """Tell ``touched`` the keys of rows added or removed, and of rows changed with the
        columns that changed (a change to a column no derived row reads touches nothing)."""
        touched = self.touched
        if touched is None:
            return
        name, key_of, columns = self.plan.name, self.plan.key_of, self.plan.columns
        touched.note(self.conn, name, keys)
        for positions, rows in changed.items():
            touched.note(self.conn, name, [key_of(r) for r in rows], [columns[i] for i in positions])

    def _maybe_flush(self) -> None:
        self._pending += 1
        if self._pending >= self.limit:
            self.flush()


def merge(
    left: Iterable[Any], right: Iterable[Any], left_key: Callable[[Any], Key], right_key: Callable[[Any], Key]
) -> Iterator[tuple[Any, Any]]:
    """Walk two key-ordered streams together: (left, right), None on the side a key is missing."""
    lit, rit = iter(left), iter(right)
    a, b = next(lit, None), next(rit, None)
    while a is not None or b is not None:
        if b is None or (a is not None and left_key(a) < right_key(b)):
            yield a, None
            a = next(lit, None)
        elif a is None or right_key(b) < left_key(a):
            yield None, b
            b = next(rit, None)
        else:
            yield a, b
            a, b = next(lit, None), next(rit, None)
