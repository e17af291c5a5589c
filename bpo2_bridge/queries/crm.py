"""Typed queries behind the CRM screens, read from the cache through sql/crm_*.sql.

Every customer-scoped query takes the user, so visibility (main or linked salesman;
administrators see all) is applied in SQL, never after the fact.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import (
    BigInteger,
    Boolean,
    Connection,
    Date,
    DateTime,
    Integer,
    String,
    Subquery,
    Text,
    TextClause,
    TextualSelect,
    bindparam,
    false,
    select,
    text,
)
from sqlalchemy.sql.elements import ColumnElement

from ..bridge import Bridge
from ..cache.schema import cache_table
from ..sync import derived as derived_rows
from . import sqlfiles, windows
from .grid import value_lists
from .grid.counts import RowCount, count_rows
from .statements import statement

if TYPE_CHECKING:
    from sqlalchemy.types import TypeEngine

RECENT_DAYS = 14
# a contract list this long is searched row by row (about 3 us a row); a longer one through the
# search indexes, which find a selective word's few contracts among a million in milliseconds
SEARCH_AS_IS_ROWS = 2_000
CENTS = Decimal("0.01")


class Viewer(Protocol):
    """What visibility needs to know about a user (bpo2_bridge.web.auth.User fits)."""

    # read-only members: User is a frozen dataclass
    @property
    def employee_id(self) -> int | None: ...

    @property
    def is_admin(self) -> bool: ...


def _sql(conn: Connection, name: str, **context: Any) -> TextClause:
    """sql/<name>.sql rendered for ``context`` and parsed, once per connection and form."""
    key = (name, tuple(sorted(context.items())))
    return statement(conn, key, lambda: text(sqlfiles.render(name, conn.dialect.name, **context)))


def _rows(conn: Connection, clause: TextClause | TextualSelect, **values: Any) -> list[dict[str, Any]]:
    return [dict(r) for r in conn.execute(clause, values).mappings()]


def visibility(user: Viewer) -> dict[str, Any]:
    return {"see_all": 1 if user.is_admin else 0, "employee_id": user.employee_id}


def contract_scope(user: Viewer) -> int | None:
    """employee_id for windows.contracts_query: None = all customers (administrators)."""
    if user.is_admin:
        return None
    return user.employee_id if user.employee_id is not None else -1  # no employee: no customers


def _window_binds() -> list[Any]:
    return [
        bindparam("today", type_=Date()),
        bindparam("window_end", type_=Date()),
        bindparam("excluded", type_=String(), expanding=True),
    ]


def _window_values(bridge: Bridge) -> dict[str, Any]:
    p = windows.params(bridge.settings)
    return {"today": p["today"], "window_end": p["window_end"], "excluded": p["excluded"]}


# -- people ------------------------------------------------------------------------------


def employee_by_login(bridge: Bridge, login: str) -> dict[str, Any] | None:
    with bridge.cache.connect() as conn:
        rows = _rows(conn, _sql(conn, "crm_employee_by_login"), login=login)
    return rows[0] if rows else None


# -- Home --------------------------------------------------------------------------------


def dashboard_tiles(conn: Connection, bridge: Bridge, user: Viewer) -> dict[str, int]:
    clause = _sql(conn, "crm_dashboard_tiles", see_all=user.is_admin).bindparams(*_window_binds())
    who = {} if user.is_admin else {"employee_id": user.employee_id}
    row = _rows(conn, clause, **who, **_window_values(bridge))[0]
    return {k: int(v or 0) for k, v in row.items()}


@dataclass(frozen=True)
class Listed:
    """A list's rows for a grid: ``base`` and the conditions that make it this list (its tab,
    "only mine"), kept apart so the grid plans the page as a whole (``Grid.fetch(where=)``)."""

    base: Subquery
    where: tuple[ColumnElement[bool], ...]


CASE_TABS = ("open", "all")
ACTIVITY_TABS = ("today", "recent", "open", "all")

CASE_COLUMNS: Mapping[str, TypeEngine[Any]] = MappingProxyType(
    {
        "case_id": Integer(),
        "case_no": String(),
        "case_date": DateTime(),
        "subject": String(),
        "case_type": String(),
        "status": String(),
        "account_no": String(),
        "customer_name": String(),
        "salesman": String(),
        "salesman_id": Integer(),
        "other_salesman": Integer(),
    }
)
ACTIVITY_COLUMNS: Mapping[str, TypeEngine[Any]] = MappingProxyType(
    {
        "activity_id": Integer(),
        "scheduled_for": DateTime(),
        "modified_date": DateTime(),
        "activity_type": String(),
        "subject": String(),
        "account_no": String(),
        "customer_name": String(),
        "case_no": String(),
        "case_status": String(),
        "salesman": String(),
        "salesman_id": Integer(),
        "completed": Boolean(),
        "other_salesman": Integer(),
    }
)


def _scoped(
    conn: Connection, name: str, user: Viewer, customer_id: int | None, columns: Mapping[str, TypeEngine[Any]]
) -> Subquery:
    """One of the CRM lists (crm_case_list, crm_activity_list) of the customers the user may
    see, or of one of them."""
    binds = [bindparam("see_all", type_=Integer()), bindparam("employee_id", type_=Integer())]
    values = visibility(user)
    if customer_id is not None:
        binds.append(bindparam("customer_id", type_=Integer()))
        values["customer_id"] = customer_id
    clause = _sql(conn, name, one_customer=customer_id is not None).bindparams(*binds)
    return clause.bindparams(**values).columns(**columns).subquery(name.removeprefix("crm_"))


def case_list(conn: Connection, user: Viewer, tab: str, customer_id: int | None = None) -> Listed:
    """Cases of the customers the user may see (or of one): the open ones, or all."""
    if tab not in CASE_TABS:
        raise ValueError(f"tab must be one of {', '.join(CASE_TABS)}, got {tab!r}")
    base = _scoped(conn, "crm_case_list", user, customer_id, CASE_COLUMNS)
    return Listed(base, (base.c.status == "Open",) if tab == "open" else ())


def activity_list(
    conn: Connection,
    bridge: Bridge,
    user: Viewer,
    tab: str,
    only_mine: bool = False,
    customer_id: int | None = None,
    today: dt.date | None = None,
) -> Listed:
    """Activities of the customers the user may see (or of one): scheduled for today (Today),
    changed in the last RECENT_DAYS days (Recent), not completed (Open), or all; with
    ``only_mine`` only the user's own."""
    if tab not in ACTIVITY_TABS:
        raise ValueError(f"tab must be one of {', '.join(ACTIVITY_TABS)}, got {tab!r}")
    base = _scoped(conn, "crm_activity_list", user, customer_id, ACTIVITY_COLUMNS)
    start = dt.datetime.combine(today or bridge.today(), dt.time())
    where: list[ColumnElement[bool]] = []
    if tab == "today":
        where += [base.c.scheduled_for >= start, base.c.scheduled_for < start + dt.timedelta(days=1)]
    elif tab == "recent":
        where.append(base.c.modified_date >= start - dt.timedelta(days=RECENT_DAYS))
    elif tab == "open":
        where.append(base.c.completed == false())
    if only_mine:
        # a user linked to no employee has no activities of their own
        where.append(base.c.salesman_id == (user.employee_id if user.employee_id is not None else -1))
    return Listed(base, tuple(where))


