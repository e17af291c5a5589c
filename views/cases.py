"""Cases grids (across the user's customers and per customer) and Case Information (the old
Save Case screen, read-only)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, render_template, request, url_for

from bpo2_bridge.queries import crm
from bpo2_bridge.queries.grid.columns import GridColumn
from bpo2_bridge.queries.grid.engine import Grid
from bpo2_bridge.web.auth import current_user
from bpo2_bridge.web.columns import greyed
from bpo2_bridge.web.context import current_bridge
from bpo2_bridge.web.customer_pages import load_customer
from bpo2_bridge.web.freshness import read_cache_state
from bpo2_bridge.web.grid import fetch_page, grid_response, wants_json
from bpo2_bridge.web.grid_page import PageView
from bpo2_bridge.web.navigation import back_url, case_link, customer_link

bp = Blueprint("cases", __name__)
NOT_YOURS = "Sorry, this is not one of your open cases and you cannot make changes."
TABS = (("open", "Open Cases"), ("all", "All Cases"))


def _columns(with_customer: bool) -> list[GridColumn]:
    columns = [
        GridColumn("case_no", "Case No", link=case_link, css=greyed),
        GridColumn("case_date", "Date", type="datetime", css=greyed),
        GridColumn("subject", "Subject", css=greyed),
        GridColumn("case_type", "Case Type", choices=True, css=greyed),
        GridColumn("status", "Status", choices=True, css=greyed),
    ]
    if with_customer:
        columns += [
            GridColumn("account_no", "Account No", link=customer_link, css=greyed),
            GridColumn("customer_name", "Customer Name", link=customer_link, css=greyed),
        ]
    return [*columns, GridColumn("salesman", "Salesman", css=greyed)]


ALL_CASES = Grid("cases", _columns(with_customer=True), default_sort="-case_date", key=("case_id",))
CUSTOMER_CASES = Grid("cases", _columns(with_customer=False), default_sort="-case_date", key=("case_id",))


def _tab() -> str:
    tab = request.args.get("tab", "open")
    return tab if tab in dict(TABS) else "open"


def _cases_page(conn: Any, grid: Grid, customer_id: int | None = None) -> tuple[PageView, list[Any]]:
    bridge, user, tab = current_bridge(), current_user(), _tab()
    listed = crm.case_list(conn, user, tab, customer_id)
    settings = bridge.settings
    page = fetch_page(
        grid,
        conn,
        listed.base,
        count_limit=settings.grid_count_limit,
        count_seconds=settings.grid_count_seconds,
        where=listed.where,
    )
    tabs: list[Any] = []
    if not wants_json() and page.format == "html":
        lists = {key: crm.case_list(conn, user, key, customer_id) for key, _ in TABS}
        counts = crm.list_counts(conn, lists, settings.grid_count_limit, settings.grid_count_seconds)
        tabs = [(key, label, page.tab_url(key), counts[key].text()) for key, label in TABS]
    return page, tabs


@bp.get("/cases")
def index():  # type: ignore[no-untyped-def]
    bridge = current_bridge()
    with bridge.cache.connect() as conn:
        state = read_cache_state(bridge, conn)
        page, tabs = _cases_page(conn, ALL_CASES)
    return grid_response(
        ALL_CASES,
        page,
        template="cases/index.html",
        as_of=state.as_of,
        tab=_tab(),
        tabs=tabs,
        back=back_url(url_for("home.index")),
    )


@bp.get("/customers/<account_no>/cases")
def for_customer(account_no: str):  # type: ignore[no-untyped-def]
    bridge = current_bridge()
    with bridge.cache.connect() as conn:
        state = read_cache_state(bridge, conn)
        customer = load_customer(conn, account_no)
        page, tabs = _cases_page(conn, CUSTOMER_CASES, customer["customer_id"])
    dashboard = url_for("customers.dashboard", account_no=account_no)
    return grid_response(
        CUSTOMER_CASES,
        page,
        template="cases/customer.html",
        as_of=state.as_of,
        customer=customer,
        tab=_tab(),
        tabs=tabs,
        back=back_url(dashboard),
        dashboard=dashboard,
    )


@bp.get("/cases/<case_no>")
def show(case_no: str):  # type: ignore[no-untyped-def]
    bridge = current_bridge()
    with bridge.cache.connect() as conn:
        case = crm.case_info(conn, current_user(), case_no)
    if case is None:
        abort(404)
    default = url_for("files.for_customer", account_no=case.details["account_no"])
    return render_template(
        "cases/show.html",
        case=case.details,
        editable=case.editable,
        message=None if case.editable else NOT_YOURS,
        back=back_url(default),
    )
