"""Contracts a user may see expiring between two dates, with their renewal flags: what the
weekly expiry digest and the calendar feed list (sql/renewal_contracts.sql).

The flags are the Renewals page's (``desk.flag_conditions``, one definition for both): a
digest's "flagged renewals" are the rows Renewals flags in the same window.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from sqlalchemy import (
    BindParameter,
    Connection,
    Date,
    Integer,
    String,
    TextClause,
    bindparam,
    case,
    column,
    false,
    or_,
    select,
    text,
    true,
)

from ..queries import sqlfiles
from ..queries.crm import Viewer
from ..queries.statements import statement
from ..settings import Settings
from . import desk as renewals

SQL_FILE = "renewal_contracts"
PATH_SAFE = "!$&'()*+,/:;=@"  # as werkzeug quotes a path segment (web/links.py)
# the SQL file's columns; its dates typed in expiring_between, so SQLite's text dates come
# back as dates
UNTYPED = (
    "contract_id",
    "contract_no",
    "account_no",
    "customer_name",
    "contract_type",
    "status",
    "machines",
    "margin_12m",
    "volume_trend",
    "cost_per_copy_3m",
    "cost_per_copy_12m",
)


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


def _statement(dialect: str, see_all: bool) -> TextClause:
    binds: list[BindParameter[Any]] = [
        bindparam("from_date", type_=Date()),
        bindparam("to_date", type_=Date()),
        bindparam("excluded", type_=String(), expanding=True),
    ]
    if not see_all:
        binds.append(bindparam("employee_id", type_=Integer()))
    sql = sqlfiles.render(SQL_FILE, dialect, see_all=see_all)
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
    today: dt.date,
    flagged: bool = False,
) -> list[Expiring]:
    """Contracts of the customers `user` may see expiring from `first` to `last` (both
    included), soonest first; excluded statuses left out; their flags as of `today`; with
    `flagged` only flagged ones."""
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
    # rendered and typed once per connection and form
    listed = statement(
        conn, (SQL_FILE, user.is_admin), lambda: _statement(conn.dialect.name, user.is_admin)
    ).columns(*(column(n) for n in UNTYPED), expiry_date=Date(), last_billed=Date())
    base = listed.subquery("expiring")
    conditions = renewals.flag_conditions(base.c, settings, today)
    marks = [case((cond, true()), else_=false()).label(key) for key, cond in conditions.items()]
    query = select(base, *marks).order_by(base.c.expiry_date, base.c.contract_no, base.c.contract_id)
    if flagged:
        query = query.where(or_(*conditions.values()))
    out = []
    for row in conn.execute(query, values).mappings():
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
                margin_12m=_number(row["margin_12m"]),
                volume_trend=_number(row["volume_trend"]),
                flags=tuple(key for key in conditions if row[key]),
            )
        )
    return out
