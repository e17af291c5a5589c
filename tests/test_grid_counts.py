"""Remembered counts and deep-page boundaries give exactly the rows and totals of a fresh
query: for any rows (ties, NULLs), sort, page size and page, cold and warm, on SQLite and
PostgreSQL; a new generation never sees what an old one remembered."""

from __future__ import annotations

import datetime as dt
import pickle
import threading
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Column, Date, Integer, MetaData, String, Table, create_engine, insert, select
from werkzeug.datastructures import MultiDict

from bpo2_bridge.web import grid as grid_module
from bpo2_bridge.web import grid_counts
from bpo2_bridge.web.grid import Grid, GridColumn
from bpo2_bridge.web.grid_counts import SLOW_SECONDS, CountCache, Generation

HYPO = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

metadata = MetaData()
item = Table(
    "item",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("name", String(10)),
    Column("amount", Integer),
    Column("due", Date),
)
GRID = Grid(
    "items",
    [
        GridColumn("name", "Name"),
        GridColumn("amount", "Amount", "number"),
        GridColumn("due", "Due", "date"),
    ],
    default_sort="id",
    key=("id",),
)

rows_strategy = st.lists(
    st.fixed_dictionaries(
        {
            "name": st.sampled_from(["a", "b", "c", None]),
            "amount": st.one_of(st.none(), st.integers(-2, 2)),
            "due": st.one_of(st.none(), st.dates(dt.date(2026, 1, 1), dt.date(2026, 1, 5))),
        }
    ),
    min_size=10,
    max_size=60,
)


@pytest.fixture(autouse=True, scope="module")
def _seek_from_page_two():  # type: ignore[no-untyped-def]
    """Pages of these small lists are found by their boundary row as a deep page of a large
    one is (grid.SEEK_FROM); the uncounted fetch each test compares with still uses OFFSET."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(grid_module, "SEEK_FROM", 1)
        yield


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, fresh_database):  # type: ignore[no-untyped-def]
    engine = create_engine(fresh_database(request.param))
    metadata.create_all(engine)
    yield engine
    engine.dispose()


def _fill(engine, rows: list[dict[str, Any]]) -> None:  # type: ignore[no-untyped-def]
    with engine.begin() as conn:
        conn.execute(item.delete())
        if rows:
            conn.execute(insert(item), [{"id": i, **row} for i, row in enumerate(rows)])


@HYPO
@given(
    rows=rows_strategy,
    sort=st.sampled_from(["id", "name", "-name", "amount", "-amount", "due", "-due"]),
    size=st.sampled_from([5, 10]),
    page=st.integers(1, 6),
    q=st.sampled_from(["", "a"]),
)
def test_remembered_pages_and_totals_equal_fresh_ones(engine, rows, sort, size, page, q) -> None:  # type: ignore[no-untyped-def]
    _fill(engine, rows)
    args = MultiDict({"sort": sort, "page_size": str(size), "page": str(page), "q": q})
    cache = CountCache(64)
    with engine.connect() as conn:
        fresh = GRID.fetch(conn, item, args)
        cold = GRID.fetch(conn, item, args, count=cache.counter("g1"))
        warm = GRID.fetch(conn, item, args, count=cache.counter("g1"))
    assert cold.total == warm.total == fresh.total
    assert [r["id"] for r in cold.rows] == [r["id"] for r in fresh.rows]
    assert [r["id"] for r in warm.rows] == [r["id"] for r in fresh.rows]


def _kept_as_fresh(conn: Any, cache: CountCache, args: MultiDict[str, str]) -> Any:
    """The page read with ``cache``'s memory, checked to hold the rows of a fresh read."""
    fresh = GRID.fetch(conn, item, args)
    kept = GRID.fetch(conn, item, args, count=cache.counter("g1"))
    assert [r["id"] for r in kept.rows] == [r["id"] for r in fresh.rows], (dict(args), kept.page)
    return kept


