"""Every screen query on the cache runs under screen_query_timeout: past it the page answers 503
with a clear message (HTML or JSON), and the next request is served as usual.

On SQLite the test moves the clock the deadline reads (time_limit.clock) instead of waiting;
PostgreSQL enforces its own statement_timeout, so there a statement really sleeps past 0.2 s.
"""

from __future__ import annotations

import logging

import jinja2
import pytest

from bpo2_bridge.bridge import Bridge
from bpo2_bridge.cache import time_limit
from bpo2_bridge.cache.time_limit import QueryTimeout
from bpo2_bridge.sync.full import full_sync

# a statement that keeps SQLite busy for many progress-handler checks, on any snapshot
BUSY = (
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000) SELECT count(*) FROM n"
)
MESSAGE = "The query took longer than 10 s, the screen query time limit; narrow the filter or try again."
# a page whose query sorts every contract: past the progress handler's first check on the
# crowded demo (the tiny demo's statements end before SQLite looks at the clock at all)
SORTED_CONTRACTS = "/contracts?sort=customer_name&page_size=200"


class Clock:
    """The deadlines' time source: each read moves it on by `step` seconds."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.step = 0.0
        self.reads = 0

    def __call__(self) -> float:
        self.reads += 1
        self.now += self.step
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(time_limit, "clock", fake)
    # the test data's statements are short: SQLite looks at the clock more often than in service
    monkeypatch.setattr(time_limit, "CHECK_EVERY", 10_000)
    return fake


def test_a_grid_past_the_limit_answers_503_then_serves_again(
    make_app, crowded_demo, clock, login, caplog
) -> None:
    app = make_app(crowded_demo)
    app.jinja_env.undefined = jinja2.StrictUndefined
    client = app.test_client()
    login(client, "admin")
    assert client.get(SORTED_CONTRACTS).status_code == 200

    clock.step = 3600  # every look at the clock finds another hour gone
    with caplog.at_level(logging.WARNING, logger="bpo2_bridge.web.app"):
        page = client.get(SORTED_CONTRACTS)
        answer = client.get(SORTED_CONTRACTS + "&format=json")
    assert page.status_code == 503
    assert page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert MESSAGE in html
    assert "Try again" in html and 'class="mainnav"' in html  # the site's layout, signed in
    assert "Traceback" not in html
    assert answer.status_code == 503
    assert answer.mimetype == "application/json"
    body = answer.get_json()
    assert body["error"] == MESSAGE
    assert body["as_of"] == crowded_demo.cache.as_of().isoformat()
    warnings = [r for r in caplog.records if r.name == "bpo2_bridge.web.app"]
    assert [r.levelno for r in warnings] == [logging.WARNING, logging.WARNING]
    assert all(r.path == "/contracts" and r.exc_info is None for r in warnings)
    assert "time limit" in warnings[0].getMessage() and "/contracts" in warnings[0].getMessage()

    clock.step = 0  # the next requests are quick again, on the same pooled connections
    assert client.get(SORTED_CONTRACTS).status_code == 200
    again = client.get(SORTED_CONTRACTS + "&format=json")
    assert again.status_code == 200
    assert again.get_json()["total"] > 6000


def test_each_statement_gets_the_whole_limit(copied_demo, clock) -> None:
    """Re-armed at every statement: two statements of 6 s each pass a 10 s limit, a 12 s one does
    not, and a quick one after it passes although the clock is far past the old deadline."""
    cache = copied_demo().cache
    with cache.connect() as conn:
        conn.exec_driver_sql("SELECT 1")  # the transaction has begun
        before = clock.reads
        assert conn.exec_driver_sql(BUSY).scalar() == 100_000
        checks = clock.reads - before - 1  # one read arms the deadline, the others check it
    assert checks > 10

    clock.step = 6 / checks  # each statement now takes 6 s
    with cache.connect() as conn:
        assert conn.exec_driver_sql(BUSY).scalar() == 100_000
        assert conn.exec_driver_sql(BUSY).scalar() == 100_000

    clock.step = 12 / checks
    with pytest.raises(QueryTimeout) as caught, cache.connect() as conn:
        conn.exec_driver_sql(BUSY).scalar()
    assert str(caught.value) == MESSAGE
    assert caught.value.seconds == 10

    clock.step = 0
    with cache.connect() as conn:
        assert conn.exec_driver_sql(BUSY).scalar() == 100_000


def test_cache_writes_are_not_limited(copied_demo, clock) -> None:
    """Incremental sync and Refresh write through Cache.write(): no screen time limit there."""
    cache = copied_demo().cache
    clock.step = 3600
    with cache.write() as conn:
        assert conn.exec_driver_sql(BUSY).scalar() == 100_000


def test_postgresql_statement_past_the_limit_raises_query_timeout(copied_demo, fresh_database) -> None:
    url = fresh_database("postgresql")
    bridge: Bridge = copied_demo(
        cache_url=url.render_as_string(hide_password=False), screen_query_timeout=0.2
    )
    full_sync(bridge)  # the sync's writers are not limited
    try:
        with pytest.raises(QueryTimeout) as caught, bridge.cache.connect() as conn:
            conn.exec_driver_sql("SELECT pg_sleep(1)")
        assert "longer than 0.2 s" in str(caught.value)
        with bridge.cache.connect() as conn:
            assert conn.exec_driver_sql("SHOW statement_timeout").scalar() == "200ms"
            assert conn.exec_driver_sql("SELECT count(*) FROM contract").scalar() > 0
        with bridge.cache.write() as conn:
            conn.exec_driver_sql("SELECT pg_sleep(0.4)")
    finally:
        bridge.cache.dispose()


@pytest.mark.parametrize("work", [False, True])
def test_a_budget_looks_at_the_clock_more_often_than_the_screen_limit(copied_demo, work, monkeypatch) -> None:
    """A budget of a few milliseconds (a walk tried before a sort) is not overrun by the long
    interval between looks that the 10 s screen limit uses."""
    fake = Clock()
    monkeypatch.setattr(time_limit, "clock", fake)
    bridge: Bridge = copied_demo()
    with bridge.cache.connect() as conn:
        conn.exec_driver_sql(BUSY).scalar_one()
        screen = fake.reads
        with time_limit.budget(conn, 3600, work=work):
            fake.reads = 0
            assert conn.exec_driver_sql(BUSY).scalar_one() == 100_000
            budgeted = fake.reads
    assert budgeted >= 5 * max(screen, 1), (screen, budgeted)