def list_counts(
    conn: Connection, lists: dict[str, Listed], limit: int | None, seconds: float
) -> dict[str, RowCount]:
    """Rows of each list (a grid's tabs), counted up to ``limit`` (grid.counts)."""
    return {key: count_rows(conn, listed.base, listed.where, limit, seconds) for key, listed in lists.items()}


# -- Customers ---------------------------------------------------------------------------

CUSTOMER_COLUMNS: Mapping[str, TypeEngine[Any]] = MappingProxyType(
    {
        "customer_id": Integer(),
        "account_no": String(),
        "customer_name": String(),
        "site_name": String(),
        "main_salesman": String(),
        "tel": String(),
        "status": String(),
        "active_contracts": Integer(),
        "expiring_contracts": Integer(),
        "view_customer": String(),  # the View column's link text
    }
)


def customers_base(conn: Connection, bridge: Bridge, user: Viewer) -> Subquery:
    """The Customers grid's rows (visible customers), ready for filtering and paging."""
    today = bridge.today()
    live = derived_rows.counts_day(conn) != today  # counted for another day: count them now
    binds = [bindparam("see_all", type_=Integer()), bindparam("employee_id", type_=Integer())]
    values = visibility(user)
    if live:
        binds += _window_binds()
        values |= _window_values(bridge)
    clause = _sql(conn, "crm_customers", live_counts=live).bindparams(*binds)
    return clause.bindparams(**values).columns(**CUSTOMER_COLUMNS, search_text=String()).subquery("customers")


