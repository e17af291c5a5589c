"""Contracts for one customer and across customers, with the three tabs and Refresh."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from flask import Blueprint, flash, jsonify, redirect, request, url_for

from bpo2_bridge.cache import search as search_index
from bpo2_bridge.queries import crm
from bpo2_bridge.queries.grid.columns import GridColumn
from bpo2_bridge.queries.grid.counts import RowCount
from bpo2_bridge.queries.grid.engine import Grid
from bpo2_bridge.sync.refresh import last_refresh, press_refresh, refresh_customer
from bpo2_bridge.sync.results import UnknownCustomer
from bpo2_bridge.web.auth import current_user, safe_next
from bpo2_bridge.web.columns import PROFIT_COLUMNS, months_css
from bpo2_bridge.web.context import cache_as_of, current_bridge
from bpo2_bridge.web.customer_pages import load_customer
from bpo2_bridge.web.freshness import read_cache_state
from bpo2_bridge.web.grid import fetch_page, grid_response, wants_json
from bpo2_bridge.web.grid_page import PageView
from bpo2_bridge.web.navigation import back_url, customer_link, here, report_link

bp = Blueprint("contracts", __name__)
TABS = (("all", "Contracts"), ("expired", "Expired Contracts"), ("expiring", "Expiring Contracts"))
# each tab's order without a sort parameter: the manual lists the Contracts tab by Contract No;
# the newest expiries first among the expired, the soonest first among the expiring
DEFAULT_SORTS = MappingProxyType({"all": "contract_no", "expired": "-expiry_date", "expiring": "expiry_date"})


def _columns(with_customer: bool) -> list[GridColumn]:
    columns = [GridColumn("contract_no", "Contract No", link=report_link)]
    if with_customer:
        columns += [
            GridColumn("account_no", "Account No", link=customer_link),
            GridColumn("customer_name", "Customer Name", link=customer_link),
        ]
    columns += [
        GridColumn("contract_type", "Contract Type", choices=True),
        GridColumn("status", "Status", choices=True),
        GridColumn("start_date", "Start Date", type="date"),
        GridColumn("expiry_date", "Expiry Date", type="date"),
        # in the order of the expiry date (monotonic in it): the sort walks its index
        GridColumn(
            "months_remaining", "Months Remaining", type="number", css=months_css, sort_by="expiry_date"
        ),
        GridColumn("machines", "Machines", type="number"),
        # worked out as of today at read time: filtered and searched through expiry-date ranges,
        # never sorted (the tabs are its views)
        GridColumn("window", "Window", sortable=False),
        *PROFIT_COLUMNS,
    ]
    return columns


CUSTOMER_CONTRACTS = Grid(
    "contracts", _columns(with_customer=False), default_sort="contract_no", key=("contract_id",)
)
ALL_CONTRACTS = Grid(
    "contracts",
    _columns(with_customer=True),
    default_sort="contract_no",
    key=("contract_id",),
    # contract_row's (status, expiry_date) and (status, start_date) indexes: a status's
    # contracts by expiry or start, walked in order
    sorted_within={"status": ("expiry_date", "start_date")},
)


def _tab() -> str:
    tab = request.args.get("tab", "all")
    return tab if tab in dict(TABS) else "all"


def _tab_links(page: PageView, counts: dict[str, RowCount]) -> list[tuple[str, str, str, str]]:
    # a tab keeps Back, the search, filters, page size and a chosen sort; the Window filter is
    # what the tabs themselves choose
    return [(key, label, page.tab_url(key, "f_window"), counts[key].text()) for key, label in TABS]


@bp.get("/customers/<account_no>/contracts")
def for_customer(account_no: str):  # type: ignore[no-untyped-def]
    bridge, user, tab = current_bridge(), current_user(), _tab()
    with bridge.cache.connect() as conn:
        state = read_cache_state(bridge, conn)
        customer = load_customer(conn, account_no)
        page, counts = _contracts_page(conn, bridge, user, tab, CUSTOMER_CONTRACTS, customer["customer_id"])
    dashboard = url_for("customers.dashboard", account_no=account_no)
    # the freshness line's: a page only (the snapshot this request read)
    refreshed = last_refresh(bridge, account_no, state.snapshot) if page.state.format == "html" else None
    return grid_response(
        CUSTOMER_CONTRACTS,
        page,
        template="contracts/customer.html",
        as_of=state.as_of,
        customer=customer,
        tab=tab,
        tabs=_tab_links(page, counts) if counts else [],
        back=back_url(dashboard),
        dashboard=dashboard,
        here=here(),
        refreshed=refreshed if refreshed and (state.as_of is None or refreshed > state.as_of) else None,
    )


def _contracts_page(
    conn: Any, bridge: Any, user: Any, tab: str, grid: Grid, customer_id: int | None = None
) -> tuple[PageView, dict[str, RowCount]]:
    """The grid page the URL asks for and, for HTML, its tabs' counts, all read on one day (a
    request straddling midnight must not filter or count on another day than its rows).

    One customer's contracts are few: read through the customer's index, searched row by row
    and counted exactly. The list across customers is searched through the search index and
    counted up to grid_count_limit."""
    today, settings = bridge.today(), bridge.settings
    counts = {}
    if _wants_html():
        limit = None if customer_id is not None else settings.grid_count_limit
        counts = crm.contract_tab_counts(conn, bridge, user, customer_id, today, limit=limit)
    listed = crm.contract_list(conn, bridge, user, tab, customer_id, today)
    page = fetch_page(
        grid,
        conn,
        listed.base,
        count_limit=settings.grid_count_limit,
        count_seconds=settings.grid_count_seconds,
        where=listed.where,
        equivalents=crm.contract_equivalents(conn, bridge, listed.base, today),
        search=search_index.TextSearch(conn, search_index.CONTRACTS) if customer_id is None else None,
        default_sort=DEFAULT_SORTS[tab],
        listed=counts.get(tab),  # the tab's rows: neither the page nor its drop-downs count them again
        few=customer_id is not None,
        per_user=listed.per_user,
    )
    return page, counts


def _wants_html() -> bool:
    fmt = request.args.get("format")
    if fmt:
        return fmt == "html"
    return request.accept_mimetypes.best != "application/json"


@bp.post("/customers/<account_no>/refresh")
def refresh(account_no: str):  # type: ignore[no-untyped-def]
    """Pull this customer's rows from BPO2 now; the page then says what changed.

    JSON clients get 200 with the changes, or 503 {"error": "BPO2 is unreachable", "as_of"}
    (the app's SourceError handler) while the cache keeps serving."""
    bridge = current_bridge()
    with bridge.cache.connect() as conn:
        customer_id = load_customer(conn, account_no)["customer_id"]  # 404 unless one of theirs
    if wants_json():
        return _refresh_json(account_no)
    target = safe_next(
        request.form.get("next"), url_for("contracts.for_customer", account_no=account_no, tab="all")
    )
    outcome = press_refresh(bridge, account_no, customer_id)
    flash(outcome.message, "refresh-error" if outcome.failed else "refresh")
    return redirect(target)


def _refresh_json(account_no: str):  # type: ignore[no-untyped-def]
    try:
        result = refresh_customer(current_bridge(), account_no)  # SourceError: 503 JSON
    except UnknownCustomer:
        return jsonify({"error": f"Customer {account_no} is no longer in BPO2."}), 404
    as_of = cache_as_of()
    return jsonify(
        {
            "account_no": account_no,
            "refreshed_at": result.finished_at.isoformat(),
            "changed": result.changed,
            "changes": {name: counts for name, counts in result.changes.items() if any(counts.values())},
            "as_of": as_of.isoformat() if as_of else None,
        }
    )


@bp.get("/contracts")
def index():  # type: ignore[no-untyped-def]
    bridge, user, tab = current_bridge(), current_user(), _tab()
    with bridge.cache.connect() as conn:
        state = read_cache_state(bridge, conn)
        page, counts = _contracts_page(conn, bridge, user, tab, ALL_CONTRACTS)
    return grid_response(
        ALL_CONTRACTS,
        page,
        template="contracts/index.html",
        as_of=state.as_of,
        tab=tab,
        tabs=_tab_links(page, counts) if counts else [],
        back=back_url(url_for("home.index")),
    )
