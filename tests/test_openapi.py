"""The OpenAPI description of the JSON endpoints, and schemathesis fuzzing the live app against it.

The fuzzing runs the real Flask app (WSGI) on a copy of the tiny demo, signed in through the
trusted login header as the demo administrator (every customer) and as ops (the check grids).
"""

from __future__ import annotations

import datetime as dt
import re
import shutil

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import MetaData, create_engine, select, text, update

from bpo2_bridge.bridge import Bridge
from bpo2_bridge.checks.canned import list_checks, run_checks
from bpo2_bridge.demo.content import DEMO_ADMIN_LOGIN, DEMO_SALESMAN_LOGIN
from bpo2_bridge.settings import load_settings
from bpo2_bridge.source.mapping import physical_table
from bpo2_bridge.web.app import create_app
from bpo2_bridge.web.openapi import GRID_ENDPOINTS, build_openapi, openapi_path

from .helpers import page_token

ADMIN = {"X-Remote-User": DEMO_ADMIN_LOGIN}
OPS = {"X-Remote-User": "ops"}
LOCAL = {"environ_base": {"REMOTE_ADDR": "127.0.0.1"}}  # the trusted proxy
GRID_KEYS = {"rows", "total", "capped", "page", "pages", "page_size", "next", "as_of"}


@pytest.fixture(scope="module")
def header_app(_demo_folder, tmp_path_factory):  # type: ignore[no-untyped-def]
    """The app on a private demo copy, users signed in by the login header from 127.0.0.1."""
    folder = tmp_path_factory.mktemp("openapi") / "data"
    shutil.copytree(_demo_folder, folder)
    original = Bridge(_settings(_demo_folder))
    snapshot = original.cache.current()
    original.dispose()
    bridge = Bridge(_settings(folder, auth_mode="header", trusted_proxies=["127.0.0.1"]))
    with bridge.store.begin() as conn:
        bridge.cache.publish(conn, snapshot)
    _break_a_contract(bridge)
    # a check run that found rows, so /checks/<name> answers with a grid too
    results = run_checks(bridge, [c.name for c in list_checks()], triggered_by="test")
    assert any(r.row_count for r in results)
    # module-wide (the fuzzing reuses it): make_app is one test's
    yield create_app(bridge=bridge)
    bridge.dispose()


def _break_a_contract(bridge) -> None:  # type: ignore[no-untyped-def]
    """An expiry before the start in the source copy: the contract_expiry_before_start check finds it."""
    table = physical_table(bridge.mapping["contract"], MetaData())
    writer = create_engine(f"sqlite:///{bridge.settings.demo_source_path}")
    with writer.begin() as conn:
        first = conn.execute(select(table.c.contract_id).order_by(table.c.contract_id).limit(1)).scalar_one()
        conn.execute(
            update(table)
            .where(table.c.contract_id == first)
            .values(start_date=dt.date(2026, 1, 1), expiry_date=dt.date(2025, 1, 1))
        )
    writer.dispose()


def _settings(folder, **overrides):  # type: ignore[no-untyped-def]
    values = {"data_dir": str(folder), "today": "2026-11-22", "secret_key": "test-secret", **overrides}
    return load_settings(config_file=None, overrides=values, environ={})


def _document(app) -> dict:  # type: ignore[no-untyped-def]
    response = app.test_client().get("/openapi.json", headers=ADMIN)
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return response.get_json()


# -- the document ---------------------------------------------------------------------------


def test_openapi_needs_sign_in(client) -> None:
    assert client.get("/openapi.json", headers={"Accept": "application/json"}).status_code == 401
    browser = client.get("/openapi.json")
    assert browser.status_code == 302 and "/login" in browser.headers["Location"]


def test_signed_in_user_gets_the_document(client, login) -> None:
    login(client, DEMO_SALESMAN_LOGIN)
    doc = client.get("/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    assert doc["components"]["securitySchemes"]["session"] == {
        "type": "apiKey",
        "in": "cookie",
        "name": "bpo2_session",
        "description": "the session cookie set by signing in at /login",
    }
    assert doc["paths"]["/healthz"]["get"]["security"] == []


def test_every_grid_url_is_described_with_its_parameters(app) -> None:
    doc = build_openapi(app)
    for spec in GRID_ENDPOINTS:
        rules = list(app.url_map.iter_rules(spec.endpoint))
        assert rules, f"{spec.endpoint} is not routed"
        operation = doc["paths"][openapi_path(rules[0])]["get"]
        names = {p["name"] for p in operation["parameters"]}
        assert {"page", "page_size", "format", "after", "before"} <= names
        grid = spec.grid()
        if grid is None:
            continue
        assert {"sort", "filter"} <= names
        assert {f"f_{c.key}" for c in grid.filterable} <= names
        rows = operation["responses"]["200"]["content"]["application/json"]["schema"]
        assert set(rows["required"]) == GRID_KEYS
        keys = [c.key for c in (*spec.json_extra(), *grid.columns)]
        assert list(rows["properties"]["rows"]["items"]["properties"]) == keys


