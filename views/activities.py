"""Activities grids (across the user's customers and per customer): Today, Recent, Open and
All, the user's own or all they may see. Home shows the first rows of Today and Recent."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request, url_for

from bpo2_bridge.queries import crm
from bpo2_bridge.queries.grid.columns import GridColumn
from bpo2_bridge.queries.grid.engine import Grid
from bpo2_bridge.queries.grid.state import Params
from bpo2_bridge.web.auth import current_user
from bpo2_bridge.web.context import current_bridge
from bpo2_bridge.web.freshness import read_cache_state
from bpo2_bridge.web.grid import fetch_page, grid_response, wants_json
from bpo2_bridge.web.grid_page import PageView

from .cases import case_link, customer_link, greyed
from .customers import back_url, load_customer

bp = Blueprint("activities", __name__)
TABS = (("today", "Today"), ("recent", "Recent"), ("open", "Open"), ("all", "All"))
# each tab's order without a sort parameter: the day's in time order, the latest change first,
# the open ones soonest due first
DEFAULT_SORTS = {
    "today": "scheduled_for",
    "recent": "-modified_date",
    "open": "scheduled_for",
    "all": "-scheduled_for",
}
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


def _page(grid: Grid, account_no: str | None = None) -> tuple[PageView, dict[str, Any]]:
    """The grid page and the template's context: tab, "who" and the tabs with their counts."""
    bridge, user = current_bridge(), current_user()
    context: dict[str, Any] = {}
    with bridge.cache.connect() as conn:
        context["as_of"] = read_cache_state(bridge, conn).as_of
        customer_id = None
        if account_no is not None:
            context["customer"] = load_customer(conn, account_no)
            customer_id = context["customer"]["customer_id"]
        # every activity the user may see; "only mine" a click away (Home starts with mine)
        tab, who = tab_of(request.args), who_of(request.args, user, "all")
        page = activities_page(conn, grid, None, tab, who, customer_id)
        tabs: list[Any] = []
        if not wants_json() and page.format == "html":
            counts = tab_counts(conn, who, customer_id)
            tabs = [(key, label, page.tab_url(key), counts[key].text()) for key, label in TABS]
    context.update(tab=tab, who=who, tabs=tabs)
    return page, context


@bp.get("/activities")
def index():  # type: ignore[no-untyped-def]
    page, context = _page(ALL_ACTIVITIES)
    back = back_url(url_for("home.index"))
    return grid_response(ALL_ACTIVITIES, page, template="activities/index.html", back=back, **context)


@bp.get("/customers/<account_no>/activities")
def for_customer(account_no: str):  # type: ignore[no-untyped-def]
    page, context = _page(CUSTOMER_ACTIVITIES, account_no)
    dashboard = url_for("customers.dashboard", account_no=account_no)
    return grid_response(
        CUSTOMER_ACTIVITIES,
        page,
        template="activities/customer.html",
        back=back_url(dashboard),
        dashboard=dashboard,
        **context,
    )