@HYPO
@given(
    rows=rows_strategy,
    sort=st.sampled_from(["id", "name", "-name", "amount", "-amount", "due", "-due"]),
    size=st.sampled_from([2, 5]),
    pages=st.lists(st.integers(2, 30), min_size=2, max_size=4),
    q=st.sampled_from(["", "a"]),
    step=st.sampled_from([1, 3, 7]),
)
def test_pages_found_from_milestones_equal_fresh_ones(engine, rows, sort, size, pages, q, step) -> None:  # type: ignore[no-untyped-def]
    """Once a list is paged deep twice on the same data, pages are reached from its remembered
    milestones: any page then holds exactly the rows a plain OFFSET reads (ties, NULLs placed
    as each engine places them, pages past the end)."""
    _fill(engine, rows)
    cache = CountCache(64)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(grid_module, "MILESTONE_STEP", step)
        deep = 0
        with engine.connect() as conn:
            for page in pages:
                args = MultiDict({"sort": sort, "page_size": str(size), "page": str(page), "q": q})
                kept = _kept_as_fresh(conn, cache, args)
                deep += (kept.page - 1) * size >= step
    if deep >= 2:  # the second deep page was read from milestones
        assert any(key[1][0] == "value" and key[1][1][0] == "milestones" for key in cache._counts)


@HYPO
@given(
    before=rows_strategy,
    after=rows_strategy,
    sort=st.sampled_from(["id", "name", "-name", "amount", "-amount", "due", "-due"]),
    size=st.sampled_from([2, 5]),
    pages=st.lists(st.integers(1, 30), min_size=1, max_size=4),
    q=st.sampled_from(["", "a"]),
)
def test_answers_warmed_up_on_new_data_equal_fresh_ones(engine, before, after, sort, size, pages, q) -> None:  # type: ignore[no-untyped-def]
    """What a new snapshot's warm-up works out again (counts, milestones) gives exactly the
    totals and rows of a fresh read of the new data, and what the serving data keep stays."""
    serving, upcoming = Generation("cache", "s1", 1), Generation("cache", "s2", 1)
    cache = CountCache(1024)
    asked = [MultiDict({"sort": sort, "page_size": str(size), "page": str(p), "q": q}) for p in pages]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(grid_counts, "RECIPE_SECONDS", 0.0)  # every answer is worth warming up
        patch.setattr(grid_module, "MILESTONE_STEP", 3)
        _fill(engine, before)
        with engine.connect() as conn:
            for args in asked + asked:  # a deep page asked again is read from milestones
                GRID.fetch(conn, item, args, count=cache.counter(serving))
        kept = dict(cache._counts)
        _fill(engine, after)
        with engine.connect() as conn:
            warmed = cache.warm(upcoming, conn, time.monotonic() + 60)
            assert warmed > 0
            assert all(cache._counts.get(key) == value for key, value in kept.items())
            for args in asked:
                fresh = GRID.fetch(conn, item, args)
                misses = cache.misses
                got = GRID.fetch(conn, item, args, count=cache.counter(upcoming))
                assert got.total == fresh.total
                assert [r["id"] for r in got.rows] == [r["id"] for r in fresh.rows], dict(args)
                if got.page == 1:  # it needs nothing but its count
                    assert cache.misses == misses


@HYPO
@given(
    rows=rows_strategy,
    sort=st.sampled_from(["id", "name", "-name", "amount", "-amount", "due", "-due"]),
    size=st.sampled_from([2, 3, 5]),
    pages=st.lists(st.integers(1, 8), min_size=2, max_size=5),
    q=st.sampled_from(["", "a"]),
)
def test_pages_cut_from_a_slow_lists_head_equal_fresh_ones(engine, rows, sort, size, pages, q) -> None:  # type: ignore[no-untyped-def]
    """Once one of a list's first pages was slow, its other first pages are cut from one read of
    its head: each holds exactly the rows of a fresh query, inside the head and past it."""
    _fill(engine, rows)
    cache = CountCache(64, answers=16)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(grid_module, "HEAD_ROWS", 7)
        patch.setattr(grid_counts, "SLOW_SECONDS", -1.0)  # every answer counts as slow
        within: set[int] = set()  # pages asked within the head
        read_head = False  # a page not asked before, after one within the head: read from it
        with engine.connect() as conn:
            for page in pages:
                args = MultiDict({"sort": sort, "page_size": str(size), "page": str(page), "q": q})
                kept = _kept_as_fresh(conn, cache, args)
                if kept.page * size <= 7:
                    read_head |= bool(within) and kept.page not in within
                    within.add(kept.page)
    heads = [key for key in cache.answers._counts if key[1][1][0] == "head"]  # type: ignore[union-attr]
    assert bool(heads) == read_head, heads