def test_the_document_is_valid_openapi(app) -> None:
    schema = schemathesis.openapi.from_dict(build_openapi(app))
    schema.validate()  # against the OpenAPI 3.0 meta-schema; raises on any violation
    labels = {op.ok().label for op in schema.get_all_operations()}
    assert "GET /customers/{account_no}/files" in labels and "GET /healthz" in labels


def test_row_types_match_what_the_grids_answer(demo_bridge, client, login) -> None:
    """Every JSON grid URL answers rows with exactly the columns and types the document names."""
    login(client, DEMO_ADMIN_LOGIN)
    doc = client.get("/openapi.json").get_json()
    with demo_bridge.cache.connect() as conn:
        account = conn.execute(
            text(
                "SELECT c.account_no FROM customer c JOIN case_attachment a ON a.customer_id = c.customer_id "
                "ORDER BY c.customer_id LIMIT 1"
            )
        ).scalar_one()
    pytypes = {"string": str, "number": (int, float), "integer": int, "boolean": bool}
    for path, item in doc["paths"].items():
        if path.startswith("/checks") or "grids" not in item.get("get", {}).get("tags", []):
            continue  # not a CRM grid (each check's grid has its own columns; Refresh is a POST)
        url = path.replace("{account_no}", account) + "?format=json&page_size=200"
        body = client.get(url).get_json()
        assert set(body) == GRID_KEYS, path
        assert body["rows"], f"{path} has no rows to compare"
        properties = item["get"]["responses"]["200"]["content"]["application/json"]["schema"]["properties"]
        columns = properties["rows"]["items"]["properties"]
        for row in body["rows"]:
            assert list(row) == list(columns), path
            for key, value in row.items():
                if value is not None:
                    assert isinstance(value, pytypes[columns[key]["type"]]), (path, key, value)
                    if "pattern" in columns[key]:
                        assert re.match(columns[key]["pattern"], value), (path, key, value)


def test_json_grid_urls_outside_the_document_do_not_exist(app, login) -> None:
    """Every GET route that answers the grid JSON shape is in the document (it stays complete)."""
    client = app.test_client()
    login(client, DEMO_ADMIN_LOGIN)
    doc = client.get("/openapi.json").get_json()
    values = {
        "account_no": "ACC00001",
        "contract_no": "CPC0000001",
        "case_no": "CS000001",
        "name": "x",
        "token": "x",
    }
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or ()) or rule.endpoint == "static" or "int:" in rule.rule:
            continue
        url = re.sub(r"<(\w+)>", lambda m: values[m[1]], rule.rule)
        response = client.get(url + "?format=json", headers={"Accept": "application/json"})
        if response.mimetype == "application/json" and set(response.get_json() or {}) >= GRID_KEYS:
            assert openapi_path(rule) in doc["paths"], rule.rule


# -- schemathesis against the live app ------------------------------------------------------


def _fuzz_schema(app):  # type: ignore[no-untyped-def]
    loaded = schemathesis.openapi.from_wsgi("/openapi.json", app, headers=ADMIN, **LOCAL)
    raw = loaded.raw_schema
    # account_no: customers that exist (and one that does not), so fuzzing reaches the grids
    with app.extensions["bpo2_bridge"].cache.connect() as conn:
        accounts = [r[0] for r in conn.execute(text("SELECT account_no FROM customer ORDER BY 1 LIMIT 4"))]
    for item in raw["paths"].values():
        for param in (p for operation in item.values() for p in operation.get("parameters", [])):
            if param["name"] == "account_no":
                param["schema"] = {"type": "string", "enum": [*accounts, "NO-SUCH-ACCOUNT"]}
    schema = schemathesis.openapi.from_dict(raw)
    schema.app = app
    schema.config.generation.update(with_security_parameters=False)
    return schema


@pytest.fixture(scope="module")
def fuzz_schema(header_app):  # type: ignore[no-untyped-def]
    return _fuzz_schema(header_app)


# operationIds: the grid endpoints, /healthz and /openapi.json
OPERATIONS = [spec.endpoint.replace(".", "_") for spec in GRID_ENDPOINTS] + [
    "health_healthz",
    "openapi_document",
]
CONFORMANCE = [status_code_conformance, content_type_conformance, response_schema_conformance]
BOUNDED = settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), database=None)


