"""Customers grid and the Customer Dashboard."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, url_for

from bpo2_bridge.cache import search as search_index
from bpo2_bridge.queries import crm
from bpo2_bridge.queries.grid.columns import GridColumn
from bpo2_bridge.queries.grid.engine import Grid
from bpo2_bridge.report.chart import sales_history_chart
from bpo2_bridge.web.auth import current_user
from bpo2_bridge.web.context import current_bridge, money
from bpo2_bridge.web.customer_pages import load_customer
from bpo2_bridge.web.freshness import read_cache_state
from bpo2_bridge.web.grid import fetch_page, grid_response
from bpo2_bridge.web.links import row_link
from bpo2_bridge.web.navigation import back_url, here

bp = Blueprint("customers", __name__)


def dashboard_link(row: Any) -> str:
    return row_link("customers.dashboard", "account_no", row["account_no"], back=here())


CUSTOMERS = Grid(
    "customers",
    [
        GridColumn("account_no", "Account No", link=dashboard_link),
        GridColumn("customer_name", "Customer Name", link=dashboard_link),
        GridColumn("site_name", "Site", choices=True),
        GridColumn("main_salesman", "Main Salesman"),
        GridColumn("tel", "Tel"),
        GridColumn("status", "Status", choices=True),
        GridColumn("active_contracts", "Active contracts", type="number"),
        GridColumn("expiring_contracts", "Expiring", type="number"),
        GridColumn(
            "view_customer",
            "View",
            sortable=False,
            filterable=False,
            searchable=False,
            link=dashboard_link,
            css=lambda _row: "view-icon",
        ),
    ],
    default_sort="customer_name",
    key=("customer_id",),
)


@bp.get("/customers")
def index():  # type: ignore[no-untyped-def]
    bridge, user = current_bridge(), current_user()
    with bridge.cache.connect() as conn:
        state = read_cache_state(bridge, conn)
        base = crm.customers_base(conn, bridge, user)
        search = search_index.TextSearch(conn, search_index.CUSTOMERS)
        page = fetch_page(
            CUSTOMERS,
            conn,
            base,
            count_limit=bridge.settings.grid_count_limit,
            count_seconds=bridge.settings.grid_count_seconds,
            equivalents=crm.customer_equivalents(conn, base),
            search=search,
        )
    return grid_response(CUSTOMERS, page, template="customers/index.html", as_of=state.as_of)


@bp.get("/customers/<account_no>")
def dashboard(account_no: str):  # type: ignore[no-untyped-def]
    bridge = current_bridge()
    with bridge.cache.connect() as conn:
        customer = load_customer(conn, account_no)
        cid = customer["customer_id"]
        contacts = crm.customer_contacts(conn, cid)
        salesmen = crm.customer_salesmen(conn, cid)
        tiles = crm.customer_tiles(conn, bridge, cid)
        history = crm.revenue_history(conn, cid, bridge.today())
    chart = sales_history_chart([(m.strftime("%b %y"), v) for m, v in history], money)
    return render_template(
        "customers/dashboard.html",
        customer=customer,
        contacts=contacts,
        salesmen=salesmen,
        tiles=tiles,
        history=history,
        chart=chart,
        here=here(),
        back=back_url(url_for("customers.index")),
        # the statuses never expired or expiring (Cancelled by default), as the tile names them
        excluded_label=" / ".join(bridge.settings.excluded_statuses).lower(),
    )
