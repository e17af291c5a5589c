"""Contract windows and Months Remaining (SPEC §3): date arithmetic and the one SQL definition.

`sql/contract_windows.sql` classifies contracts as of `today` at read time. `contracts_query`
renders it for the cache (grids wrap it as a subquery and add WHERE / ORDER BY / LIMIT);
`source_sql` renders the same definition to run on BPO2 itself, for ops: every entity the
statement reads becomes a derived table renaming the physical table through the mapping.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
from collections.abc import Callable, Sequence
from types import MappingProxyType
from typing import Any, Literal

from sqlalchemy import (
    BigInteger,
    BindParameter,
    Connection,
    Date,
    Integer,
    Numeric,
    String,
    and_,
    bindparam,
    false,
    literal,
    not_,
    or_,
    true,
)
from sqlalchemy.dialects import mssql
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.elements import ColumnElement, TextClause
from sqlalchemy.sql.selectable import TextualSelect

from ..settings import Settings
from ..source.mapping import Mapping
from .sqlfiles import render, wrap_for_source
from .statements import statement

SQL_FILE = "contract_windows"
Tab = Literal["all", "expired", "expiring"]
TABS: tuple[str, ...] = ("all", "expired", "expiring")

# Result columns of the query, typed so SQLite's text dates come back as dates: those of both
# forms (the cache's and the source's), then the profitability the cache's contract rows store.
SHARED_COLUMNS: MappingProxyType[str, Any] = MappingProxyType(
    {
        "contract_id": Integer(),
        "contract_no": String(),
        "customer_id": Integer(),
        "account_no": String(),
        "customer_name": String(),
        "contract_type": String(),
        "contract_type_id": Integer(),
        "status": String(),
        "site_id": Integer(),
        "start_date": Date(),
        "expiry_date": Date(),
        "months_remaining": Integer(),
        "window": String(),
        "machines": Integer(),
    }
)
COLUMNS: MappingProxyType[str, Any] = MappingProxyType(
    {
        **SHARED_COLUMNS,
        "revenue_12m": Numeric(18, 2),
        "cost_12m": Numeric(18, 2),
        "gross_profit_12m": Numeric(18, 2),
        "margin_12m": Numeric(18, 1),
        "volume_12m": BigInteger(),
        "cost_per_copy_12m": Numeric(18, 4),
        "volume_trend": Numeric(18, 1),
        # for the Renewals flags (renewals.py)
        "last_billed": Date(),
        "cost_per_copy_3m": Numeric(18, 4),
    }
)


def add_months(day: dt.date, months: int) -> dt.date:
    """`day` moved by whole months, clamped to the month end (31 Jan + 1 month = 28/29 Feb)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(day.day, last))


def window_end(today: dt.date, months: int) -> dt.date:
    """Last expiry date that still counts as expiring."""
    return add_months(today, months)


def months_remaining_condition(
    expiry: ColumnElement[Any], today: dt.date, op: str, value: float
) -> ColumnElement[bool]:
    """``months_remaining op value`` as bounds on the expiry date, which an index can serve.

    By its definition (SPEC §3) months_remaining >= k exactly when add_months(today, k) <=
    expiry_date, so every comparison is one or two date bounds; computing the months of every
    contract first would read them all. Like the number it stands for, it is never true without
    an expiry date, except for "differs" (``!=``), which keeps empty cells as the grid does.
    """

    def at_least(months: int) -> ColumnElement[bool]:
        try:
            bound = add_months(today, months)
        except (ValueError, OverflowError):  # past the calendar's ends: every date, or none
            return expiry.is_not(None) if months < 0 else false()
        return expiry >= literal(bound, Date())

    def below(months: int) -> ColumnElement[bool]:
        try:
            bound = add_months(today, months)
        except (ValueError, OverflowError):
            return expiry.is_not(None) if months > 0 else false()
        return expiry < literal(bound, Date())

    whole = float(value).is_integer()
    if op == "<":
        return below(math.ceil(value))
    if op == "<=":
        return below(math.floor(value) + 1)
    if op == ">":
        return at_least(math.floor(value) + 1)
    if op == ">=":
        return at_least(math.ceil(value))
    if op == "=":
        return and_(at_least(int(value)), below(int(value) + 1)) if whole else false()
    if op == "!=":
        return or_(expiry.is_(None), below(int(value)), at_least(int(value) + 1)) if whole else true()
    raise ValueError(f"unknown operator {op!r}")


WINDOW_WORDS = ("expired", "expiring", "current")
# operators whose answer for each word the grid's own SQL would give alike on every engine
_WORD_TESTS = MappingProxyType(
    {
        "contains": lambda word, value: value in word,
        "startswith": lambda word, value: word.startswith(value),
        "=": lambda word, value: word == value,
        "!=": lambda word, value: word != value,
    }
)


def window_condition(
    expiry: ColumnElement[Any], status: ColumnElement[Any], bound: dict[str, Any], op: str, value: Any
) -> ColumnElement[bool] | None:
    """``window op value`` as conditions on the stored expiry date and status (``bound``: the
    query's parameters, ``params()``), or None where only the computed column can answer.

    The window is one of three words or empty, so a text test on it is the union of the
    windows whose word passes, each a range of expiry dates; a search for a contract number
    then costs no CASE per contract. The grid's SQL folds case for ASCII letters alone on
    SQLite; other values, and orderings (which follow the database's collation), are declined.
    """
    test = _WORD_TESTS.get(op)
    if test is None or not isinstance(value, str) or not value.isascii():
        return None
    value = value.lower()
    today, end = literal(bound["today"], Date()), literal(bound["window_end"], Date())
    shown = and_(expiry.is_not(None), status.not_in(bound["excluded"]))  # status: NOT NULL
    ranges = {
        "expired": expiry < today,
        "expiring": and_(expiry >= today, expiry <= end),
        "current": expiry > end,
    }
    passing = [ranges[word] for word in WINDOW_WORDS if test(word, value)]
    kept = and_(shown, or_(*passing)) if passing else false()
    # "differs" keeps empty cells, as on every grid column
    return or_(kept, not_(shown)) if op == "!=" else kept


