"""The Contract Performance report as JSON: every figure of the HTML view under snake_case keys.

The contract's header under ``contract``; the summary's two columns under ``to_date`` (contract
to date) and ``last_12m`` (last 12 months, with the volume trend the contract grids store);
the month table under ``months``; the machine table under ``machines`` (and ``unassigned``, the
lines and calls without a machine of the contract). Money and ratios are JSON numbers with the
report's places (money 2, margin 1, per copy 4); a figure the report leaves blank is null.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

from .figures import Figures, Report

_NOT_WORD = re.compile(r"[^a-z0-9]+")


def snake(label: str) -> str:
    """'Minimum billing' -> 'minimum_billing' (a type's JSON key, from the label the view shows)."""
    return _NOT_WORD.sub("_", label.lower()).strip("_")


def _number(value: Decimal | None) -> float | None:
    # a JSON number: exact for up to 15 significant digits (money to a trillion and its cents)
    return None if value is None else float(value)


def _day(value: dt.date | None) -> str | None:
    return value.isoformat() if value else None


def _by_type(values: dict[str, Any], types: list[tuple[str, str]], money: bool) -> dict[str, Any]:
    """One figure per type the view lists, keyed by the snake_case of its label."""
    if money:
        return {snake(label): _number(values.get(key, Decimal("0.00"))) for key, label in types}
    return {snake(label): int(values.get(key, 0)) for key, label in types}


def figures_payload(report: Report, f: Figures) -> dict[str, Any]:
    """The summary's figures of one period (or one machine)."""
    return {
        "revenue": _by_type(f.revenue, report.revenue_types, money=True),
        "revenue_total": _number(f.revenue_total),
        "volume": _by_type(f.volume, report.volume_types, money=False),
        "volume_total": f.volume_total,
        "cost": _by_type(f.cost, report.cost_types, money=True),
        "cost_total": _number(f.cost_total),
        "calls": f.calls,
        "gross_profit": _number(f.gross_profit),
        "margin": _number(f.margin),
        "revenue_per_copy": _number(f.revenue_per_copy),
        "cost_per_copy": _number(f.cost_per_copy),
    }


def report_payload(report: Report) -> dict[str, Any]:
    """The whole report as one JSON object."""
    c = report.contract
    last_12m = figures_payload(report, report.last_12) | {
        "from": report.last_12_from.isoformat(),
        "to": report.today.isoformat(),
        "volume_trend": _number(report.volume_trend),
    }
    return {
        "as_of": report.today.isoformat(),
        "contract": {
            "contract_no": c["contract_no"],
            "account_no": c["account_no"],
            "customer_name": c["customer_name"],
            "contract_type": c["contract_type"],
            "status": c["status"],
            "start_date": _day(c["start_date"]),
            "expiry_date": _day(c["expiry_date"]),
            "months_remaining": c["months_remaining"],
            "salesman": c["salesman"],
            "site_name": c["site_name"],
            "machines": len(report.machines),
        },
        "to_date": figures_payload(report, report.to_date) | {"to": report.today.isoformat()},
        "last_12m": last_12m,
        "months": [
            {"month": m.start.strftime("%Y-%m")} | figures_payload(report, m.figures) for m in report.months
        ],
        "earlier_months": report.earlier_months,
        "machines": [
            {
                "serial_no": m.serial_no,
                "model_no": m.model_no,
                "description": m.description,
                "location": m.location,
            }
            | figures_payload(report, m.figures)
            for m in report.machines
        ],
        "unassigned": None if report.unassigned.empty else figures_payload(report, report.unassigned),
    }
