"""Renewals: the contracts a user may see expiring within a horizon, with their stored
last-12-months profitability and the flags an account manager reviews before renewing.

Flags, each a condition on the contract row's stored columns (thresholds are settings):

- ``unprofitable``: margin_12m below ``renewal_margin_below`` (none without revenue);
- ``volume_falling``: volume_trend below ``renewal_trend_below``;
- ``no_recent_billing``: no invoice line this month so far nor the month before (last_billed
  before the first day of last month, or none in the 12 months);
- ``cost_rising``: the last 3 full months' cost per copy more than
  ``renewal_cost_rising_percent`` above the 12 months' one.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Date, and_, case, false, func, literal, or_, select, true
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import Subquery

from ..queries import crm, windows
from ..queries.grid.counts import RowCount

if TYPE_CHECKING:
    from ..bridge import Bridge
    from ..queries.crm import Viewer

HORIZONS = (3, 6, 12)  # months ahead a user may choose; the expiring window is the default
FLAGS = (
    ("unprofitable", "Unprofitable"),
    ("volume_falling", "Volume falling"),
    ("no_recent_billing", "No recent billing"),
    ("cost_rising", "Cost rising"),
)


# Create Filter's text for the rows with any flag: what Home's tile counts and opens
ANY_FLAG_FILTER = " OR ".join(f"{key} = yes" for key, _ in FLAGS)
BILLED_MONTHS = 2  # "recent billing": this month so far and the one before


def flag_label(key: str) -> str:
    """A flag's words as pages, the digest and the calendar show them."""
    return dict(FLAGS)[key]


def horizons(settings: Any) -> tuple[int, ...]:
    """The horizons offered: 3, 6 and 12 months, and the expiring window when it is another."""
    return tuple(sorted({*HORIZONS, int(settings.expiring_window_months)}))


def billed_from(today: dt.date) -> dt.date:
    """The first day of the earliest month that counts as recent billing."""
    return windows.add_months(today.replace(day=1), -(BILLED_MONTHS - 1))


def flag_conditions(c: Any, settings: Any, today: dt.date) -> dict[str, ColumnElement[bool]]:
    """Each flag as a condition on the contract list's columns ``c``."""
    rising = 100 + int(settings.renewal_cost_rising_percent)  # whole numbers: no Decimal to bind
    return {
        "unprofitable": c.margin_12m < settings.renewal_margin_below,
        "volume_falling": c.volume_trend < settings.renewal_trend_below,
        "no_recent_billing": or_(
            c.last_billed.is_(None), c.last_billed < literal(billed_from(today), Date())
        ),
        "cost_rising": and_(
            c.cost_per_copy_3m.is_not(None),
            c.cost_per_copy_12m.is_not(None),
            c.cost_per_copy_3m * 100 > c.cost_per_copy_12m * rising,
        ),
    }


@dataclass(frozen=True)
class RenewalList:
    """The Renewals grid's rows: ``base`` (the contracts expiring within the horizon that the
    user may see, with a column per flag) and ``flags``, each flag as a condition on ``base``."""

    base: Subquery
    flags: dict[str, ColumnElement[bool]]
    today: dt.date
    horizon: int

    @property
    def any_flag(self) -> ColumnElement[bool]:
        return or_(*self.flags.values())


def renewal_list(conn: Connection, bridge: Bridge, user: Viewer, horizon: int, today: dt.date) -> RenewalList:
    settings = bridge.settings
    listed = crm.contract_list(conn, bridge, user, "all", None, today)
    c = listed.base.c
    end = windows.add_months(today, horizon)
    within = [
        c.expiry_date >= literal(today, Date()),
        c.expiry_date <= literal(end, Date()),
        c.status.not_in(list(settings.excluded_statuses)),
    ]
    conditions = flag_conditions(c, settings, today)
    flagged = [case((cond, true()), else_=false()).label(key) for key, cond in conditions.items()]
    base = select(listed.base, *flagged).where(*listed.where, *within).subquery("renewals")
    flags = {key: base.c[key] == true() for key in conditions}
    return RenewalList(base, flags, today, horizon)


def flag_counts(conn: Connection, renewals: RenewalList, limit: int | None) -> dict[str, RowCount]:
    """Rows of each flag, and of any flag (``any``), in one pass over the list: over its first
    ``limit`` rows when it has more (each count then a lower bound, "+")."""
    conditions = {**renewals.flags, "any": renewals.any_flag}
    marks = select(*(case((cond, 1), else_=0).label(key) for key, cond in conditions.items()))
    rows = marks.select_from(renewals.base)
    if limit is not None:
        rows = rows.limit(limit + 1)
    listed = rows.subquery("flagged")
    sums = [func.coalesce(func.sum(listed.c[key]), 0) for key in conditions]
    total, *counts = conn.execute(select(func.count(), *sums)).one()
    more = limit is not None and total > limit
    return {key: RowCount(int(n), more) for key, n in zip(conditions, counts)}


def to_review(conn: Connection, bridge: Bridge, user: Viewer) -> RowCount:
    """The Home tile's number: contracts expiring within the expiring window with any flag."""
    settings = bridge.settings
    renewals = renewal_list(conn, bridge, user, int(settings.expiring_window_months), bridge.today())
    return flag_counts(conn, renewals, settings.grid_count_limit)["any"]