def _who(case) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {**(OPS if case.path.startswith("/checks") else ADMIN), "Accept": "application/json"}


@pytest.mark.parametrize("operation_id", OPERATIONS)
def test_valid_requests_conform_and_never_fail(fuzz_schema, operation_id: str) -> None:
    """Valid input: no 5xx; status, content type and JSON body exactly as documented."""
    operation = fuzz_schema.find_operation_by_id(operation_id)

    @BOUNDED
    @given(operation.as_strategy(GenerationMode.POSITIVE))
    def run(case) -> None:  # type: ignore[no-untyped-def]
        case.call_and_validate(headers=_who(case), checks=CONFORMANCE, **LOCAL)

    run()


@pytest.mark.parametrize("operation_id", OPERATIONS[: len(GRID_ENDPOINTS)])
def test_hostile_input_never_fails_the_server(fuzz_schema, operation_id: str) -> None:
    """Invalid input (wrong types, NUL bytes, out-of-range numbers): refused with 4xx, never a 5xx."""
    operation = fuzz_schema.find_operation_by_id(operation_id)

    @BOUNDED
    @given(operation.as_strategy(GenerationMode.NEGATIVE))
    def run(case) -> None:  # type: ignore[no-untyped-def]
        response = case.call(headers=_who(case), **LOCAL)
        assert response.status_code < 500, (case.path, case.query, response.status_code)

    run()


# -- the file_id of Customer Files, and the Refresh POST -------------------------------------


def test_file_rows_carry_the_file_id_of_their_download(demo_bridge, client, login) -> None:
    login(client, DEMO_ADMIN_LOGIN)
    with demo_bridge.cache.connect() as conn:
        account = conn.execute(
            text(
                "SELECT c.account_no FROM customer c JOIN case_attachment a ON a.customer_id = c.customer_id "
                "ORDER BY c.customer_id LIMIT 1"
            )
        ).scalar_one()
    rows = client.get(f"/customers/{account}/files?format=json").get_json()["rows"]
    assert rows and all(isinstance(row["file_id"], int) for row in rows)
    assert len({row["file_id"] for row in rows}) == len(rows)
    for row in rows:
        download = client.get(f"/files/{row['file_id']}")
        assert download.status_code == 200, row
        assert row["file_name"].split(".")[0] in download.headers["Content-Disposition"]
        assert int(download.headers["Content-Length"]) == row["file_size"]
    # the page keeps its columns: the id only links File Name to its download
    html = client.get(f"/customers/{account}/files").get_data(as_text=True)
    assert f'href="/files/{rows[0]["file_id"]}"' in html and "File ID" not in html


def test_refresh_post_is_described_and_answers_as_documented(make_app, copied_demo, login) -> None:
    bridge = copied_demo()
    app = make_app(bridge)
    document = build_openapi(app)
    operation = document["paths"]["/customers/{account_no}/refresh"]["post"]
    form = operation["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
    assert {"csrf_token", "next"} <= set(form["properties"])
    assert {"X-CSRFToken", "account_no"} <= {p["name"] for p in operation["parameters"]}
    assert {"200", "302", "400", "401", "404", "503"} <= set(operation["responses"])
    refresh = schemathesis.openapi.from_dict(document)["/customers/{account_no}/refresh"]["POST"]

    client = app.test_client()
    with bridge.cache.connect() as conn:
        account = conn.execute(
            text("SELECT account_no FROM customer ORDER BY customer_id LIMIT 1")
        ).scalar_one()
    url = f"/customers/{account}/refresh"
    json_client = {"Accept": "application/json"}

    def token_of(page: str) -> str:
        return page_token(client, page)

    # the token is checked first: a client not signed in, with its session's token, gets 401
    anonymous = client.post(url, headers={**json_client, "X-CSRFToken": token_of("/login")})
    login(client, DEMO_ADMIN_LOGIN)
    token = token_of(f"/customers/{account}/contracts")
    answers = {
        "401": anonymous,
        "400": client.post(url, headers=json_client),
        "404": client.post("/customers/NO-SUCH/refresh", headers={**json_client, "X-CSRFToken": token}),
        "200": client.post(url, headers={**json_client, "X-CSRFToken": token}),
    }
    for status, response in answers.items():
        assert str(response.status_code) == status, (status, response.text[:200])
        assert response.mimetype in operation["responses"][status]["content"]
        refresh.validate_response(response)  # raises when the body breaks the documented schema
    assert answers["200"].get_json()["account_no"] == account
    browser = client.post(url, data={"csrf_token": token})
    assert browser.status_code == 302 and f"/customers/{account}/contracts" in browser.headers["Location"]
