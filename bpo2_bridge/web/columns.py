"""Grid columns and row styles that several lists share (contracts, renewals, cases, activities)."""

from __future__ import annotations

from typing import Any

from ..queries.grid.columns import GridColumn


def greyed(row: Any) -> str | None:
    """Another salesman's row is greyed (an administrator's never is)."""
    return "other" if row["other_salesman"] else None


def months_css(row: Any) -> str | None:
    months = row["months_remaining"]
    return "negative" if months is not None and months < 0 else None


def _percent(value: Any) -> str:
    return f"{value} %"


def _money(value: Any) -> str:
    return f"{value:,.2f}"


# the last 12 months' profitability stored with each contract row (SPEC §5, as the report's
# "Last 12 months"): hidden until the column chooser picks them; exports carry them always
PROFIT_COLUMNS = (
    GridColumn("revenue_12m", "Revenue 12m", type="number", display=_money, hidden=True),
    GridColumn("cost_12m", "Cost 12m", type="number", display=_money, hidden=True),
    GridColumn("gross_profit_12m", "Gross Profit 12m", type="number", display=_money, hidden=True),
    GridColumn("margin_12m", "Margin 12m %", type="number", display=_percent, hidden=True),
    GridColumn("volume_12m", "Volume 12m", type="number", display=lambda v: f"{v:,}", hidden=True),
    GridColumn("cost_per_copy_12m", "Cost per Copy 12m", type="number", hidden=True),
    GridColumn("volume_trend", "Volume Trend %", type="number", display=_percent, hidden=True),
)
