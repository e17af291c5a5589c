"""The Contract Performance figures of one contract, exact to the cent.

The SQL in sql/report_*.sql groups a contract's invoice lines and service call costs by month,
machine and type (a few hundred rows at most, found through the contract_id indexes), so the
figures are computed on demand from the cache and the viewer never waits on BPO2. Python folds
those rows into contract-to-date, last-12-months, month-by-month and per-machine figures with
Decimal arithmetic. With a mapping, the same SQL runs against BPO2 itself (ops, reconciliation).

Definitions (also the report's footnote):
- revenue: sum of invoice_line.amount by line_type (Fee, MinBilling, Meter);
- volume: billed volume, the sum of the Meter lines' volume by meter_type (Mono, Colour);
- cost: sum of call_cost.cost_amount by cost_type over the service calls of the contract;
- gross profit = revenue - cost; margin % = gross profit / revenue (blank without revenue);
- revenue (cost) per copy = revenue (cost) / volume (blank without volume);
- contract to date: everything dated up to and including today;
- last 12 months: invoice_date / logged_date within [first day of the month 11 months before
  today's month, today] — the current month so far and the 11 months before it;
- volume trend: percent change of the billed volume of the last 3 full months against the 3
  months before them (blank unless both have billed volume).

The derived contract rows store the last-12-months figures and the volume trend for every
contract (sql/_profitability.sql, with these windows); the report stays the reference they equal.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from sqlalchemy import Boolean, Connection, Date, DateTime, bindparam, text
from sqlalchemy.engine import Dialect

from ..queries import sqlfiles
from ..queries.statements import statement
from ..queries.windows import add_months
from ..source.mapping import Mapping

LINE_TYPES = MappingProxyType({"Fee": "Fees", "MinBilling": "Minimum billing", "Meter": "Meter"})
METER_TYPES = MappingProxyType({"Mono": "Mono", "Colour": "Colour"})
COST_TYPES = MappingProxyType(
    {"Part": "Parts", "Toner": "Toner", "Labour": "Labour", "Travel": "Travel", "Other": "Other"}
)
OTHER = "Other"
MONTHS_SHOWN = 36
CENT = Decimal("0.01")


class ReportNotFound(LookupError):
    """No contract with that number (or not one the user may see)."""


def months_remaining(today: dt.date, expiry: dt.date | None) -> int | None:
    """The largest m with add_months(today, m) <= expiry (0 on the expiry day, negative after)."""
    if expiry is None:
        return None
    m = (expiry.year - today.year) * 12 + expiry.month - today.month
    while add_months(today, m) > expiry:
        m -= 1
    while add_months(today, m + 1) <= expiry:
        m += 1
    return m


def last_12_from(today: dt.date) -> dt.date:
    """The first day of "last 12 months": the month 11 months before today's month."""
    return add_months(today.replace(day=1), -11)


TREND_MONTHS = 3


def trend_periods(today: dt.date) -> tuple[dt.date, dt.date, dt.date]:
    """First days of the volume trend's months: the earlier 3 from the first, the last 3 full
    months from the second, until the third (today's month, not yet full)."""
    this_month = today.replace(day=1)
    return add_months(this_month, -2 * TREND_MONTHS), add_months(this_month, -TREND_MONTHS), this_month


def _ratio(numerator: Decimal, denominator: Decimal | int, places: str) -> Decimal | None:
    if not denominator:
        return None
    return (numerator / Decimal(denominator)).quantize(Decimal(places))