def customer(conn: Connection, user: Viewer, account_no: str) -> dict[str, Any] | None:
    rows = _rows(conn, _sql(conn, "crm_customer"), account_no=account_no, **visibility(user))
    return rows[0] if rows else None


def customer_contacts(conn: Connection, customer_id: int) -> list[dict[str, Any]]:
    return _rows(conn, _sql(conn, "crm_customer_contacts"), customer_id=customer_id)


def customer_salesmen(conn: Connection, customer_id: int) -> list[dict[str, Any]]:
    return _rows(conn, _sql(conn, "crm_customer_salesmen"), customer_id=customer_id)


def customer_tiles(conn: Connection, bridge: Bridge, customer_id: int) -> dict[str, int]:
    clause = _sql(conn, "crm_customer_tiles").bindparams(*_window_binds())
    row = _rows(conn, clause, customer_id=customer_id, **_window_values(bridge))[0]
    return {k: int(v or 0) for k, v in row.items()}


def month_starts(today: dt.date, months: int = 12) -> list[dt.date]:
    """First days of the `months` whole months before today's, oldest first."""
    first = today.replace(day=1)
    return [windows.add_months(first, -i) for i in range(months, 0, -1)]


def revenue_history(conn: Connection, customer_id: int, today: dt.date) -> list[tuple[dt.date, Decimal]]:
    """12 Months Sales History: revenue per month of the 12 whole months before this one (this
    month, billed at its end, would be an empty bar), months without invoices as zero."""
    months = month_starts(today)
    until = today.replace(day=1) - dt.timedelta(days=1)
    clause = _sql(conn, "crm_customer_revenue").bindparams(
        bindparam("since", type_=Date()), bindparam("until", type_=Date())
    )
    found: dict[dt.date, Decimal] = {}
    for row in _rows(conn, clause, customer_id=customer_id, since=months[0], until=until):
        month = row["month"]
        if isinstance(month, str):
            month = dt.date.fromisoformat(month[:10])
        elif isinstance(month, dt.datetime):
            month = month.date()
        found[month] = Decimal(str(row["revenue"] or 0)).quantize(CENTS)  # SQLite sums money as REAL
    return [(m, found.get(m, Decimal("0"))) for m in months]


# -- Contracts ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ContractList:
    """A contract grid's rows: ``base`` (every contract the cache holds, with its window and
    Months Remaining as of the day it was bound for) and ``where``, what makes it this list
    (the tab, the customer, what the user may see). ``per_user``: ``where`` narrows it to what
    one user may see (a salesman's list)."""

    base: Subquery
    where: tuple[ColumnElement[bool], ...]
    per_user: bool = False


def contract_list(
    conn: Connection,
    bridge: Bridge,
    user: Viewer,
    tab: str,
    customer_id: int | None = None,
    today: dt.date | None = None,
) -> ContractList:
    today = today or bridge.today()
    base = windows.bound_contracts_query(conn, bridge.settings, today).subquery("contracts")
    where: list[ColumnElement[bool]] = []
    if tab != "all":
        # the same expiry ranges as the SQL file's tab filters (windows.window_condition)
        bound = windows.params(bridge.settings, today)
        tab_rows = windows.window_condition(base.c.expiry_date, base.c.status, bound, "=", tab)
        if tab_rows is None or tab not in windows.TABS:
            raise ValueError(f"tab must be one of {', '.join(windows.TABS)}, got {tab!r}")
        where.append(tab_rows)
    if customer_id is not None:
        where.append(base.c.customer_id == customer_id)
    scope = contract_scope(user)
    if scope is not None:
        links = cache_table("customer_salesman")
        where.append(base.c.customer_id.in_(select(links.c.customer_id).where(links.c.employee_id == scope)))
    return ContractList(base, tuple(where), per_user=scope is not None)


