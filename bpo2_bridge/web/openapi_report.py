"""The Contract Performance report's JSON (views/report.py, bpo2_bridge/report/payload.py) in the
OpenAPI description: ``/contracts/{contract_no}/report`` with ``?format=json`` or
``Accept: application/json``."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from .openapi_responses import NOT_SIGNED_IN, SIGN_IN_REDIRECT, error_response, frozen
from .openapi_schemas import DATE_PATTERN

MONEY = frozen({"type": "number", "description": "in the configured currency, 2 decimals"})
COUNT = frozen({"type": "integer"})


def _nullable(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {**schema, "nullable": True, "description": description}


def _by_type(values: Mapping[str, Any], description: str) -> dict[str, Any]:
    return {"type": "object", "additionalProperties": values, "description": description}


FIGURES: MappingProxyType[str, Any] = frozen(
    {
        "revenue": _by_type(
            MONEY, "revenue by line type: fees, minimum_billing, meter (and any other present)"
        ),
        "revenue_total": MONEY,
        "volume": _by_type(COUNT, "billed copies by meter type: mono, colour (and any other present)"),
        "volume_total": COUNT,
        "cost": _by_type(MONEY, "service call cost by type: parts, toner, labour, travel, other"),
        "cost_total": MONEY,
        "calls": {"type": "integer", "minimum": 0, "description": "service calls logged"},
        "gross_profit": MONEY,
        "margin": _nullable(
            {"type": "number"}, "gross profit in percent of revenue, 1 decimal; null without revenue"
        ),
        "revenue_per_copy": _nullable({"type": "number"}, "4 decimals; null without volume"),
        "cost_per_copy": _nullable({"type": "number"}, "4 decimals; null without volume"),
    }
)
DATE = frozen({"type": "string", "format": "date", "pattern": DATE_PATTERN})


def _object(properties: Mapping[str, Any], description: str = "", nullable: bool = False) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }
    if description:
        schema["description"] = description
    if nullable:
        schema["nullable"] = True
    return schema


def _text(description: str = "", nullable: bool = True) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", "nullable": nullable}
    if description:
        schema["description"] = description
    return schema


REPORT_SCHEMA = frozen(
    _object(
        {
            "as_of": {**DATE, "description": "the day the report is computed for (today)"},
            "contract": _object(
                {
                    "contract_no": _text(nullable=False),
                    "account_no": _text(nullable=False),
                    "customer_name": _text(nullable=False),
                    "contract_type": _text(),
                    "status": _text(nullable=False),
                    "start_date": {**DATE, "nullable": True},
                    "expiry_date": {**DATE, "nullable": True},
                    "months_remaining": _nullable({"type": "integer"}, "negative once expired (SPEC §3)"),
                    "salesman": _text("the customer's main salesman"),
                    "site_name": _text(),
                    "machines": {"type": "integer", "minimum": 0},
                },
                "the report's header",
            ),
            "to_date": _object(
                {**FIGURES, "to": DATE}, "contract to date: everything dated up to and including today"
            ),
            "last_12m": _object(
                {
                    **FIGURES,
                    "from": DATE,
                    "to": DATE,
                    "volume_trend": _nullable(
                        {"type": "number"},
                        "percent change of the last 3 full months' billed volume against the 3 months "
                        "before, 1 decimal; null unless both have billed volume",
                    ),
                },
                "last 12 months: this month so far and the 11 before it (the figures the contract "
                "grids store as revenue_12m, cost_12m, gross_profit_12m, margin_12m, volume_12m, "
                "cost_per_copy_12m and volume_trend)",
            ),
            "months": {
                "type": "array",
                "items": _object({"month": {"type": "string", "pattern": r"^\d{4}-\d{2}$"}, **FIGURES}),
                "description": "the month table, oldest first",
            },
            "earlier_months": {
                "type": "integer",
                "minimum": 0,
                "description": "months with figures not listed",
            },
            "machines": {
                "type": "array",
                "items": _object(
                    {
                        "serial_no": _text(nullable=False),
                        "model_no": _text(),
                        "description": _text(),
                        "location": _text(),
                        **FIGURES,
                    }
                ),
                "description": "per machine, contract to date",
            },
            "unassigned": _object(
                FIGURES, "lines and calls without a machine of this contract; null when none", nullable=True
            ),
        }
    )
)

FORMAT = frozen(
    {
        "name": "format",
        "in": "query",
        "description": "json: the figures as JSON; html (or none, from a browser): the Report Viewer page",
        "schema": {"type": "string", "enum": ["html", "json"]},
    }
)


def report_operation(path_params: list[dict[str, Any]]) -> dict[str, Any]:
    """GET the Contract Performance report of one contract."""
    return {
        "operationId": "report_view",
        "summary": "Contract Performance report of one contract (SPEC §5), every figure of the view",
        "tags": ["reports"],
        "parameters": [*path_params, FORMAT],
        "responses": {
            "200": {
                "description": "the report as JSON (or the Report Viewer page)",
                "content": {
                    "application/json": {"schema": REPORT_SCHEMA},
                    "text/html": {"schema": {"type": "string"}},
                },
            },
            "302": SIGN_IN_REDIRECT,
            "401": error_response(NOT_SIGNED_IN),
            "404": error_response("no such contract, or not of a customer the user may see"),
            "503": error_response("no cache yet, or the query ran past the time limit"),
        },
    }
