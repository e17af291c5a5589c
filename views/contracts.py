"""Contracts for one customer and across customers, with the three tabs and Refresh."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, jsonify, redirect, request, url_for

from bpo2_bridge.cache import search as search_index
from bpo2_bridge.queries import crm
from bpo2_bridge.queries.grid.columns import GridColumn
from bpo2_bridge.queries.grid.counts import RowCount
from bpo2_bridge.queries.grid.engine import Grid
from bpo2_bridge.sync.refresh_outcome import last_refresh, refresh_customer
from bpo2_bridge.web.auth import current_user, safe_next
from bpo2_bridge.web.context import cache_as_of, current_bridge
from bpo2_bridge.web.freshness import read_cache_state
from bpo2_bridge.web.grid import fetch_page, grid_response, wants_json
from bpo2_bridge.web.grid_page import PageView
from bpo2_bridge.web.links import row_link

from .customers import back_url, here, load_customer

bp = Blueprint("contracts", __name__)
TABS = (("all", "Contracts"), ("expired", "Expired Contracts"), ("expiring", "Expiring Contracts"))
# each tab's order without a sort parameter: the manual lists the Contracts tab by Contract No;
# the newest expiries first among the expired, the soonest first among the expiring
DEFAULT_SORTS = {"all": "contract_no", "expired": "-expiry_date", "expiring": "expiry_date"}


def report_link(row: Any) -> str:
    return row_link("report.view", "contract_no", row["contract_no"], back=here())


def customer_link(row: Any) -> str:
    return row_link("customers.dashboard", "account_no", row["account_no"], back=here())


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
    # contract_row's (status, expiry_date) index: a status's contracts by expiry, walked in order
    sorted_within={"status": ("expiry_date",)},
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
    )
    counts = {}
    if _wants_html():
        limit = None if customer_id is not None else settings.grid_count_limit
        counts = crm.contract_tab_counts(conn, bridge, user, customer_id, today, limit=limit)
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
        customer_id = load_customer(conn, account_no)["customer_id"]
        before = crm.contract_facts(conn, customer_id)
    if wants_json():
        return _refresh_json(account_no)
    target = safe_next(
        request.form.get("next"), url_for("contracts.for_customer", account_no=account_no, tab="all")
    )
    outcome = refresh_customer(bridge, account_no)
    message = outcome.message
    if not outcome.failed:
        with bridge.cache.connect() as conn:
            named = crm.contract_changes(before, crm.contract_facts(conn, customer_id))
        message = _named(outcome.message, outcome.changes, named)
    flash(message, "refresh-error" if outcome.failed else "refresh")
    return redirect(target)


def _named(message: str, changes: dict[str, dict[str, int]], named: list[str]) -> str:
    """The Refresh sentence with each changed contract named and what changed in it; other
    entities by their counts."""
    if not named:
        return message
    head = message.split(". ", 1)[0] + "."
    others = [
        f"{entity.replace('_', ' ')}: {', '.join(f'{n} {what}' for what, n in counts.items() if n)}"
        for entity, counts in sorted(changes.items())
        if entity not in ("contract", "contract_item") and any(counts.values())
    ]
    return f"{head} Changed: {'; '.join([*named, *others])}."


def _refresh_json(account_no: str):  # type: ignore[no-untyped-def]
    from bpo2_bridge.sync import UnknownCustomer, refresh_customer

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