def test_a_list_slow_before_a_sync_reads_its_head_at_once_after_it(engine) -> None:  # type: ignore[no-untyped-def]
    """A list whose first pages were slow on one snapshot is read by its head from the first
    request on the next, so the requests arriving right after the switch share one read."""
    _fill(engine, [{"name": "ab"[i % 2], "amount": i % 5, "due": None} for i in range(20)])
    cache = CountCache(64, answers=16)
    old, new = (Generation("cache", name, 1) for name in ("snapshot-1", "snapshot-2"))

    def page(generation: Generation, number: int) -> list[int]:
        args = MultiDict({"sort": "-amount", "page_size": "2", "page": str(number)})
        with engine.connect() as conn:
            fresh = GRID.fetch(conn, item, args)
            kept = GRID.fetch(conn, item, args, count=cache.counter(generation))
        assert [r["id"] for r in kept.rows] == [r["id"] for r in fresh.rows]
        return [r["id"] for r in kept.rows]

    def heads(generation: Generation) -> int:
        return sum(1 for key in cache.answers._counts if key[0] == generation and key[1][1][0] == "head")  # type: ignore[union-attr]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(grid_module, "HEAD_ROWS", 7)
        patch.setattr(grid_counts, "SLOW_SECONDS", -1.0)  # every answer counts as slow
        page(old, 1)  # slow: the next first page reads the head
        assert heads(old) == 0
        page(old, 2)
        assert heads(old) == 1
        page(new, 3)  # the first request after the switch
        assert heads(new) == 1 and heads(old) == 0  # the old snapshot's head was dropped


def test_a_page_past_the_last_value_is_found_among_the_empty_cells(engine) -> None:  # type: ignore[no-untyped-def]
    """A page that starts among the rows with no value, a few rows past the last milestone
    with one: every page of the list matches a plain OFFSET, on both NULL placements."""
    _fill(engine, [{"name": "ab"[i % 2] if i < 8 else None, "amount": 0, "due": None} for i in range(20)])
    cache = CountCache(64)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(grid_module, "MILESTONE_STEP", 3)
        with engine.connect() as conn:
            for sort in ("name", "-name"):
                for page in (2, 3, 4, 5, 6, 7, 8, 9, 10):
                    _kept_as_fresh(
                        conn, cache, MultiDict({"sort": sort, "page_size": "2", "page": str(page)})
                    )


def test_a_new_generation_does_not_see_old_counts_or_boundaries(engine) -> None:  # type: ignore[no-untyped-def]
    _fill(engine, [{"name": "a", "amount": i, "due": None} for i in range(30)])
    cache = CountCache(64)
    args = MultiDict({"sort": "amount", "page_size": "10", "page": "2"})
    with engine.connect() as conn:
        before = GRID.fetch(conn, item, args, count=cache.counter("g1"))
        again = GRID.fetch(conn, item, args, count=cache.counter("g1"))  # seeks past the boundary
    assert [r["amount"] for r in before.rows] == [r["amount"] for r in again.rows] == list(range(10, 20))
    with engine.begin() as conn:
        conn.execute(insert(item), [{"id": 100 + i, "name": "a", "amount": -1 - i} for i in range(5)])
    with engine.connect() as conn:
        stale = GRID.fetch(conn, item, args, count=cache.counter("g1"))  # what a missed write would show
        after = GRID.fetch(conn, item, args, count=cache.counter("g2"))
        fresh = GRID.fetch(conn, item, args)
    assert before.total == stale.total == 30
    assert after.total == fresh.total == 35
    assert [r["id"] for r in after.rows] == [r["id"] for r in fresh.rows]
    assert [r["id"] for r in after.rows] != [r["id"] for r in before.rows]


