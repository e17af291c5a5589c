"""Row counts, deep-page boundaries and slow answers of grid queries, remembered per cache
generation.

Counting a filtered query over a million contracts costs far more than reading one page of it,
and skipping 40,000 rows to reach page 2,000 costs far more than page 1; both answers only
change when the cache is written. A ``CountCache`` keeps them in a small LRU keyed by the
generation of the data (``cache_state.cache_state``: the snapshot plus the last sync or refresh run)
and by the statement with its parameters, so the same filter over the same data is counted
once and a deep page found once is then reached by a keyset seek. Pages that took long to
read (a search over every contract, a sort by a computed count) and the Home tiles are
remembered the same way in a smaller LRU of their own: the next user asking the same question of
the same data gets the same rows without the scan. A generation of ``None`` means "the data may
be changing right now": nothing is remembered then."""

from __future__ import annotations

import hashlib
import pickle
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Connection, Select

Counter = Callable[[Connection, Select[Any]], int]
T = TypeVar("T")
# an answer that took longer than this is worth keeping; quicker ones are cheaper to read again
SLOW_SECONDS = 0.03
# a request waits this long for another one computing the same answer, then computes its own
SHARE_WAIT_SECONDS = 30.0
# answers this slow, asked for lately, are worked out again on a new snapshot before it serves
# (snapshot_switch.py); at most RECIPES of them per cache
RECIPE_SECONDS = 0.05
RECIPES = 48
Replay = Callable[[Connection], Any]

__all__ = ["COUNTS", "CountCache", "Counter", "Generation", "Memo", "count_now"]


@dataclass(frozen=True)
class Generation:
    """The data one request reads, as far as remembering goes: ``snapshot`` of the cache
    ``scope``, at ``version`` (which grows with every write to that snapshot). Snapshots only
    move forward, so once a new one is seen everything kept for the one before is dropped, and
    requests still reading that (or an earlier version) remember nothing: the memory holds the
    serving data's answers, not the last sync's as well."""

    scope: Hashable
    snapshot: str
    version: int


def count_now(conn: Connection, statement: Select[Any]) -> int:
    """The count, straight from the database."""
    return int(conn.execute(statement).scalar_one())


