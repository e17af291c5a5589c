"""Status (ops): syncs, reachability, schema check, and Run full sync from the page."""

from __future__ import annotations

import re
import time

from bpo2_bridge.sync import history
from bpo2_bridge.web.app import create_app


def _token(client, url: str) -> str:  # type: ignore[no-untyped-def]
    match = re.search(r'name="csrf_token" value="([^"]+)"', client.get(url).get_data(as_text=True))
    assert match
    return match.group(1)


def test_status_lists_syncs_and_runs_a_full_sync(copied_demo, login) -> None:
    bridge = copied_demo()
    app = create_app(bridge=bridge)
    client = app.test_client()
    login(client, "ops")
    html = client.get("/status").get_data(as_text=True)
    assert "All mapped tables and columns found" in html
    assert re.search(r"<td>full</td>.*?status-ok", html, re.S)
    assert "customer: 20" in html
    before = len(history.recent(bridge.store, 50))
    response = client.post("/status/full-sync", data={"csrf_token": _token(client, "/status")})
    assert response.status_code == 302
    app.extensions["bpo2_full_sync_thread"].join(timeout=60)
    runs = history.recent(bridge.store, 50)
    assert len(runs) == before + 1 and runs[0]["kind"] == "full" and runs[0]["status"] == "ok"
    assert "Full sync started" in client.get("/status").get_data(as_text=True)


def test_status_says_when_bpo2_is_unreachable(copied_demo, login, tmp_path) -> None:
    bridge = copied_demo(source_url=f"sqlite:///{tmp_path / 'missing' / 'bpo2.sqlite'}")
    client = create_app(bridge=bridge).test_client()
    login(client, "ops")
    started = time.monotonic()
    html = client.get("/status").get_data(as_text=True)
    assert time.monotonic() - started < 10
    assert 'class="status-bad">No</span>' in html
    assert "not run (source unreachable)" in html