def test_a_new_snapshot_retires_what_was_kept_for_the_old_one() -> None:
    """After a sync switches snapshots, the memory holds the new data's answers only; a request
    still reading the old snapshot (or an older version) is answered but leaves nothing kept."""
    cache = CountCache(64, answers=8)
    old, newer, new = (
        Generation("cache", "s1", 3),
        Generation("cache", "s1", 4),
        Generation("cache", "s2", 5),
    )
    other = Generation("other cache", "s1", 1)
    for generation in (old, other):
        cache.counter(generation).value("tiles", lambda: 1)
        cache.counter(generation).answer("page", lambda: (time.sleep(SLOW_SECONDS * 2), [1])[1])
    assert len(cache) == 2 and len(cache.answers) == 2  # type: ignore[arg-type]

    cache.counter(newer).value("tiles", lambda: 2)  # a Refresh wrote the same snapshot
    assert cache.counter(old).value("tiles", lambda: 9) == 9  # older data: answered, not kept
    assert cache.counter(new).value("tiles", lambda: 3) == 3  # the sync's new snapshot
    assert cache.counter(newer).value("tiles", lambda: 8) == 8  # the old snapshot, never again
    kept = {key[0] for key in cache._counts} | {key[0] for key in cache.answers._counts}  # type: ignore[union-attr]
    assert kept == {new, other}
    assert cache.counter(new).value("tiles", lambda: 7) == 3


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-2, 2),
    st.floats(-1, 1, allow_nan=False).map(lambda x: round(x, 1)),
    st.text("ab1", max_size=2),
    st.dates(dt.date(2026, 1, 1), dt.date(2026, 1, 3)),
)


@settings(max_examples=300, deadline=None)
@given(a=st.lists(scalars, min_size=1, max_size=4), b=st.lists(scalars, min_size=1, max_size=4))
def test_statements_share_a_key_exactly_when_their_bound_values_are_the_same(a, b) -> None:  # type: ignore[no-untyped-def]
    """Keys hold a digest of the bound values, not the values: 1, 1.0, True and "1" still
    never share a remembered count, and the same values always do. (0.0 and -0.0, equal but
    written apart, get two keys: a count worked out twice, never a wrong one.)"""
    engine = create_engine("sqlite://")

    def key(values: list[Any]) -> tuple[Any, ...]:
        with engine.connect() as conn:
            return grid_counts.statement_key(conn, select(item.c.id).where(item.c.name.in_(values)))

    def tagged(values: list[Any]) -> list[tuple[str, Any]]:
        return [(type(v).__name__, v) for v in values]

    if key(a) == key(b):
        assert tagged(a) == tagged(b)
    if repr(tagged(a)) == repr(tagged(b)):
        assert key(a) == key(b)
    assert key(a) == key(pickle.loads(pickle.dumps(a)))  # equal values in other objects


def test_the_cache_stays_bounded() -> None:
    cache = CountCache(3)
    for i in range(10):
        cache.put(("g", i), i)
    assert len(cache) == 3 and cache.get(("g", 9)) == 9 and cache.get(("g", 0)) is None


def test_a_search_or_filter_is_counted_once_per_generation(engine) -> None:  # type: ignore[no-untyped-def]
    _fill(engine, [{"name": "ab"[i % 2], "amount": i, "due": None} for i in range(30)])
    cache = CountCache(64)
    args = MultiDict({"q": "a", "f_amount": ">3", "filter": "amount < 20", "page": "2", "page_size": "2"})
    with engine.connect() as conn:
        first = GRID.fetch(conn, item, args, count=cache.counter("g1"))
        misses = cache.misses
        again = GRID.fetch(conn, item, args, count=cache.counter("g1"))
        assert misses == 2 and cache.misses == misses  # the count and the page boundary: remembered
        other = GRID.fetch(conn, item, MultiDict({**args, "q": "b"}), count=cache.counter("g1"))
    assert first.total == again.total == 8 and other.total == 8
    assert [r["id"] for r in first.rows] == [r["id"] for r in again.rows]
    assert {r["name"] for r in other.rows} == {"b"}


def test_a_slow_answer_is_given_again_on_the_same_data_and_never_on_new_data() -> None:
    cache = CountCache(8, answers=4)
    calls: list[int] = []

    def slow() -> list[int]:
        time.sleep(SLOW_SECONDS * 2)
        calls.append(1)
        return [len(calls)]

    assert cache.counter("g1").answer("page", slow) == [1]
    assert cache.counter("g1").answer("page", slow) == [1]  # remembered: not computed again
    assert cache.counter("g2").answer("page", slow) == [2]  # other data: computed anew
    assert cache.counter(None).answer("page", slow) == [3]  # data being written: never remembered
    assert cache.counter(None).answer("page", slow) == [4]
    quick = cache.counter("g1").answer("quick", lambda: [len(calls)])
    assert quick == [4] and cache.counter("g1").answer("quick", lambda: ["again"]) == ["again"]


