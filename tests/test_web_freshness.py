"""The freshness line: age, amber when older than twice the refresh interval, red on failure."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from bpo2_bridge.sync import history
from bpo2_bridge.web.freshness import compute

NOW = dt.datetime(2026, 11, 22, 14, 8)


def test_line_text_and_levels() -> None:
    line = compute(dt.datetime(2026, 11, 22, 14, 5), NOW, 15, None)
    assert line.text == "Data as of 14:05 — 3 min ago" and line.level == "ok"
    assert compute(NOW - dt.timedelta(minutes=31), NOW, 15, None).level == "amber"
    assert compute(NOW - dt.timedelta(minutes=30), NOW, 15, None).level == "ok"
    red = compute(NOW - dt.timedelta(minutes=5), NOW, 15, "BPO2 source unreachable: timeout")
    assert red.level == "red" and red.reason == "BPO2 source unreachable: timeout"
    assert compute(None, NOW, 15, None).level == "red"
    assert compute(dt.datetime(2026, 11, 20, 9, 0), NOW, 15, None).text.startswith(
        "Data as of 2026-11-20 09:00"
    )


@given(minutes=st.integers(0, 60 * 24 * 10), interval=st.integers(1, 1440))
def test_amber_exactly_when_older_than_twice_the_interval(minutes: int, interval: int) -> None:
    line = compute(NOW - dt.timedelta(minutes=minutes), NOW, interval, None)
    assert line.level == ("amber" if minutes > 2 * interval else "ok")
    assert line.text.startswith("Data as of ")


def test_failed_sync_turns_the_line_red_with_the_reason(make_app, copied_demo, login) -> None:
    bridge = copied_demo()
    run = history.start(bridge.store, "incremental", bridge.settings.now())
    history.fail(bridge.store, run, bridge.settings.now(), "BPO2 source unreachable: connection refused")
    client = make_app(bridge).test_client()
    login(client, "sales1")
    html = client.get("/").get_data(as_text=True)
    assert 'class="freshness freshness-red"' in html
    assert "last sync failed: BPO2 source unreachable: connection refused" in html
