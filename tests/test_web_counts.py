"""Remembered grid counts: the totals and tab counts a user sees stay true after a Refresh or a
sync, and nothing is remembered while the cache is being written."""

from __future__ import annotations

import datetime as dt
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, func, insert, select

from bpo2_bridge.cache_state import cache_state
from bpo2_bridge.demo.content import DEMO_ADMIN_LOGIN, DEMO_SALESMAN_LOGIN
from bpo2_bridge.sync import history
from bpo2_bridge.users import DEMO_PASSWORD
from bpo2_bridge.web import grid_counts
from bpo2_bridge.web.app import create_app
from bpo2_bridge.web.grid_counts import COUNTS, CountCache


def _token(client, url: str) -> str:  # type: ignore[no-untyped-def]
    match = re.search(r'name="csrf_token" value="([^"]+)"', client.get(url).get_data(as_text=True))
    assert match
    return match.group(1)


def _sign_in(client) -> None:  # type: ignore[no-untyped-def]
    data = {"login": DEMO_SALESMAN_LOGIN, "password": DEMO_PASSWORD, "csrf_token": _token(client, "/login")}
    client.post("/login", data=data)


def _totals(client, path: str = "/contracts") -> dict[str, int]:  # type: ignore[no-untyped-def]
    return {
        tab: client.get(f"{path}?tab={tab}&format=json").get_json()["total"]
        for tab in ("all", "expired", "expiring")
    }


def _tab_counts(client, path: str = "/contracts") -> dict[str, int]:  # type: ignore[no-untyped-def]
    """The counts the three tabs of the HTML page show."""
    html = client.get(path).get_data(as_text=True)
    found = {}
    for label, key in (("Expired Contracts", "expired"), ("Expiring Contracts", "expiring")):
        match = re.search(re.escape(label) + r"\D{0,200}?([\d,]+)", html)
        assert match, f"no count next to {label}"
        found[key] = int(match.group(1).replace(",", ""))
    return found


def _expiring_contract(client) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    row = client.get("/contracts?tab=expiring&format=json&sort=contract_no").get_json()["rows"][0]
    return row["account_no"], row["contract_no"]


def test_a_count_from_before_a_refresh_is_not_shown_after_it(change_expiry_in_source, copied_demo) -> None:
    bridge = copied_demo()
    client = create_app(bridge=bridge).test_client()
    _sign_in(client)
    account, contract_no = _expiring_contract(client)
    before, tabs_before = _totals(client), _tab_counts(client)
    assert tabs_before == {"expired": before["expired"], "expiring": before["expiring"]}

    change_expiry_in_source(bridge, contract_no, dt.date(2020, 1, 31))
    hits = COUNTS.hits
    assert _totals(client) == before  # BPO2 changed, the cache did not: the same counts, remembered
    assert COUNTS.hits >= hits + 3

    page = f"/customers/{account}/contracts?tab=all"
    response = client.post(
        f"/customers/{account}/refresh", data={"csrf_token": _token(client, page), "next": page}
    )
    assert response.status_code == 302

    after = _totals(client)
    assert after == {**before, "expired": before["expired"] + 1, "expiring": before["expiring"] - 1}
    assert _tab_counts(client) == {"expired": after["expired"], "expiring": after["expiring"]}
    customer = _totals(client, f"/customers/{account}/contracts")
    assert customer["expired"] >= 1


def test_a_count_from_before_a_full_sync_is_not_shown_after_it(change_expiry_in_source, copied_demo) -> None:
    from bpo2_bridge.sync.full import full_sync

    bridge = copied_demo()
    client = create_app(bridge=bridge).test_client()
    _sign_in(client)
    _, contract_no = _expiring_contract(client)
    before = _totals(client)
    change_expiry_in_source(bridge, contract_no, dt.date(2020, 1, 31))
    full_sync(bridge)
    after = _totals(client)
    assert after == {**before, "expired": before["expired"] + 1, "expiring": before["expiring"] - 1}


def test_nothing_is_remembered_while_a_refresh_is_writing(copied_demo) -> None:
    bridge = copied_demo()
    with bridge.cache.connect() as conn:
        settled = cache_state(bridge, conn)
    assert settled.generation is not None
    assert settled.snapshot == bridge.cache.current() and settled.as_of == bridge.cache.as_of()
    run = history.start(bridge.store, "customer", bridge.settings.now(), target="ACC")
    with bridge.cache.connect() as conn:  # still reading BPO2: the cache is as it was
        assert cache_state(bridge, conn).generation == settled.generation
    history.Writing(bridge.store, run, bridge.cache.current())()
    with bridge.cache.connect() as conn:
        assert cache_state(bridge, conn).generation is None
    with bridge.store.begin() as conn:
        history.succeed(conn, run, bridge.settings.now(), snapshot=bridge.cache.current())
    with bridge.cache.connect() as conn:
        done = cache_state(bridge, conn)
    assert done.generation is not None and done.generation != settled.generation
    assert done.as_of == settled.as_of  # a refresh does not move as_of: it is no generation