class CountCache:
    """A bounded, thread-safe LRU of counts: (generation, SQL, parameters) -> rows."""

    def __init__(self, size: int = 512, answers: int = 0) -> None:
        self.size = size
        # slow answers (whole pages) live in a smaller LRU of their own
        self.answers = CountCache(answers) if answers else None
        self._counts: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()
        self._pending: dict[Hashable, _Pending] = {}
        # per scope: the generation serving, and snapshots that served before it
        self._newest: dict[Hashable, Generation] = {}
        self._retired: dict[Hashable, set[str]] = {}
        # (scope, key without its generation) -> how to work the answer out on other data, and
        # the seconds that took the last time
        self._recipes: OrderedDict[tuple[Hashable, Hashable], tuple[Replay, float]] = OrderedDict()
        self.hits = 0
        self.misses = 0
        self.shared = 0  # answers a request waited for while another computed them

    def counter(self, generation: Hashable | None) -> Memo:
        """Counts (and page boundaries) remembered under ``generation`` (None: never)."""
        if isinstance(generation, Generation):
            # None when the data were already replaced: worth nothing to the next request
            generation = self._current(generation)
        return Memo(self if generation is not None else None, generation, self.answers)

    def _current(self, generation: Generation) -> Generation | None:
        """None for superseded data, else the one object kept for these data (every entry's
        key holds it, so each request's own copy would cost a little per entry); newer data
        retires everything kept before it."""
        with self._lock:
            seen = self._newest.get(generation.scope)
            if seen == generation:
                return seen
            retired = self._retired.setdefault(generation.scope, set())
            if generation.snapshot in retired:
                return None
            if (
                seen is not None
                and seen.snapshot == generation.snapshot
                and generation.version < seen.version
            ):
                return None
            if seen is not None and seen.snapshot != generation.snapshot:
                retired.add(seen.snapshot)
            self._newest[generation.scope] = generation
        for cache in (self, self.answers):
            if cache is not None:
                cache.retire(generation)
        return generation

    def retire(self, current: Generation) -> None:
        """Drop what was kept for other data of ``current``'s scope."""

        def old(key: Hashable) -> bool:
            first = key[0] if isinstance(key, tuple) and key else None
            return isinstance(first, Generation) and first.scope == current.scope and first != current

        with self._lock:
            for key in [k for k in self._counts if old(k)]:
                del self._counts[key]

    def get(self, key: Hashable) -> Any:
        with self._lock:
            return self._lookup(key)

    def _lookup(self, key: Hashable) -> Any:
        """The kept value or None, counted as a hit or a miss; the caller holds the lock."""
        found = self._counts.get(key)
        if found is None:
            self.misses += 1
            return None
        self._counts.move_to_end(key)
        self.hits += 1
        recipe = _recipe_key(key)
        if recipe is not None and recipe in self._recipes:
            self._recipes.move_to_end(recipe)  # asked for lately: worth warming up first
        return found

    def put(self, key: Hashable, value: Any) -> None:
        with self._lock:
            self._counts[key] = value
            self._counts.move_to_end(key)
            while len(self._counts) > self.size:
                self._counts.popitem(last=False)

    def share(
        self, key: Hashable, compute: Callable[[], T], slower: float, replay: Replay | None = None
    ) -> T:
        """What is kept for ``key``, else ``compute()``; requests asking for the same key while
        it is being computed wait for that answer instead of computing it again (after a sync,
        many users ask the same cold question at once). Kept when it took over ``slower`` s;
        ``replay(conn)`` works it out on another connection, for ``warm``."""
        with self._lock:
            found = self._lookup(key)
            if found is not None:
                return found  # type: ignore[no-any-return]
            pending = self._pending.get(key)
            owner = pending is None
            if owner:
                pending = self._pending[key] = _Pending()
        assert pending is not None
        if not owner:
            if pending.done.wait(SHARE_WAIT_SECONDS) and pending.ok:
                self.shared += 1
                return pending.value  # type: ignore[no-any-return]
            return compute()  # the first asker failed or is stuck: answer this one alone
        started = time.perf_counter()
        try:
            pending.value = compute()
            pending.ok = True
        finally:
            with self._lock:
                del self._pending[key]
            pending.done.set()
        took = time.perf_counter() - started
        if took > slower:
            self.put(key, pending.value)
        recipe = _recipe_key(key)
        if replay is not None and recipe is not None and took >= RECIPE_SECONDS:
            with self._lock:
                self._recipes[recipe] = (replay, took)
                self._recipes.move_to_end(recipe)
                while len(self._recipes) > RECIPES:
                    self._recipes.popitem(last=False)
        return pending.value  # type: ignore[no-any-return]

    def warm(self, generation: Generation, conn: Connection, deadline: float) -> int:
        """Work out again under ``generation``, through ``conn`` (on its data), the slow answers
        asked for lately in its scope, most recent first, until ``deadline`` (time.monotonic).
        ``generation`` need not serve yet: nothing kept for the data serving now is dropped."""
        with self._lock:
            todo = [(k[1], r) for k, (r, _) in reversed(self._recipes.items()) if k[0] == generation.scope]
        done = 0
        for inner, replay in todo:
            if time.monotonic() >= deadline:
                break
            if (generation, inner) not in self:
                self.put((generation, inner), replay(conn))
                done += 1
        return done

    def warm_up_seconds(self, scope: Hashable) -> float:
        """How long ``warm`` would take for ``scope``, going by how long each answer took the
        last time it was worked out."""
        with self._lock:
            return sum(seconds for (where, _), (_, seconds) in self._recipes.items() if where == scope)

    def mark(self, key: Hashable) -> bool:
        """Mark ``key`` as asked; whether it was marked already (not counted as a hit or miss)."""
        with self._lock:
            if key in self._counts:
                self._counts.move_to_end(key)
                return True
        self.put(key, True)
        return False

    def clear(self) -> None:
        with self._lock:
            self._counts.clear()
            self._recipes.clear()

    def __len__(self) -> int:
        return len(self._counts)

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._counts


