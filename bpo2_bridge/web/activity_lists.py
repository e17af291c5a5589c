"""The activity lists: the grids (across customers and per customer), their tabs (Today, Recent,
Open, All), whose activities ("mine" or "all") and each tab's count. Activities and Home show them."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from ..queries import crm
from ..queries.grid.columns import GridColumn
from ..queries.grid.engine import Grid
from ..queries.grid.state import Params
from .auth import current_user
from .columns import greyed
from .context import current_bridge
from .grid import fetch_page
from .grid_page import PageView
from .navigation import case_link, customer_link

TABS = (("today", "Today"), ("recent", "Recent"), ("open", "Open"), ("all", "All"))
# each tab's order without a sort parameter: the day's in time order, the latest change first,
# the open ones soonest due first
DEFAULT_SORTS = MappingProxyType(
    {
        "today": "scheduled_for",
        "recent": "-modified_date",
        "open": "scheduled_for",
        "all": "-scheduled_for",
    }
)
WHO = ("mine", "all")


def _columns(with_customer: bool) -> list[GridColumn]:
    columns = [
        GridColumn("scheduled_for", "Scheduled", type="datetime", css=greyed),
        GridColumn("modified_date", "Changed", type="datetime", css=greyed),
        GridColumn("activity_type", "Type", choices=True, css=greyed),
        GridColumn("subject", "Subject", css=greyed),
    ]
    if with_customer:
        columns += [
            GridColumn("customer_name", "Customer Name", link=customer_link, css=greyed),
            GridColumn("account_no", "Account No", link=customer_link, css=greyed),
        ]
    return [
        *columns,
        GridColumn("case_no", "Case No", link=case_link, css=greyed),
        GridColumn("salesman", "Salesman", css=greyed),
        GridColumn("completed", "Done", type="bool", css=greyed),
    ]


ALL_ACTIVITIES = Grid(
    "activities", _columns(with_customer=True), default_sort="-scheduled_for", key=("activity_id",)
)
CUSTOMER_ACTIVITIES = Grid(
    "activities", _columns(with_customer=False), default_sort="-scheduled_for", key=("activity_id",)
)


def tab_of(args: Any, default: str = "open") -> str:
    tab = args.get("tab", default)
    return tab if tab in dict(TABS) else default


def who_of(args: Any, user: Any, default: str | None = None) -> str:
    """mine or all; by default the user's own when the user is an employee (Home), else all."""
    fallback = default or ("mine" if user.employee_id is not None else "all")
    who = args.get("who", fallback)
    return who if who in WHO else fallback


def activities_page(
    conn: Any, grid: Grid, params: Params | None, tab: str, who: str, customer_id: int | None = None
) -> PageView:
    """One tab's page: of this request's URL, or of ``params`` (Home's first rows)."""
    bridge, user = current_bridge(), current_user()
    listed = crm.activity_list(conn, bridge, user, tab, who == "mine", customer_id)
    return fetch_page(
        grid,
        conn,
        listed.base,
        params=params,
        count_limit=bridge.settings.grid_count_limit,
        count_seconds=bridge.settings.grid_count_seconds,
        where=listed.where,
        default_sort=DEFAULT_SORTS[tab],
    )


def tab_counts(conn: Any, who: str, customer_id: int | None = None) -> dict[str, Any]:
    bridge, user = current_bridge(), current_user()
    lists = {key: crm.activity_list(conn, bridge, user, key, who == "mine", customer_id) for key, _ in TABS}
    settings = bridge.settings
    return crm.list_counts(conn, lists, settings.grid_count_limit, settings.grid_count_seconds)