def test_a_slow_page_is_remembered_until_the_data_changes(engine, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(grid_counts, "SLOW_SECONDS", 0.0)  # every page counts as slow
    _fill(engine, [{"name": "a", "amount": i, "due": None} for i in range(30)])
    cache = CountCache(64, answers=16)
    args = MultiDict({"sort": "-amount", "page_size": "5", "q": "a"})
    with engine.connect() as conn:
        first = GRID.fetch(conn, item, args, count=cache.counter("g1"))
    with engine.begin() as conn:
        conn.execute(insert(item), [{"id": 100, "name": "a", "amount": 99}])
    with engine.connect() as conn:
        stale = GRID.fetch(conn, item, args, count=cache.counter("g1"))  # what a missed write would show
        after = GRID.fetch(conn, item, args, count=cache.counter("g2"))
    assert [r["amount"] for r in first.rows] == [r["amount"] for r in stale.rows] == [29, 28, 27, 26, 25]
    assert [r["amount"] for r in after.rows] == [99, 29, 28, 27, 26]


def test_a_value_is_kept_with_the_counts_of_its_generation() -> None:
    cache = CountCache(8)
    answers = iter(range(100))
    assert cache.counter("g1").value("tabs", lambda: next(answers)) == 0
    assert cache.counter("g1").value("tabs", lambda: next(answers)) == 0  # quick, and still kept
    assert cache.counter("g2").value("tabs", lambda: next(answers)) == 1
    assert cache.counter(None).value("tabs", lambda: next(answers)) == 2
    assert cache.counter(None).value("tabs", lambda: next(answers)) == 3


def _ask_together(compute: Any, release: threading.Event) -> tuple[list[Any], CountCache]:
    """Two requests ask one question of a fresh memory; the first one's compute is held until
    the second waits. The answers each got, and the store of slow answers."""
    counts = CountCache(answers=4)
    cache = counts.answers
    assert cache is not None
    memo = counts.counter("gen 1")
    answers: list[Any] = []

    def ask() -> None:
        try:
            answers.append(memo.answer("same question", compute))
        except RuntimeError as exc:
            answers.append(exc)

    first = threading.Thread(target=ask)
    first.start()
    while cache.misses < 1:
        time.sleep(0.001)
    second = threading.Thread(target=ask)
    second.start()
    while cache.misses < 2:  # the second has asked and found the first computing
        time.sleep(0.001)
    release.set()
    first.join(5)
    second.join(5)
    return answers, cache


def test_a_question_asked_twice_at_once_is_worked_out_once() -> None:
    release, calls = threading.Event(), []

    def compute() -> list[int]:
        calls.append(1)
        release.wait(5)
        return [1, 2, 3]

    answers, slow = _ask_together(compute, release)
    assert answers == [[1, 2, 3], [1, 2, 3]]
    assert len(calls) == 1 and slow.shared == 1


def test_when_the_first_asker_fails_the_waiting_one_answers_alone() -> None:
    release, calls = threading.Event(), []

    def compute() -> list[int]:
        calls.append(1)
        if len(calls) == 1:
            release.wait(5)
            raise RuntimeError("database gone")
        return [4]

    answers, slow = _ask_together(compute, release)
    assert sorted(map(str, answers)) == ["[4]", "database gone"]
    assert len(calls) == 2 and slow.shared == 0


def test_a_warm_up_is_expected_to_take_what_its_answers_took(engine, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(grid_counts, "RECIPE_SECONDS", 0.0)
    _fill(engine, [{"name": "a", "amount": i, "due": None} for i in range(30)])
    cache = CountCache(64)
    assert cache.warm_up_seconds("cache") == 0.0
    began = time.perf_counter()
    with engine.connect() as conn:
        GRID.fetch(conn, item, MultiDict({"q": "a"}), count=cache.counter(Generation("cache", "s1", 1)))
    took = time.perf_counter() - began
    assert 0.0 < cache.warm_up_seconds("cache") <= took
    assert cache.warm_up_seconds("other cache") == 0.0