class Memo:
    """What one request may remember: ``memo(conn, count_statement)`` counts; ``boundary`` /
    ``remember_boundary`` keep the sort values of the row just before a deep page, so the next
    request for that page seeks to it through an index instead of skipping OFFSET rows."""

    def __init__(
        self, cache: CountCache | None, generation: Hashable | None, slow: CountCache | None = None
    ) -> None:
        self.cache = cache
        self.generation = generation
        self.slow = slow if cache is not None else None

    def __call__(self, conn: Connection, statement: Select[Any]) -> int:
        key = ("count", statement_key(conn, statement)) if self.cache is not None else None
        return int(
            self._kept(
                self.cache, key, lambda: count_now(conn, statement), replay=lambda c: count_now(c, statement)
            )
        )

    def boundary(self, conn: Connection, ordered: Select[Any], offset: int) -> tuple[Any, ...] | None:
        """Sort values of the row at ``offset - 1`` of ``ordered``, if remembered."""
        if self.cache is None:
            return None
        found = self.cache.get((self.generation, "boundary", offset, statement_key(conn, ordered)))
        return found  # type: ignore[no-any-return]

    def remember_boundary(
        self, conn: Connection, ordered: Select[Any], offset: int, values: tuple[Any, ...]
    ) -> None:
        if self.cache is not None:
            self.cache.put((self.generation, "boundary", offset, statement_key(conn, ordered)), values)

    def asked_before(self, key: Hashable) -> bool:
        """Whether ``key`` was asked before on this data (and, from now on, that it was)."""
        return self.cache is not None and self.cache.mark((self.generation, "asked", key))

    def value(self, key: Hashable, compute: Callable[[], T], replay: Replay | None = None) -> T:
        """``compute()``, kept with the counts however quick it was: for small answers built
        from several counts (a page's tab counts), so one lookup replaces building each.
        ``replay(conn)`` computes the same on another connection (a new snapshot's warm-up)."""
        return self._kept(self.cache, ("value", key), compute, replay=replay)

    def has_value(self, key: Hashable) -> bool:
        """Whether ``value(key, ...)`` is kept for these data."""
        return self.cache is not None and (self.generation, ("value", key)) in self.cache

    def answer(self, key: Hashable, compute: Callable[[], T], replay: Replay | None = None) -> T:
        """``compute()``, or what it answered before for ``key`` on the same data. Only answers
        that took longer than SLOW_SECONDS are kept; callers treat what they get as read-only,
        since other requests share it. ``key`` must hold every value the answer depends on.
        ``replay(conn)`` computes the same on another connection (a new snapshot's warm-up)."""
        return self._kept(self.slow, ("answer", key), compute, SLOW_SECONDS, replay)

    def flag(self, key: Hashable) -> None:
        """Note ``key`` (a list slow to read) for this cache across syncs (``flagged`` tells): a
        list slow on one snapshot is slow on the next, whose first requests then share one read."""
        if self.cache is not None:
            self.cache.put(self._lasting(key), True)

    def flagged(self, key: Hashable) -> bool:
        return self.cache is not None and self._lasting(key) in self.cache

    def _lasting(self, key: Hashable) -> Hashable:
        # not led by a Generation, so a new snapshot does not retire it (CountCache.retire)
        generation = self.generation
        return ("lasting", generation.scope if isinstance(generation, Generation) else generation, key)

    def answered_slowly(self, key: Hashable) -> bool:
        """Whether ``answer(key, ...)`` is kept: it took longer than SLOW_SECONDS."""
        return self.slow is not None and (self.generation, ("answer", key)) in self.slow

    def _kept(
        self,
        store: CountCache | None,
        key: Hashable,
        compute: Callable[[], T],
        slower: float = -1.0,
        replay: Replay | None = None,
    ) -> T:
        """What ``compute()`` answered for ``key`` under this generation, else its answer now,
        kept when it took longer than ``slower`` seconds (by default: always)."""
        if store is None:
            return compute()
        return store.share((self.generation, key), compute, slower, replay)


class _Pending:
    """One answer being computed, for the requests that wait for it."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.ok = False
        self.value: Any = None


def _recipe_key(key: Hashable) -> tuple[Hashable, Hashable] | None:
    """(scope, what was asked) for a key led by a Generation; None for any other key."""
    if isinstance(key, tuple) and len(key) == 2 and isinstance(key[0], Generation):
        return (key[0].scope, key[1])
    return None


def statement_key(conn: Connection, statement: Select[Any]) -> tuple[Any, ...]:
    """The statement as the database receives it: dialect, shape and every bound value.

    The shape is SQLAlchemy's own statement cache key (the one its compiled-SQL cache uses),
    which is cheaper to take than compiling; a statement without one is compiled.
    """
    cache_key = statement._generate_cache_key()
    if cache_key is None:
        compiled = statement.compile(dialect=conn.dialect)
        named = tuple(sorted((name, _frozen(value)) for name, value in compiled.params.items()))
        return (conn.dialect.name, _shared_shape(str(compiled)), _digest(named))
    # by position, not name: anonymous parameters are named after object ids, new every request
    values = tuple(_frozen(b.effective_value) for b in cache_key.bindparams)
    return (conn.dialect.name, _shared_shape(cache_key.key), _digest(values))


def _digest(values: tuple[Any, ...]) -> Hashable:
    """The bound values as 16 bytes. Kept as tuples of tagged values they made up most of a
    remembered count's ~1.3 KB; equal pickles only come from equal values, so two keys share a
    digest only by a 128-bit hash collision. Values pickle cannot take stay as they are."""
    try:
        data = pickle.dumps(values, protocol=5)
    except (pickle.PicklingError, TypeError, AttributeError):
        return values
    return hashlib.blake2b(data, digest_size=16).digest()


_SHAPES: dict[Any, Any] = {}
MAX_SHAPES = 2048


def _shared_shape(shape: Any) -> Any:
    """One object for every equal shape: a shape is a nested tuple of some 20-40 KB, and each
    remembered entry would otherwise hold its own copy of it."""
    found = _SHAPES.setdefault(shape, shape)
    if len(_SHAPES) > MAX_SHAPES:  # filters typed by users can make endless shapes
        _SHAPES.clear()
    return found


def _frozen(value: Any) -> Hashable:
    if isinstance(value, (list, tuple, set, frozenset)):
        # typed so 1 and "1" (or True and 1) never share an entry
        return tuple((type(v).__name__, _frozen(v)) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _frozen(v)) for k, v in value.items()))
    return (type(value).__name__, value)


# 4096 counts (some 400 bytes each: statement shapes shared, bound values digested); 96 slow
# answers, a page being at most 200 rows
COUNTS = CountCache(4096, answers=96)
