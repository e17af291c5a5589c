"""The OpenAPI 3 description of the JSON endpoints, built from the grid definitions.

Every grid URL answers JSON (``?format=json`` or ``Accept: application/json``) with
``{"rows", "total", "page", "pages", "page_size", "next", "as_of"}``; errors answer a JSON
client with ``{"error": ...}`` (401, 403, 404, 400, 503). The document is made from the same
``Grid`` objects the views use and from the app's URL map, so a renamed column, a new
filterable column or a moved URL changes the document with it. The one form POST a JSON
client may use, the per-customer Refresh, and the Contract Performance report's JSON
(:mod:`.openapi_report`) are described as well.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import Flask
from werkzeug.routing import Rule

from .. import __version__
from ..queries.grid.columns import GridColumn
from ..queries.grid.engine import Grid
from .openapi_report import report_operation
from .openapi_responses import (
    NOT_SIGNED_IN,
    SIGN_IN_REDIRECT,
    UNAVAILABLE_SCHEMA,
    error_response,
    frozen,
    plain,
    refresh_operation,
)
from .openapi_schemas import HEALTH_SCHEMA, grid_parameters, page_schema

OPENAPI_VERSION = "3.0.3"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

TAB = frozen(
    {
        "name": "tab",
        "in": "query",
        "description": "Contracts (all), Expired Contracts or Expiring Contracts; anything else shows all.",
        "schema": {"type": "string", "enum": ["all", "expired", "expiring"], "default": "all"},
    }
)

HORIZON = frozen(
    {
        "name": "horizon",
        "in": "query",
        "description": "Months ahead a contract's expiry may be (by default the expiring window); "
        "the flags are filters: f_unprofitable=yes, f_volume_falling=yes, f_no_recent_billing=yes, "
        "f_cost_rising=yes.",
        "schema": {"type": "string", "enum": ["3", "6", "12"]},
    }
)

CASE_TAB = frozen(
    {
        "name": "tab",
        "in": "query",
        "description": "Open Cases (open) or All Cases (all); anything else shows the open ones.",
        "schema": {"type": "string", "enum": ["open", "all"], "default": "open"},
    }
)
ACTIVITY_TAB = frozen(
    {
        "name": "tab",
        "in": "query",
        "description": "Today (scheduled today), Recent (changed in the last 14 days), Open (not done) "
        "or All; anything else shows the open ones.",
        "schema": {"type": "string", "enum": ["today", "recent", "open", "all"], "default": "open"},
    }
)
WHO = frozen(
    {
        "name": "who",
        "in": "query",
        "description": "mine: only the user's own activities; all (the default): every one the user may see.",
        "schema": {"type": "string", "enum": ["mine", "all"]},
    }
)

PATH_DESCRIPTIONS = frozen(
    {
        "account_no": "Account No of a customer the user may see (404 for any other, existing or not).",
        "name": "Name of a canned SQL check.",
        "contract_no": "Contract No of a contract of a customer the user may see (404 for any other).",
    }
)


@dataclass(frozen=True)
class GridEndpoint:
    """One grid URL: the Flask endpoint serving it and the grid it answers with."""

    endpoint: str
    summary: str
    grid: Callable[[], Grid | None]  # None: columns known only at run time (check results)
    extra: tuple[Mapping[str, Any], ...] = ()
    path_enums: dict[str, Callable[[], list[str]]] = field(default_factory=dict)
    role: str | None = None
    # keys the JSON rows carry besides the grid's columns, first (the view adds them)
    json_extra: Callable[[], tuple[GridColumn, ...]] = lambda: ()


def _attr(blueprint: str, name: str) -> Callable[[], Any]:
    """A module-level value (a grid, or a file grid's extra JSON columns) of the view in the
    app's list (app.VIEWS) whose blueprint is ``blueprint``, read when the description is built:
    the app imports the views, one of which imports this module."""

    def load() -> Any:
        from .app import VIEWS

        (view,) = [view for view in VIEWS if view.bp.name == blueprint]
        return getattr(view, name)

    return load


def _check_names() -> list[str]:
    from ..checks.canned import list_checks

    return [check.name for check in list_checks()]


GRID_ENDPOINTS: tuple[GridEndpoint, ...] = (
    GridEndpoint("customers.index", "Customers the user may see", _attr("customers", "CUSTOMERS")),
    GridEndpoint(
        "contracts.index",
        "Contracts across the customers the user may see",
        _attr("contracts", "ALL_CONTRACTS"),
        extra=(TAB,),
    ),
    GridEndpoint(
        "contracts.for_customer",
        "Contracts for one customer",
        _attr("contracts", "CUSTOMER_CONTRACTS"),
        extra=(TAB,),
    ),
    GridEndpoint(
        "renewals.index",
        "Renewals: contracts the user may see expiring within a horizon, soonest first, with flags",
        _attr("renewals", "RENEWALS"),
        extra=(HORIZON,),
    ),
    GridEndpoint(
        "files.for_customer",
        "Customer Files: every case attachment; file_id names its download, /files/{file_id}",
        _attr("files", "FILES"),
        json_extra=_attr("files", "JSON_EXTRA"),
    ),
    GridEndpoint(
        "cases.index",
        "Cases of the customers the user may see",
        _attr("cases", "ALL_CASES"),
        extra=(CASE_TAB,),
    ),
    GridEndpoint(
        "cases.for_customer", "Cases of one customer", _attr("cases", "CUSTOMER_CASES"), extra=(CASE_TAB,)
    ),
    GridEndpoint(
        "activities.index",
        "Activities of the customers the user may see",
        _attr("activities", "ALL_ACTIVITIES"),
        extra=(ACTIVITY_TAB, WHO),
    ),
    GridEndpoint(
        "activities.for_customer",
        "Activities of one customer",
        _attr("activities", "CUSTOMER_ACTIVITIES"),
        extra=(ACTIVITY_TAB, WHO),
    ),
    GridEndpoint(
        "checks.show",
        "Rows the last run of a SQL check found (ops); no rows (or no run yet): an empty page",
        lambda: None,
        path_enums={"name": _check_names},
        role="ops",
    ),
)


def grid_operation(spec: GridEndpoint, path_params: list[dict[str, Any]]) -> dict[str, Any]:
    grid = spec.grid()
    responses: dict[str, Any] = {
        "200": {
            "description": "one page as JSON (or the page, CSV or XLSX as `format` asks)",
            "content": {
                "application/json": {"schema": page_schema(grid, spec.json_extra())},
                "text/html": {"schema": {"type": "string"}},
                "text/csv": {"schema": {"type": "string"}},
                XLSX: {"schema": {"type": "string", "format": "binary"}},
            },
        },
        "302": SIGN_IN_REDIRECT,
        "400": error_response("a bad parameter, named in the message"),
        "401": error_response(NOT_SIGNED_IN),
        "404": error_response("no such customer, or not one the user may see"),
        "503": error_response(
            "no cache yet, BPO2 unreachable, or the query ran past the time limit", UNAVAILABLE_SCHEMA
        ),
    }
    if spec.role:
        responses["403"] = error_response(f"only for the {spec.role} role")
    return {
        "operationId": spec.endpoint.replace(".", "_"),
        "summary": spec.summary,
        "tags": ["grids"],
        "parameters": path_params + [dict(p) for p in spec.extra] + grid_parameters(grid),
        "responses": responses,
    }


# -- paths -------------------------------------------------------------------------------

_ARGUMENT = re.compile(r"<(?:(?P<converter>\w+)(?:\([^)]*\))?:)?(?P<name>\w+)>")


def openapi_path(rule: Rule) -> str:
    """/customers/<account_no>/files -> /customers/{account_no}/files"""
    return _ARGUMENT.sub(lambda m: "{" + m["name"] + "}", rule.rule)


def path_parameters(rule: Rule, enums: dict[str, Callable[[], list[str]]]) -> list[dict[str, Any]]:
    params = []
    for match in _ARGUMENT.finditer(rule.rule):
        name, converter = match["name"], match["converter"]
        schema: dict[str, Any]
        if converter == "int":
            schema = {"type": "integer", "minimum": 0}
        else:
            schema = {"type": "string", "minLength": 1, "pattern": "^[^/]+$"}
        if name in enums:
            schema = {"type": "string", "enum": enums[name]()}
        params.append(
            {
                "name": name,
                "in": "path",
                "required": True,
                "description": PATH_DESCRIPTIONS.get(name, name),
                "schema": schema,
            }
        )
    return params


def _rules(app: Flask, endpoint: str) -> Iterator[Rule]:
    for rule in app.url_map.iter_rules(endpoint):
        if rule.methods and "GET" in rule.methods:
            yield rule


def _security(app: Flask) -> tuple[dict[str, Any], list[dict[str, list[str]]]]:
    settings = app.extensions["bpo2_bridge"].settings
    if settings.auth_mode == "header":
        scheme = {
            "type": "apiKey",
            "in": "header",
            "name": settings.auth_header,
            "description": "the login, set by the trusted front proxy (honoured only from trusted_proxies)",
        }
        return {"remoteUser": scheme}, [{"remoteUser": []}]
    scheme = {
        "type": "apiKey",
        "in": "cookie",
        "name": app.config.get("SESSION_COOKIE_NAME", "session"),
        "description": "the session cookie set by signing in at /login",
    }
    return {"session": scheme}, [{"session": []}]


def build_openapi(app: Flask) -> dict[str, Any]:
    """The OpenAPI 3 document of the app's JSON endpoints (grids, /healthz, /openapi.json)."""
    schemes, security = _security(app)
    paths: dict[str, Any] = {}
    for spec in GRID_ENDPOINTS:
        for rule in _rules(app, spec.endpoint):
            operation = grid_operation(spec, path_parameters(rule, spec.path_enums))
            paths.setdefault(openapi_path(rule), {})["get"] = operation
    for rule in _rules(app, "health.healthz"):
        paths[openapi_path(rule)] = {
            "get": {
                "operationId": "health_healthz",
                "summary": "Health for the load balancer: 200 while the serving snapshot can be read (no sign-in)",
                "tags": ["operations"],
                "security": [],
                "responses": {
                    "200": {
                        "description": "serving",
                        "content": {"application/json": {"schema": HEALTH_SCHEMA}},
                    },
                    "503": {
                        "description": "the serving snapshot is missing or cannot be read (reason given)",
                        "content": {"application/json": {"schema": HEALTH_SCHEMA}},
                    },
                },
            }
        }
    for rule in _rules(app, "openapi.document"):
        paths[openapi_path(rule)] = {
            "get": {
                "operationId": "openapi_document",
                "summary": "This document",
                "tags": ["operations"],
                "responses": {
                    "200": {
                        "description": "OpenAPI 3",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    },
                    "302": SIGN_IN_REDIRECT,
                    "401": error_response(NOT_SIGNED_IN),
                },
            }
        }
    for rule in _rules(app, "report.view"):
        paths[openapi_path(rule)] = {"get": report_operation(path_parameters(rule, {}))}
    for rule in app.url_map.iter_rules("contracts.refresh"):
        paths.setdefault(openapi_path(rule), {})["post"] = refresh_operation(path_parameters(rule, {}))
    document: dict[str, Any] = plain(
        {
            "openapi": OPENAPI_VERSION,
            "info": {
                "title": "bpo2-bridge",
                "version": __version__,
                "description": "The CRM grids as JSON (read-only). Every grid URL answers JSON with "
                "`?format=json` or `Accept: application/json`; the same URL gives the page, CSV and XLSX. "
                'A JSON client gets every error as `{"error": ...}` with its status (401 when not signed in). '
                "The per-customer Refresh is the one form POST described. The Contract Performance "
                "report answers JSON the same way (`/contracts/{contract_no}/report?format=json`).",
            },
            "paths": dict(sorted(paths.items())),
            "components": {"securitySchemes": schemes},
            "security": security,
        }
    )
    return document
