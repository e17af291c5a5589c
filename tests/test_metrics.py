"""/metrics as Prometheus scrapes it: request latency by endpoint, syncs, emails; no personal data."""

from __future__ import annotations

import gc
import re
import socket

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from bpo2_bridge.sync import SyncFailed, full_sync

from .helpers import page_token

SALESMAN = "sales1"


def scrape(client) -> dict[str, list]:  # type: ignore[no-untyped-def]
    """metric family name -> samples; fails unless the text parses as Prometheus exposition."""
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    body = response.get_data(as_text=True)
    return {family.name: family.samples for family in text_string_to_metric_families(body)}


def sample(families: dict[str, list], name: str, **labels: str) -> float | None:
    for family in families.values():
        for s in family:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    return None


def fresh_scrape(app, client) -> dict[str, list]:  # type: ignore[no-untyped-def]
    app.extensions["bpo2_metrics"].store.ttl = 0  # read the store now, not a cached reading
    return scrape(client)


def test_latency_histogram_by_endpoint(app, client, login) -> None:
    login(client, SALESMAN)
    for _ in range(3):
        assert client.get("/customers?format=json").status_code == 200
    assert client.get("/contracts?tab=expired").status_code == 200
    assert client.get("/no/such/page").status_code == 404
    families = scrape(client)
    count = "bpo2_bridge_http_request_duration_seconds_count"
    assert sample(families, count, endpoint="customers.index", method="GET") == 3
    assert sample(families, count, endpoint="contracts.index", method="GET") == 1
    assert sample(families, count, endpoint="unmatched", method="GET") == 1
    assert sample(families, count, endpoint="auth.login", method="POST") == 1
    # cumulative buckets: the +Inf bucket holds every request, the 300 ms edge is there
    inf = sample(
        families, "bpo2_bridge_http_request_duration_seconds_bucket", endpoint="customers.index", le="+Inf"
    )
    edge = sample(
        families, "bpo2_bridge_http_request_duration_seconds_bucket", endpoint="customers.index", le="0.3"
    )
    assert inf == 3 and edge is not None and 0 <= edge <= 3
    total = sample(families, "bpo2_bridge_http_requests_total", endpoint="unmatched", status="404")
    assert total == 1
    assert sample(families, "process_resident_memory_bytes") > 0
    assert sample(families, "bpo2_bridge_up") == 1 and sample(families, "bpo2_bridge_uptime_seconds") >= 0


def test_metrics_needs_no_sign_in_and_shows_no_personal_data(app, client, login, demo_bridge) -> None:
    with demo_bridge.cache.connect() as conn:
        customers = conn.execute(text("SELECT account_no, customer_name FROM customer")).all()
        logins = conn.execute(text("SELECT login_name FROM employee")).scalars().all()
        contracts = conn.execute(text("SELECT contract_no FROM contract")).scalars().all()
    login(client, "admin")
    for account_no, _ in customers[:5]:
        assert client.get(f"/customers/{account_no}/contracts?tab=all").status_code == 200
    client.get(f"/contracts/{contracts[0]}/report")
    anonymous = app.test_client()
    body = anonymous.get("/metrics").get_data(as_text=True)
    assert "bpo2_bridge_http_request_duration_seconds_bucket" in body
    assert "@" not in body
    words = set(re.findall(r"[\w.-]+", body))
    for account_no, name in customers:
        assert account_no not in words and name not in body
    for value in [*logins, *contracts, "admin", "ops", SALESMAN]:
        assert value not in words, value