@dataclass
class Figures:
    """Revenue, volume and cost of one period or one machine, with the derived ratios."""

    revenue: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    volume: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    cost: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    calls: int = 0

    def add_revenue(self, line_type: str, meter_type: str | None, amount: Decimal, volume: int) -> None:
        self.revenue[line_type] += amount
        if line_type == "Meter":
            kind = meter_type if meter_type is not None and meter_type in METER_TYPES else OTHER
            self.volume[kind] += volume

    @property
    def revenue_total(self) -> Decimal:
        return sum(self.revenue.values(), Decimal("0.00"))

    @property
    def volume_total(self) -> int:
        return sum(self.volume.values())

    @property
    def cost_total(self) -> Decimal:
        return sum(self.cost.values(), Decimal("0.00"))

    @property
    def gross_profit(self) -> Decimal:
        return self.revenue_total - self.cost_total

    @property
    def margin(self) -> Decimal | None:
        """Gross profit as a percentage of revenue, one decimal; None without revenue."""
        return _ratio(self.gross_profit * 100, self.revenue_total, "0.1")

    @property
    def revenue_per_copy(self) -> Decimal | None:
        return _ratio(self.revenue_total, self.volume_total, "0.0001")

    @property
    def cost_per_copy(self) -> Decimal | None:
        return _ratio(self.cost_total, self.volume_total, "0.0001")

    @property
    def empty(self) -> bool:
        return not (self.revenue or self.cost or self.calls)


@dataclass
class Machine:
    asset_id: int | None
    serial_no: str
    model_no: str | None
    description: str | None
    location: str | None
    figures: Figures = field(default_factory=Figures)


@dataclass
class Month:
    start: dt.date
    figures: Figures = field(default_factory=Figures)


@dataclass
class Report:
    contract: dict[str, Any]
    today: dt.date
    last_12_from: dt.date
    to_date: Figures
    last_12: Figures
    months: list[Month]
    earlier_months: int  # months with figures before the first month shown (still in the totals)
    machines: list[Machine]
    unassigned: Figures  # lines and calls without a machine of this contract
    recipients: list[dict[str, str]]
    revenue_types: list[tuple[str, str]]  # (line_type, label), the known ones and any others present
    volume_types: list[tuple[str, str]]
    cost_types: list[tuple[str, str]]

    @property
    def contract_no(self) -> str:
        return str(self.contract["contract_no"])

    @property
    def volume_trend(self) -> Decimal | None:
        """Percent change of the last 3 full months' billed volume against the 3 before, one
        decimal; None unless both have billed volume."""
        prior_from, recent_from, this_month = trend_periods(self.today)
        recent = sum(m.figures.volume_total for m in self.months if recent_from <= m.start < this_month)
        prior = sum(m.figures.volume_total for m in self.months if prior_from <= m.start < recent_from)
        if recent <= 0 or prior <= 0:
            return None
        return _ratio(Decimal(recent - prior) * 100, prior, "0.1")


# -- reading -------------------------------------------------------------------------------


def _bind(name: str, value: Any) -> Any:
    if isinstance(value, bool):
        return bindparam(name, value, type_=Boolean())
    if isinstance(value, dt.datetime):
        return bindparam(name, value, type_=DateTime())
    if isinstance(value, dt.date):
        return bindparam(name, value, type_=Date())
    return bindparam(name, value)


def query(conn: Connection, name: str, mapping: Mapping | None = None, **params: Any) -> list[dict[str, Any]]:
    """Rows of sql/<name>.sql on the cache, or on BPO2 when its mapping is given."""
    if mapping is None:  # the report page: built once per cache connection
        sql = statement(conn, ("report", name), lambda: sqlfiles.render(name, conn.dialect))
    else:
        sql = sqlfiles.render_for_source(name, conn.dialect, mapping)
    clause = text(sql).bindparams(*(_bind(k, v) for k, v in params.items()))
    return [dict(row) for row in conn.execute(clause).mappings()]


STATEMENTS = (
    "report_contract",
    "report_machines",
    "report_revenue",
    "report_cost",
    "report_calls",
    "report_recipients",
)


def source_statements(
    dialect: Dialect, mapping: Mapping, sql_files: sqlfiles.SqlFiles | None = None
) -> dict[str, str]:
    """The report's SQL as it runs on BPO2 (e.g. T-SQL for SQL Server Management Studio)."""
    files = sql_files or sqlfiles.SqlFiles()
    return {name: files.render_for_source(name, dialect, mapping) for name in STATEMENTS}


def _cents(value: Any) -> Decimal:
    return Decimal(int(value or 0)) * CENT


def _as_date(value: Any) -> dt.date | None:
    if value is None or (isinstance(value, dt.date) and not isinstance(value, dt.datetime)):
        return value
    if isinstance(value, dt.datetime):
        return value.date()
    return dt.date.fromisoformat(str(value)[:10])


