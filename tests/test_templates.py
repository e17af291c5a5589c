"""Every template renders, with undefined names as errors, on a walk through every screen."""

from __future__ import annotations

import shutil
from pathlib import Path

import jinja2
from flask import template_rendered

from bpo2_bridge.demo.content import BENCH_CONTRACT_NO
from bpo2_bridge.web.app import create_app

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def _first(client, url: str, key: str) -> str:
    rows = client.get(url, headers={"Accept": "application/json"}).get_json()["rows"]
    assert rows, f"{url} has no rows"
    return str(rows[0][key])


def _strict_app(bridge):  # type: ignore[no-untyped-def]
    app = create_app(bridge=bridge)
    app.config["TESTING"] = True
    app.jinja_env.undefined = jinja2.StrictUndefined
    return app


def test_every_page_template_renders_strictly(demo_bridge, copied_demo, login):
    app = _strict_app(demo_bridge)
    without_cache = _strict_app(copied_demo())
    shutil.rmtree(without_cache.extensions["bpo2_bridge"].settings.data_path / "cache")
    rendered: set[str] = set()

    def record(sender, template, context, **extra):  # type: ignore[no-untyped-def]
        rendered.add(template.name)

    template_rendered.connect(record, app)
    template_rendered.connect(record, without_cache)
    try:
        client = app.test_client()
        assert client.get("/login").status_code == 200
        login(client, "admin")
        account = _first(client, "/customers", "account_no")
        case_no = None
        for url in (
            "/",
            "/customers",
            f"/customers/{account}",
            f"/customers/{account}/contracts?tab=expired",
            "/contracts?tab=expiring",
            "/renewals?horizon=12",
            "/cases",
            f"/customers/{account}/cases?tab=all",
            "/activities?tab=recent",
            f"/customers/{account}/activities?tab=all",
            f"/contracts/{BENCH_CONTRACT_NO}/report",
            "/customers?f_account_no=%3E%3E",  # a bad filter: the grid's 400 page
            "/customers/NO-SUCH-ACCOUNT",  # 404 page
            "/digest",
            "/me/settings",
            "/me/calendar",
        ):
            assert client.get(url).status_code in (200, 400, 404), url
        for row in client.get("/customers?page_size=200", headers={"Accept": "application/json"}).get_json()[
            "rows"
        ]:
            files = client.get(
                f"/customers/{row['account_no']}/files", headers={"Accept": "application/json"}
            )
            if files.get_json()["rows"]:
                case_no = files.get_json()["rows"][0]["case_no"]
                assert client.get(f"/customers/{row['account_no']}/files").status_code == 200
                break
        assert case_no is not None
        assert client.get(f"/cases/{case_no}").status_code == 200
        ops = app.test_client()
        login(ops, "ops")
        for url in ("/status", "/status/email-log", "/checks", "/checks/contract_without_machines"):
            assert ops.get(url).status_code == 200, url
        assert ops.post("/checks/query", data={"sql": "DELETE FROM contract"}).status_code in (200, 400)
        assert ops.get("/checks/query").status_code == 200
        lost = without_cache.test_client()
        login(lost, "admin")
        assert lost.get("/customers").status_code == 503
    finally:
        template_rendered.disconnect(record, app)
        template_rendered.disconnect(record, without_cache)

    pages = {
        p.relative_to(TEMPLATES).as_posix()
        for p in TEMPLATES.rglob("*.html")
        if not p.name.startswith("_") and p.name != "base.html"
    }
    # the PDF document template renders through WeasyPrint's own path, not Flask's; the time
    # limit's page needs a snapshot large enough to be stopped (strictly rendered in
    # test_time_limit.py)
    # the digest email renders through the digest's own strict environment (test_digest.py)
    missing = sorted(pages - rendered - {"report/document.html", "errors/timeout.html", "digest/email.html"})
    assert not missing, f"templates no walk rendered: {missing}"