def test_sync_metrics_after_syncs(make_app, copied_demo, tmp_path) -> None:
    bridge = copied_demo()
    app = make_app(bridge)
    client = app.test_client()
    before = fresh_scrape(app, client)
    runs_before = sample(before, "bpo2_bridge_sync_runs_total", kind="full")
    result = full_sync(bridge)
    families = fresh_scrape(app, client)
    assert sample(families, "bpo2_bridge_sync_runs_total", kind="full") == runs_before + 1
    assert sample(families, "bpo2_bridge_sync_failures_total", kind="full") == 0
    assert sample(families, "bpo2_bridge_sync_running", kind="full") == 0
    for entity, rows in result.rows.items():
        assert sample(families, "bpo2_bridge_sync_rows", entity=entity) == rows
    duration = sample(families, "bpo2_bridge_sync_last_duration_seconds", kind="full")
    assert duration == pytest.approx(result.seconds, abs=0.01)
    assert sample(families, "bpo2_bridge_last_sync_failed") == 0
    assert 0 <= sample(families, "bpo2_bridge_cache_age_seconds") < 60

    # the same store seen by a bridge whose BPO2 is unreachable: the failure is counted
    broken = copied_demo(source_url=f"sqlite:///{tmp_path / 'missing' / 'bpo2.sqlite'}")
    broken_app = make_app(broken)
    with pytest.raises(SyncFailed):
        full_sync(broken)
    families = fresh_scrape(broken_app, broken_app.test_client())
    assert sample(families, "bpo2_bridge_sync_failures_total", kind="full") == 1
    assert sample(families, "bpo2_bridge_last_sync_failed") == 1


def test_store_reading_is_reused_within_its_ttl(make_app, copied_demo) -> None:
    bridge = copied_demo()
    app = make_app(bridge)
    client = app.test_client()
    runs = sample(scrape(client), "bpo2_bridge_sync_runs_total", kind="full")
    full_sync(bridge)
    assert sample(scrape(client), "bpo2_bridge_sync_runs_total", kind="full") == runs
    assert sample(fresh_scrape(app, client), "bpo2_bridge_sync_runs_total", kind="full") == runs + 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_email_counters_follow_the_email_log(make_app, copied_demo, login) -> None:
    # nothing listens on the SMTP port: the send fails and is logged as failed
    bridge = copied_demo(smtp_host="127.0.0.1", smtp_port=_free_port(), smtp_timeout=5)
    app = make_app(bridge)
    client = app.test_client()
    families = fresh_scrape(app, client)
    assert sample(families, "bpo2_bridge_emails_total", outcome="sent") == 0
    assert sample(families, "bpo2_bridge_emails_total", outcome="failed") == 0
    login(client, "admin")
    with bridge.cache.connect() as conn:
        contract_no = conn.execute(text("SELECT MIN(contract_no) FROM contract")).scalar_one()
    url = f"/contracts/{contract_no}/report"
    form = {
        "csrf_token": page_token(client, url),
        "to": "buyer@customer.test",
        "subject": "s",
        "message": "m",
    }
    assert client.post(f"{url}/email", data=form).status_code == 502
    families = fresh_scrape(app, client)
    assert sample(families, "bpo2_bridge_emails_total", outcome="failed") == 1
    assert sample(families, "bpo2_bridge_emails_total", outcome="sent") == 0
    count = "bpo2_bridge_http_request_duration_seconds_count"
    assert sample(families, count, endpoint="report.email", method="POST") == 1


def test_store_down_still_answers(make_app, copied_demo, tmp_path) -> None:
    bridge = copied_demo()
    app = make_app(bridge)
    client = app.test_client()
    bridge.store.dispose()
    for path in bridge.settings.data_path.glob("store.sqlite*"):
        path.unlink()
    bridge.settings.data_path.joinpath("store.sqlite").mkdir()  # unopenable as a database
    families = fresh_scrape(app, client)
    assert sample(families, "bpo2_bridge_store_up") == 0
    assert sample(families, "bpo2_bridge_sync_runs_total", kind="full") is None


def test_the_garbage_collectors_passes_are_counted_by_generation(client) -> None:
    before = sample(scrape(client), "python_gc_collections_total", generation="2")
    gc.collect()  # a full pass, as the collector runs now and then
    after = sample(scrape(client), "python_gc_collections_total", generation="2")
    assert before is not None and after is not None and after >= before + 1