def params(settings: Settings, today: dt.date | None = None) -> dict[str, Any]:
    """Bound parameters of the window query for `today` (default: the settings' today)."""
    today = today or settings.today_date()
    return {
        "today": today,
        "window_end": window_end(today, settings.expiring_window_months),
        "today_ym": today.year * 12 + today.month,
        "today_day": today.day,
        "excluded": list(settings.excluded_statuses),
    }


def _check_tab(tab: str) -> None:
    if tab not in TABS:
        raise ValueError(f"tab must be one of {', '.join(TABS)}, got {tab!r}")


def render_sql(
    dialect: Dialect | str,
    *,
    tab: str = "all",
    by_customer: bool = False,
    by_employee: bool = False,
    excluded: str = ":excluded",
    derived: bool = True,
) -> str:
    """The SQL text for the cache (logical names), with `:named` parameters; ``derived`` reads
    the sync's contract rows (the screens), otherwise the entity tables."""
    _check_tab(tab)
    name = dialect if isinstance(dialect, str) else dialect.name
    return _render(name, tab, by_customer, by_employee, excluded, derived)


def _render(
    dialect: str, tab: str, by_customer: bool, by_employee: bool, excluded: str, derived: bool
) -> str:
    return render(
        SQL_FILE,
        dialect,
        tab=tab,
        by_customer=by_customer,
        by_employee=by_employee,
        excluded=excluded,
        derived=derived,
        q=_quoter(dialect),
    )


def contracts_query(
    on: Connection | Dialect,
    *,
    tab: str = "all",
    customer_id: int | None = None,
    employee_id: int | None = None,
) -> TextualSelect:
    """Typed textual SELECT over the cache's contract rows; bind `params(settings, today)` when
    executing. It also has ``search_text``, the row's text columns together (search_index).

    `customer_id` limits it to one customer, `employee_id` to the customers whose salesmen
    include that employee; both values are bound into the statement. On a cache connection
    (``on``) the statement is built once per connection and form: the screens ask for it on
    every request.
    """
    _check_tab(tab)
    form = (tab, customer_id is not None, employee_id is not None)
    if isinstance(on, Connection):
        query = statement(on, (SQL_FILE, *form), lambda: _typed_query(on.dialect.name, *form))
    else:
        query = _typed_query(on.name, *form)
    scope = {"customer_id": customer_id, "employee_id": employee_id}
    values = {k: v for k, v in scope.items() if v is not None}
    return query.bindparams(**values) if values else query


def _typed_query(dialect: str, tab: str, by_customer: bool, by_employee: bool) -> TextualSelect:
    sql = _render(dialect, tab, by_customer, by_employee, ":excluded", True)
    binds: list[BindParameter[Any]] = [
        bindparam("today", type_=Date()),
        bindparam("window_end", type_=Date()),
        bindparam("today_ym", type_=Integer()),
        bindparam("today_day", type_=Integer()),
        bindparam("excluded", type_=String(), expanding=True),
    ]
    if by_customer:
        binds.append(bindparam("customer_id", type_=Integer()))
    if by_employee:
        binds.append(bindparam("employee_id", type_=Integer()))
    clause: TextClause = TextClause(sql).bindparams(*binds)
    return clause.columns(**COLUMNS, search_text=String())


def bound_contracts_query(
    on: Connection | Dialect,
    settings: Settings,
    today: dt.date | None = None,
    **filters: Any,
) -> TextualSelect:
    """`contracts_query` with every parameter bound: ready to wrap, filter, sort and page."""
    return contracts_query(on, **filters).bindparams(**params(settings, today))


def source_sql(
    dialect: Dialect,
    mapping: Mapping,
    *,
    excluded_statuses: Sequence[str] = ("Cancelled",),
    tab: str = "all",
    by_customer: bool = False,
    by_employee: bool = False,
) -> str:
    """The same definition for BPO2: physical tables renamed through the mapping (ops)."""
    _check_tab(tab)
    sql = render(
        SQL_FILE,
        dialect,
        tab=tab,
        by_customer=by_customer,
        by_employee=by_employee,
        excluded=_literal_list(excluded_statuses),
        derived=False,
        q=_quoter(dialect),
    )
    return wrap_for_source(sql, dialect, mapping)


def mssql_sql(mapping: Mapping, excluded_statuses: Sequence[str] = ("Cancelled",), tab: str = "all") -> str:
    """The T-SQL ops paste into SQL Server Management Studio."""
    return source_sql(mssql.dialect(), mapping, excluded_statuses=excluded_statuses, tab=tab)


def _literal_list(values: Sequence[str]) -> str:
    if not values:
        return "(NULL)"  # `x IN (NULL)` is never true: nothing excluded
    return "(" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + ")"


def _quoter(dialect: Dialect | str) -> Callable[[str], str]:
    if isinstance(dialect, str):
        from sqlalchemy.dialects import registry

        preparer = registry.load(dialect)().identifier_preparer
    else:
        preparer = dialect.identifier_preparer
    return lambda name: preparer.quote_identifier(name)