def contract_equivalents(conn: Connection, bridge: Bridge, base: Subquery, today: dt.date) -> dict[str, Any]:
    """Grid conditions on the contract list written as conditions its indexes serve
    (``Grid.fetch(equivalents=)``): the computed Months Remaining and Window as conditions on
    the stored expiry date and status, and text tests on the few statuses and types as lists
    of them (value_lists). ``today`` must be the day ``base`` was bound with, or a request
    straddling midnight would filter on one day's months and show another's."""
    bound = windows.params(bridge.settings, today)
    rows = cache_table("contract_row")
    return {
        "months_remaining": lambda op, value: windows.months_remaining_condition(
            base.c.expiry_date, today, op, value
        ),
        "window": lambda op, value: windows.window_condition(
            base.c.expiry_date, base.c.status, bound, op, value
        ),
        "status": value_lists.listed(conn, rows.c.status, base.c.status),
        "contract_type": value_lists.listed(conn, rows.c.contract_type, base.c.contract_type),
    }


def customer_equivalents(conn: Connection, base: Subquery) -> dict[str, Any]:
    """Text tests on the customers' few sites, statuses and main salesmen as lists of them."""
    rows = cache_table("customer_row")
    return {
        key: value_lists.listed(conn, rows.c[key], base.c[key])
        for key in ("site_name", "status", "main_salesman")
    }


def contract_tab_counts(
    conn: Connection,
    bridge: Bridge,
    user: Viewer,
    customer_id: int | None = None,
    today: dt.date | None = None,
    limit: int | None = None,
) -> dict[str, RowCount]:
    """Rows of each tab, counted up to ``limit`` (grid.counts)."""
    today = today or bridge.today()
    counts = {}
    for tab in windows.TABS:
        listed = contract_list(conn, bridge, user, tab, customer_id, today)
        counts[tab] = count_rows(conn, listed.base, listed.where, limit, bridge.settings.grid_count_seconds)
    return counts


# -- Files and cases ---------------------------------------------------------------------

FILE_COLUMNS: Mapping[str, TypeEngine[Any]] = MappingProxyType(
    {
        "file_id": Integer(),
        "file_name": String(),
        "case_no": String(),
        "case_subject": String(),
        "case_status": String(),
        "uploaded_date": DateTime(),
        "uploaded_by": String(),
        "file_size": BigInteger(),
        "content_type": String(),
        "case_info": String(),  # the Case Information button's text
    }
)


def files_base(conn: Connection, customer_id: int) -> Subquery:
    clause = _sql(conn, "crm_files").bindparams(bindparam("customer_id", customer_id, type_=Integer()))
    return clause.columns(**FILE_COLUMNS).subquery("files")


def file_info(conn: Connection, user: Viewer, file_id: int) -> dict[str, Any] | None:
    rows = _rows(conn, _sql(conn, "crm_file"), file_id=file_id, **visibility(user))
    return rows[0] if rows else None


@dataclass(frozen=True)
class CaseInfo:
    details: dict[str, Any]
    editable: bool  # open and the user's own: the details are shown


def case_info(conn: Connection, user: Viewer, case_no: str) -> CaseInfo | None:
    """None when the case does not exist or its customer is not the user's."""
    clause = _sql(conn, "crm_case").columns(case_date=DateTime(), information=Text())
    rows = _rows(conn, clause, case_no=case_no, **visibility(user))
    if not rows:
        return None
    row = rows[0]
    own = user.employee_id is not None and row["salesman_id"] == user.employee_id
    return CaseInfo(row, editable=own and row["status"] == "Open")
