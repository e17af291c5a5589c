"""Status (ops): syncs, reachability, schema check, and Run full sync from the page."""

from __future__ import annotations

import re
import time

from bpo2_bridge.sync import history

from .helpers import page_token


def test_status_lists_syncs_and_runs_a_full_sync(make_app, copied_demo, login) -> None:
    bridge = copied_demo()
    app = make_app(bridge)
    client = app.test_client()
    login(client, "ops")
    html = client.get("/status").get_data(as_text=True)
    assert "All mapped tables and columns found" in html
    assert re.search(r"<td>full</td>.*?status-ok", html, re.S)
    assert "customer: 20" in html
    before = len(history.recent(bridge.store, 50))
    response = client.post("/status/full-sync", data={"csrf_token": page_token(client, "/status")})
    assert response.status_code == 302
    app.extensions["bpo2_full_sync_thread"].join(timeout=60)
    runs = history.recent(bridge.store, 50)
    assert len(runs) == before + 1 and runs[0]["kind"] == "full" and runs[0]["status"] == "ok"
    assert "Full sync started" in client.get("/status").get_data(as_text=True)


def test_status_says_when_bpo2_is_unreachable(make_app, copied_demo, login, tmp_path) -> None:
    bridge = copied_demo(source_url=f"sqlite:///{tmp_path / 'missing' / 'bpo2.sqlite'}")
    client = make_app(bridge).test_client()
    login(client, "ops")
    started = time.monotonic()
    html = client.get("/status").get_data(as_text=True)
    assert time.monotonic() - started < 10
    assert 'class="status-bad">No</span>' in html
    assert "not run (source unreachable)" in html