def _types(known: MappingProxyType[str, str], *sources: dict[str, Any]) -> list[tuple[str, str]]:
    seen = {key for source in sources for key in source}
    extra = sorted(seen - set(known))
    return list(known.items()) + [(key, key) for key in extra]


def load_report(
    conn: Connection,
    contract_no: str,
    today: dt.date,
    *,
    mapping: Mapping | None = None,
    months_shown: int = MONTHS_SHOWN,
) -> Report:
    """The report of `contract_no` as of `today`, from the cache (or BPO2 with its mapping)."""
    found = query(conn, "report_contract", mapping, contract_no=contract_no, main=True)
    if not found:
        raise ReportNotFound(f"no contract {contract_no}")
    contract = found[0]
    for key in ("start_date", "expiry_date"):
        contract[key] = _as_date(contract[key])
    contract["months_remaining"] = months_remaining(today, contract["expiry_date"])
    contract_id = contract["contract_id"]
    day_after = dt.datetime.combine(today + dt.timedelta(days=1), dt.time())
    last_12_from_day = last_12_from(today)

    to_date, last_12, unassigned = Figures(), Figures(), Figures()
    by_month: dict[dt.date, Figures] = defaultdict(Figures)
    machines = [
        Machine(r["asset_id"], r["serial_no"] or "", r["model_no"], r["description"], r["location_desc"])
        for r in query(conn, "report_machines", mapping, contract_id=contract_id)
    ]
    by_asset = {m.asset_id: m.figures for m in machines}

    def targets(row: dict[str, Any]) -> list[Figures]:
        month = dt.date(int(row["yr"]), int(row["mon"]), 1)
        out = [to_date, by_month[month], by_asset.get(row["asset_id"], unassigned)]
        if month >= last_12_from_day:
            out.append(last_12)
        return out

    for row in query(conn, "report_revenue", mapping, contract_id=contract_id, today=today):
        line_type = row["line_type"] or OTHER
        for figures in targets(row):
            figures.add_revenue(
                line_type, row["meter_type"], _cents(row["amount_cents"]), int(row["volume"] or 0)
            )
    for row in query(conn, "report_cost", mapping, contract_id=contract_id, day_after=day_after):
        cost_type = row["cost_type"] if row["cost_type"] in COST_TYPES else OTHER
        for figures in targets(row):
            figures.cost[cost_type] += _cents(row["cost_cents"])
    for row in query(conn, "report_calls", mapping, contract_id=contract_id, day_after=day_after):
        for figures in targets(row):
            figures.calls += int(row["calls"])

    months, earlier = _month_table(contract, today, by_month, months_shown)
    recipients = [
        {"name": r["name"], "email": r["email"]}
        for r in query(conn, "report_recipients", mapping, customer_id=contract["customer_id"])
    ]
    return Report(
        contract=contract,
        today=today,
        last_12_from=last_12_from_day,
        to_date=to_date,
        last_12=last_12,
        months=months,
        earlier_months=earlier,
        machines=machines,
        unassigned=unassigned,
        recipients=recipients,
        revenue_types=_types(LINE_TYPES, to_date.revenue),
        volume_types=_types(METER_TYPES, to_date.volume),
        cost_types=list(COST_TYPES.items()),
    )


def _month_table(
    contract: dict[str, Any], today: dt.date, by_month: dict[dt.date, Figures], shown: int
) -> tuple[list[Month], int]:
    """Every month of the contract's life up to today (months without figures included), the
    last `shown` of them, and how many earlier months with figures were left out."""
    this_month = today.replace(day=1)
    start, expiry = contract["start_date"], contract["expiry_date"]
    first = min([d for d in (start and start.replace(day=1), *by_month) if d] or [this_month])
    last = min(this_month, expiry.replace(day=1)) if expiry else this_month
    last = max([last, *by_month])
    if first > last:
        first = last
    months = []
    month = first
    while month <= last:
        months.append(month)
        month = add_months(month, 1)
    kept = months[-shown:]
    earlier = sum(1 for m in months[: len(months) - len(kept)] if m in by_month)
    return [Month(m, by_month.get(m, Figures())) for m in kept], earlier
