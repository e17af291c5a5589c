"""Contracts a user may see expiring between two dates, with their renewal flags: what the
weekly expiry digest and the calendar feed list (sql/renewal_contracts.sql).

Two flags are worked out from the stored profitability: ``unprofitable`` (last-12-months
margin below ``renewal_margin_below``) and ``volume_falling`` (volume trend below
``renewal_trend_below``). A contract without revenue (no margin) or without both trend
periods (no trend) is not flagged for it.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from sqlalchemy import BindParameter, Connection, Date, Float, Integer, String, TextClause, bindparam, text

from . import sqlfiles
from .crm import Viewer
from .settings import Settings

SQL_FILE = "renewal_contracts"
PATH_SAFE = "!$&'()*+,/:;=@"  # as werkzeug quotes a path segment (web/links.py)
FLAGS = ("unprofitable", "volume_falling")
FLAG_LABELS = {"unprofitable": "Unprofitable", "volume_falling": "Volume falling"}


@dataclass(frozen=True)
class Expiring:
    contract_id: int
    contract_no: str
    account_no: str
    customer_name: str
    contract_type: str | None
    status: str
    expiry_date: dt.date
    machines: int
    margin_12m: float | None
    volume_trend: float | None
    flags: tuple[str, ...]


def report_url(base_url: str, contract_no: str) -> str:
    """The contract's report page under `base_url` (links in emails and calendar events)."""
    return f"{base_url.rstrip('/')}/contracts/{quote(contract_no, safe=PATH_SAFE)}/report"


def flags_of(margin: float | None, trend: float | None, settings: Settings) -> tuple[str, ...]:
    """The renewal flags of a contract with this margin and volume trend."""
    out = []
    if margin is not None and margin < settings.renewal_margin_below:
        out.append("unprofitable")
    if trend is not None and trend < settings.renewal_trend_below:
        out.append("volume_falling")
    return tuple(out)


@functools.cache  # rendered and typed once per form
def _statement(dialect: str, see_all: bool, flagged: bool) -> TextClause:
    binds: list[BindParameter[Any]] = [
        bindparam("from_date", type_=Date()),
        bindparam("to_date", type_=Date()),
        bindparam("excluded", type_=String(), expanding=True),
    ]
    if not see_all:
        binds.append(bindparam("employee_id", type_=Integer()))
    if flagged:
        binds += [bindparam("margin_below", type_=Float()), bindparam("trend_below", type_=Float())]
    sql = sqlfiles.render(SQL_FILE, dialect, see_all=see_all, flagged=flagged)
    return text(sql).bindparams(*binds)


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def expiring_between(
    conn: Connection,
    settings: Settings,
    user: Viewer,
    first: dt.date,
    last: dt.date,
    *,
    flagged: bool = False,
) -> list[Expiring]:
    """Contracts of the customers `user` may see expiring from `first` to `last` (both
    included), soonest first; excluded statuses left out; with `flagged` only flagged ones."""
    if last < first:
        return []
    values: dict[str, Any] = {
        "from_date": first,
        "to_date": last,
        "excluded": list(settings.excluded_statuses),
    }
    if not user.is_admin:
        # a user linked to no employee sees no customers
        values["employee_id"] = user.employee_id if user.employee_id is not None else -1
    if flagged:
        values |= {
            "margin_below": float(settings.renewal_margin_below),
            "trend_below": float(settings.renewal_trend_below),
        }
    clause = _statement(conn.dialect.name, user.is_admin, flagged)
    typed = clause.columns(expiry_date=Date())
    out = []
    for row in conn.execute(typed, values).mappings():
        margin, trend = _number(row["margin_12m"]), _number(row["volume_trend"])
        out.append(
            Expiring(
                contract_id=int(row["contract_id"]),
                contract_no=str(row["contract_no"]),
                account_no=str(row["account_no"]),
                customer_name=str(row["customer_name"]),
                contract_type=row["contract_type"],
                status=str(row["status"]),
                expiry_date=row["expiry_date"],
                machines=int(row["machines"] or 0),
                margin_12m=margin,
                volume_trend=trend,
                flags=flags_of(margin, trend, settings),
            )
        )
    return out
