"""The SQL checks page: ops only; checks with their last result, run now, the rows found as a
grid with CSV export, and the ad-hoc query box (same guard, time limit and row cap)."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io

import pytest

from bpo2_bridge.checks.canned import list_checks
from bpo2_bridge.demo.content import DEMO_SALESMAN_LOGIN

from .helpers import csrf_token


@pytest.fixture
def ops_app(make_app, copied_demo):
    bridge = copied_demo()
    return make_app(bridge)


@pytest.fixture
def ops(ops_app, login):
    client = ops_app.test_client()
    assert login(client, "ops").status_code in (302, 303)
    return client


def _post(client, url: str, data: dict | None = None):  # type: ignore[no-untyped-def]
    token = csrf_token(client.get("/checks").get_data(as_text=True))
    return client.post(url, data={"csrf_token": token, **(data or {})})


def _source_hash(bridge) -> str:  # type: ignore[no-untyped-def]
    return hashlib.sha256(bridge.settings.demo_source_path.read_bytes()).hexdigest()


def test_checks_page_lists_every_check_not_yet_run(ops) -> None:
    page = ops.get("/checks")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for check in list_checks():
        assert f'id="check-{check.name}"' in html
    assert html.count("not run yet") == len(list_checks())
    assert 'href="/checks"' in html  # the SQL checks entry in the navigation


def test_run_now_records_results_shown_on_the_page(ops, ops_app, seed_expiry_before_start) -> None:
    bridge = ops_app.extensions["bpo2_bridge"]
    seed_expiry_before_start(bridge)
    response = _post(ops, "/checks/contract_expiry_before_start/run")
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/checks/contract_expiry_before_start")
    detail = ops.get("/checks/contract_expiry_before_start").get_data(as_text=True)
    assert "FAIL" in detail and "SEED-EXP-START" in detail and "web:ops" in detail

    exported = ops.get("/checks/contract_expiry_before_start?format=csv")
    assert exported.status_code == 200 and exported.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True).lstrip("\ufeff"))))
    assert [r["Contract no"] for r in rows] == ["SEED-EXP-START"]
    as_json = ops.get("/checks/contract_expiry_before_start?format=json").get_json()
    assert as_json["total"] == 1 and as_json["rows"][0]["expiry_date"] == "2026-04-30"
    filtered = ops.get("/checks/contract_expiry_before_start?format=json&q=nothing-like-this").get_json()
    assert filtered["total"] == 0

    index = ops.get("/checks").get_data(as_text=True)
    row = index.split('id="check-contract_expiry_before_start"')[1].split("</tr>")[0]
    assert "FAIL" in row and ">1<" in row


def test_run_all_from_the_page(ops) -> None:
    response = _post(ops, "/checks/run")
    assert response.status_code == 303
    html = ops.get("/checks").get_data(as_text=True)
    assert "not run yet" not in html
    assert "Ran 10 checks" in html or f"Ran {len(list_checks())} checks" in html


def test_unknown_check_is_404(ops) -> None:
    assert ops.get("/checks/no_such_check").status_code == 404


def test_adhoc_query_runs_with_the_row_cap(ops, ops_app) -> None:
    bridge = ops_app.extensions["bpo2_bridge"]
    table = bridge.mapping["contract"].table
    response = _post(
        ops, "/checks/query", {"sql": f'SELECT * FROM "{table}"', "max_rows": "3", "timeout": "5"}
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.count("<tr>") == 4  # header and three rows
    assert "Showing the first 3 rows only" in html

    cached = _post(ops, "/checks/query", {"sql": "SELECT COUNT(*) AS n FROM contract", "target": "cache"})
    assert cached.status_code == 200 and '<th class="num">n</th>' in cached.get_data(as_text=True)


def test_adhoc_hostile_query_is_refused_and_changes_nothing(ops, ops_app) -> None:
    bridge = ops_app.extensions["bpo2_bridge"]
    before = _source_hash(bridge)
    table = bridge.mapping["contract"].table
    for sql in (f'DELETE FROM "{table}"', f'SELECT 1; DROP TABLE "{table}"', "PRAGMA query_only = 0"):
        response = _post(ops, "/checks/query", {"sql": sql})
        assert response.status_code == 400
        assert "Refused:" in response.get_data(as_text=True)
    assert _source_hash(bridge) == before


def test_adhoc_csv_download(ops, ops_app) -> None:
    table = ops_app.extensions["bpo2_bridge"].mapping["contract"].table
    response = _post(ops, "/checks/query", {"sql": f'SELECT COUNT(*) AS n FROM "{table}"', "format": "csv"})
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0] == ["n"] and int(rows[1][0]) > 0


def test_adhoc_limits_never_exceed_the_settings(ops, ops_app) -> None:
    bridge = ops_app.extensions["bpo2_bridge"]
    table = bridge.mapping["contract"].table
    cap = bridge.settings.query_max_rows
    response = _post(ops, "/checks/query", {"sql": f'SELECT * FROM "{table}"', "max_rows": str(cap * 10)})
    assert f'value="{cap}"' in response.get_data(as_text=True)


@pytest.mark.parametrize("value", ["nan", "inf", "1e308", "-5", "0", "soon"])
def test_adhoc_absurd_time_limit_is_a_400_naming_it(ops, ops_app, value) -> None:
    response = _post(ops, "/checks/query", {"sql": "SELECT 1 AS x", "timeout": value})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "Time limit must be between 0.1 and 3600 seconds" in html or "Time limit expected" in html
    fractional = _post(ops, "/checks/query", {"sql": "SELECT 1 AS x", "timeout": "2.5"})
    assert fractional.status_code == 200


def test_plain_user_and_anonymous_are_refused(ops_app, login) -> None:
    anonymous = ops_app.test_client()
    assert anonymous.get("/checks").status_code in (302, 303)
    user = ops_app.test_client()
    login(user, DEMO_SALESMAN_LOGIN)
    for url in ("/checks", "/checks/query", "/checks/contract_expiry_before_start"):
        assert user.get(url).status_code == 403
    token = csrf_token(user.get("/").get_data(as_text=True))
    assert user.post("/checks/run", data={"csrf_token": token}).status_code == 403
    assert user.post("/checks/query", data={"csrf_token": token, "sql": "SELECT 1"}).status_code == 403
    assert 'href="/checks"' not in user.get("/").get_data(as_text=True)


def test_post_without_csrf_token_is_rejected(ops) -> None:
    assert ops.post("/checks/run").status_code == 400
    assert ops.post("/checks/query", data={"sql": "SELECT 1"}).status_code == 400


def test_a_check_without_rows_still_answers_json(ops) -> None:
    """Never run, or run and found nothing: JSON clients get an empty page, the browser the page."""
    never = ops.get("/checks/contract_expiry_before_start?format=json")
    assert never.status_code == 200 and never.mimetype == "application/json"
    assert never.get_json() == {
        "rows": [],
        "total": 0,
        "capped": False,
        "page": 1,
        "pages": 1,
        "page_size": 50,
        "next": None,
        "as_of": None,
    }
    assert _post(ops, "/checks/contract_expiry_before_start/run").status_code == 303
    clean = ops.get("/checks/contract_expiry_before_start", headers={"Accept": "application/json"})
    assert clean.status_code == 200 and clean.mimetype == "application/json"
    body = clean.get_json()
    assert body["rows"] == [] and body["total"] == 0
    assert dt.datetime.fromisoformat(body["as_of"])  # when the run found nothing
    assert (
        ops.get("/checks/contract_expiry_before_start?format=json&page_size=20").get_json()["page_size"] == 20
    )
    bad = ops.get("/checks/contract_expiry_before_start?format=json&page_size=lots")
    assert bad.status_code == 400 and bad.get_json()["parameter"] == "page_size"
    csv_text = ops.get("/checks/contract_expiry_before_start?format=csv")
    assert csv_text.status_code == 200 and csv_text.mimetype == "text/csv"
    page = ops.get("/checks/contract_expiry_before_start")
    assert page.mimetype == "text/html" and "PASS" in page.get_data(as_text=True)
