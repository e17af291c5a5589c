"""The screens read the same rows from a PostgreSQL cache (several web hosts) as from SQLite."""

from __future__ import annotations

import re
import time

from sqlalchemy import create_engine, text

from bpo2_bridge.bridge import Bridge
from bpo2_bridge.sync.full import full_sync


def _main(html: str) -> str:
    """The page body without the per-session CSRF token."""
    return re.sub(r'name="csrf_token" value="[^"]+"', "", html.split("<main>")[1])


PAGES = (
    "/customers?format=json&page_size=200",
    "/contracts?tab=expired&format=json&page_size=200&sort=contract_no",
    "/contracts?tab=expiring&format=json&page_size=200&sort=contract_no",
    "/contracts?tab=all&format=json&page_size=50&sort=-contract_no&q=Rental&f_months_remaining=<24",
    "/contracts?tab=all&format=json&page_size=200&sort=margin_12m&f_volume_trend=>0",
    "/renewals?horizon=12&format=json&page_size=200",
    "/renewals?horizon=12&format=json&page_size=200&f_cost_rising=yes",
)


def test_postgresql_cache_serves_the_same_screens(
    make_app, copied_demo, fresh_database, demo_bridge, login
) -> None:
    url = fresh_database("postgresql")
    pg_bridge: Bridge = copied_demo(cache_url=url.render_as_string(hide_password=False))
    full_sync(pg_bridge)
    sqlite_client = make_app(demo_bridge).test_client()
    pg_client = make_app(pg_bridge).test_client()
    for client in (sqlite_client, pg_client):
        login(client, "sales1")
    for page in PAGES:
        expected = sqlite_client.get(page).get_json()
        got = pg_client.get(page).get_json()
        assert got["rows"] == expected["rows"], page
        assert got["total"] == expected["total"]
    account = expected["rows"][0]["account_no"]
    for page in (
        "/",
        f"/customers/{account}",
        f"/customers/{account}/contracts?tab=expired",
        "/renewals?horizon=12",
    ):
        a, b = (_main(c.get(page).get_data(as_text=True)) for c in (sqlite_client, pg_client))
        assert a == b, page
    pg_bridge.cache.dispose()


def test_a_full_sync_vacuums_and_analyses_the_new_snapshot_alone(copied_demo, fresh_database) -> None:
    """The new snapshot is vacuumed (its pages all-visible, so index-only scans skip the heap
    from the first request on) and gets planner statistics before it serves; the one serving
    users is not vacuumed or analysed again (on a large cache, minutes of reading beside them)."""
    url = fresh_database("postgresql")
    pg_bridge: Bridge = copied_demo(cache_url=url.render_as_string(hide_password=False))
    full_sync(pg_bridge)
    serving = pg_bridge.cache.current()
    engine = create_engine(url)

    def maintained(schema: str) -> dict[str, tuple[int, int]]:
        """(VACUUM runs, ANALYZE runs) per table; the sync's backend reports them when it ends."""
        deadline = time.monotonic() + 10
        while True:
            with engine.connect() as conn:
                found = {
                    name: (vacuums, analyses)
                    for name, vacuums, analyses in conn.execute(
                        text(
                            "SELECT relname, vacuum_count, analyze_count FROM pg_stat_user_tables"
                            " WHERE schemaname = :s"
                        ),
                        {"s": schema},
                    )
                }
            if (found and min(min(v) for v in found.values()) > 0) or time.monotonic() > deadline:
                return found
            time.sleep(0.1)

    def hidden_pages(schema: str) -> dict[str, int]:
        """Pages of each table not marked all-visible (an index-only scan reads those)."""
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT c.relname, c.relpages - c.relallvisible FROM pg_class c"
                    " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = :s AND c.relkind = 'r'"
                ),
                {"s": schema},
            )
            return {name: hidden for name, hidden in rows}

    before = maintained(serving)
    assert before and set(before.values()) == {(1, 1)}, before
    assert hidden_pages(serving)["contract"] == 0
    full_sync(pg_bridge)
    new = pg_bridge.cache.current()
    assert new != serving
    after = maintained(new)  # reported together with any work on the serving tables
    assert set(after) == set(before) and set(after.values()) == {(1, 1)}
    assert maintained(serving) == before
    assert set(hidden_pages(new).values()) == {0}
    engine.dispose()
    pg_bridge.cache.dispose()