def test_a_refresh_that_changes_nothing_keeps_the_counts_remembered(copied_demo) -> None:
    bridge = copied_demo()
    client = create_app(bridge=bridge).test_client()
    _sign_in(client)
    account, _ = _expiring_contract(client)
    before = _totals(client)
    with bridge.cache.connect() as conn:
        generation = cache_state(bridge, conn).generation
    page = f"/customers/{account}/contracts?tab=all"
    response = client.post(
        f"/customers/{account}/refresh", data={"csrf_token": _token(client, page), "next": page}
    )
    assert response.status_code == 302
    assert "No changes." in client.get(page).get_data(as_text=True)
    with bridge.cache.connect() as conn:
        assert cache_state(bridge, conn).generation == generation
    hits = COUNTS.hits
    assert _totals(client) == before
    assert COUNTS.hits >= hits + 3  # answered from memory, not counted again
    run = history.recent(bridge.store, limit=1, kind="customer")[0]
    assert run["status"] == "ok" and not any(any(c.values()) for c in run["changes"].values())


def test_the_salesman_and_the_administrator_each_get_their_own_counts(copied_demo, login) -> None:
    bridge = copied_demo()
    salesman, admin = (create_app(bridge=bridge).test_client() for _ in range(2))
    login(salesman, DEMO_SALESMAN_LOGIN)
    login(admin, DEMO_ADMIN_LOGIN)
    mine, everyone = _totals(salesman), _totals(admin)
    assert mine["all"] < everyone["all"]
    assert _totals(salesman) == mine and _totals(admin) == everyone


HYPO = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
steps = st.lists(
    st.one_of(
        st.tuples(st.just("count"), st.sampled_from(["a", "b", "c", None])),
        st.tuples(st.just("insert"), st.sampled_from(["a", "b", "c"])),
    ),
    max_size=25,
)


@HYPO
@given(steps=steps, size=st.integers(1, 3))
def test_a_remembered_count_always_equals_a_fresh_one(steps, size) -> None:  # type: ignore[no-untyped-def]
    """Every write starts a new generation; within one, counts are remembered (LRU of `size`)."""
    table = Table("t", MetaData(), Column("id", Integer, primary_key=True), Column("tag", String(5)))
    engine = create_engine("sqlite://")
    table.metadata.create_all(engine)
    cache, generation = CountCache(size), 0
    with engine.connect() as conn:
        for action, tag in steps:
            if action == "insert":
                conn.execute(insert(table).values(tag=tag))
                generation += 1
                continue
            query = select(func.count()).select_from(table)
            if tag is not None:
                query = query.where(table.c.tag == tag)
            fresh = conn.execute(query).scalar_one()
            assert cache.counter(("snap", generation))(conn, query) == fresh
            assert cache.counter(None)(conn, query) == fresh
            assert len(cache) <= size
    engine.dispose()


def test_remembered_pages_and_tiles_follow_a_refresh_that_changes_data(
    change_expiry_in_source, copied_demo, monkeypatch
) -> None:
    monkeypatch.setattr(grid_counts, "SLOW_SECONDS", 0.0)  # every page and tile counts as slow
    bridge = copied_demo()
    client = create_app(bridge=bridge).test_client()
    _sign_in(client)
    account, contract_no = _expiring_contract(client)

    def expiring_tile() -> int:
        html = client.get("/").get_data(as_text=True)
        match = re.search(r'tile-expiring"[^>]*>\s*<span class="tile-value">([\d,]+)', html)
        assert match
        return int(match.group(1).replace(",", ""))

    def expiring_numbers() -> list[str]:
        body = client.get("/contracts?tab=expiring&format=json&sort=contract_no&page_size=200").get_json()
        return [row["contract_no"] for row in body["rows"]]

    tile, listed = expiring_tile(), expiring_numbers()
    assert contract_no in listed and expiring_tile() == tile and expiring_numbers() == listed
    change_expiry_in_source(bridge, contract_no, dt.date(2020, 1, 31))
    page = f"/customers/{account}/contracts?tab=all"
    client.post(f"/customers/{account}/refresh", data={"csrf_token": _token(client, page), "next": page})
    assert expiring_tile() == tile - 1
    assert contract_no not in expiring_numbers()
