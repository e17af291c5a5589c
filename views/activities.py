"""Activities grids (across the user's customers and per customer): Today, Recent, Open and
All, the user's own or all they may see. Home shows the first rows of Today and Recent."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request, url_for

from bpo2_bridge.queries.grid.engine import Grid
from bpo2_bridge.web.activity_lists import (
    ALL_ACTIVITIES,
    CUSTOMER_ACTIVITIES,
    TABS,
    activities_page,
    tab_counts,
    tab_of,
    who_of,
)
from bpo2_bridge.web.auth import current_user
from bpo2_bridge.web.context import current_bridge
from bpo2_bridge.web.customer_pages import load_customer
from bpo2_bridge.web.freshness import read_cache_state
from bpo2_bridge.web.grid import grid_response, wants_json
from bpo2_bridge.web.grid_page import PageView
from bpo2_bridge.web.navigation import back_url

bp = Blueprint("activities", __name__)


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
