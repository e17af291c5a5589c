"""The Contract Performance report as JSON (`/contracts/<contract_no>/report?format=json`): every
figure of the page under snake_case keys, the same numbers the contract rows store, visibility as
the page, and exactly the shape the OpenAPI document describes."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import select, text

from bpo2_bridge.cache.schema import cache_table
from bpo2_bridge.demo.content import DEMO_ADMIN_LOGIN, DEMO_SALESMAN_LOGIN
from bpo2_bridge.report.figures import COST_TYPES, LINE_TYPES, METER_TYPES
from bpo2_bridge.report.formatting import NumberFormat
from bpo2_bridge.report.payload import snake

LABELS = {**LINE_TYPES, **METER_TYPES, **COST_TYPES}
NUMBERS = NumberFormat()  # the demo's settings: rand, space between thousands


def _contracts(bridge: Any) -> list[str]:
    with bridge.cache.connect() as conn:
        return list(conn.execute(text("SELECT contract_no FROM contract ORDER BY contract_no")).scalars())


def _figures_on_page(html: str) -> dict[str, str]:
    return dict(re.findall(r'data-figure="([^"]+)">([^<]*)<', html))


def _formatted(key: str, value: Any) -> str:
    """A JSON figure as the page shows the figure of that key."""
    name = key.split(".")[1]
    if name in ("volume", "volume_total", "calls"):
        return NUMBERS.number(value)
    if name == "margin":
        return NUMBERS.percent(None if value is None else Decimal(str(value)))
    places = 4 if name.endswith("_per_copy") else 2
    return NUMBERS.money(None if value is None else Decimal(str(value)), places)


def _json_value(body: dict[str, Any], key: str) -> Any:
    """'last_12.revenue.MinBilling' -> body['last_12m']['revenue']['minimum_billing']."""
    period, *path = key.split(".")
    value = body[{"to_date": "to_date", "last_12": "last_12m"}[period]]
    for i, part in enumerate(path):
        value = value[snake(LABELS.get(part, part)) if i else part]
    return value


def test_json_holds_every_figure_the_page_shows(client, login, demo_bridge) -> None:  # type: ignore[no-untyped-def]
    login(client, DEMO_ADMIN_LOGIN)
    contracts = _contracts(demo_bridge)
    assert len(contracts) > 20
    for contract_no in contracts:
        html = client.get(f"/contracts/{contract_no}/report").get_data(as_text=True)
        response = client.get(f"/contracts/{contract_no}/report?format=json")
        assert response.status_code == 200 and response.mimetype == "application/json"
        body = response.get_json()
        shown = _figures_on_page(html)
        assert len(shown) > 20
        for key, text_shown in shown.items():
            assert _formatted(key, _json_value(body, key)) == text_shown, (contract_no, key)
        assert body["contract"]["contract_no"] == contract_no
        assert f"<td>{body['contract']['status']}</td>" in html
        assert len(body["months"]) == html.count('<th scope="row">', html.index("report-months"))
        assert len(body["machines"]) == html.count('<tr class="machine">')
        assert body["as_of"] == "2026-11-22" and body["last_12m"]["from"] == "2025-12-01"


def test_json_last_12m_equals_the_stored_contract_row(client, login, demo_bridge) -> None:  # type: ignore[no-untyped-def]
    """API users read the same numbers the contract grids store."""
    login(client, DEMO_ADMIN_LOGIN)
    table = cache_table("contract_row")
    with demo_bridge.cache.connect() as conn:
        rows = conn.execute(select(table)).mappings().all()
    pairs = {
        "revenue_12m": "revenue_total",
        "cost_12m": "cost_total",
        "gross_profit_12m": "gross_profit",
        "margin_12m": "margin",
        "volume_12m": "volume_total",
        "cost_per_copy_12m": "cost_per_copy",
        "volume_trend": "volume_trend",
    }
    seen_trend = False
    for row in rows:
        last_12m = client.get(f"/contracts/{row['contract_no']}/report?format=json").get_json()["last_12m"]
        for column, key in pairs.items():
            value = last_12m[key]
            assert (None if value is None else Decimal(str(value))) == row[column], (row["contract_no"], key)
        seen_trend = seen_trend or last_12m["volume_trend"] is not None
    assert seen_trend


def test_json_clients_get_404_for_contracts_they_may_not_see(client, login, demo_bridge) -> None:  # type: ignore[no-untyped-def]
    login(client, DEMO_SALESMAN_LOGIN)
    with demo_bridge.cache.connect() as conn:
        mine = set(
            conn.execute(
                text(
                    "SELECT r.contract_no FROM contract_row r JOIN customer_salesman cs"
                    " ON cs.customer_id = r.customer_id JOIN employee e ON e.employee_id = cs.employee_id"
                    " WHERE e.login_name = :login"
                ),
                {"login": DEMO_SALESMAN_LOGIN},
            ).scalars()
        )
    foreign = next(c for c in _contracts(demo_bridge) if c not in mine)
    own = sorted(mine)[0]
    for contract_no in (foreign, "NO-SUCH"):
        response = client.get(f"/contracts/{contract_no}/report?format=json")
        assert response.status_code == 404 and "error" in response.get_json()
    accept = client.get(f"/contracts/{own}/report", headers={"Accept": "application/json"})
    assert accept.mimetype == "application/json" and accept.get_json()["contract"]["contract_no"] == own
    page = client.get(f"/contracts/{own}/report?format=html", headers={"Accept": "application/json"})
    assert page.mimetype == "text/html"


ADMIN = {"X-Remote-User": DEMO_ADMIN_LOGIN, "Accept": "application/json"}
LOCAL = {"environ_base": {"REMOTE_ADDR": "127.0.0.1"}}


def test_report_json_conforms_to_the_openapi_document(make_app, copied_demo) -> None:  # type: ignore[no-untyped-def]
    bridge = copied_demo(auth_mode="header", trusted_proxies=["127.0.0.1"])
    app = make_app(bridge)
    loaded = schemathesis.openapi.from_wsgi("/openapi.json", app, headers=ADMIN, **LOCAL)
    raw = loaded.raw_schema
    operation = raw["paths"]["/contracts/{contract_no}/report"]["get"]
    for param in operation["parameters"]:
        if param["name"] == "contract_no":  # contracts that exist (and one that does not)
            param["schema"] = {"type": "string", "enum": [*_contracts(bridge)[:12], "NO-SUCH"]}
    schema = schemathesis.openapi.from_dict(raw)
    schema.app = app
    schema.config.generation.update(with_security_parameters=False)
    report = schema.find_operation_by_id("report_view")
    checks = [status_code_conformance, content_type_conformance, response_schema_conformance]

    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(report.as_strategy(GenerationMode.POSITIVE))
    def run(case) -> None:  # type: ignore[no-untyped-def]
        case.call_and_validate(headers=ADMIN, checks=checks, **LOCAL)

    run()
    # the generated cases above may all name one format: one JSON answer checked by hand too
    client = app.test_client()
    body = client.get(f"/contracts/{_contracts(bridge)[0]}/report?format=json", headers=ADMIN, **LOCAL)
    assert set(body.get_json()) == set(
        operation["responses"]["200"]["content"]["application/json"]["schema"]["required"]
    )
