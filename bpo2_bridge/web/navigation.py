"""Where a page links to and how it comes back: the Back button's URL and the row links the
grids share (a customer's dashboard, a case, a contract's report), each carrying the current
page as its Back."""

from __future__ import annotations

from typing import Any

from flask import request

from .auth import safe_next
from .links import row_link


def here() -> str:
    """The current URL with its state (query string), for the next page's Back button."""
    return request.full_path.rstrip("?")


def back_url(default: str) -> str:
    return safe_next(request.args.get("back"), default)


def customer_link(row: Any) -> str:
    return row_link("customers.dashboard", "account_no", row["account_no"], back=here())


def case_link(row: Any) -> str | None:
    return row_link("cases.show", "case_no", row["case_no"], back=here()) if row["case_no"] else None


def report_link(row: Any) -> str:
    return row_link("report.view", "contract_no", row["contract_no"], back=here())
