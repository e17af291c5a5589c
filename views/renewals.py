"""Renewals: the contracts the user may see expiring within a horizon, soonest first, with their
last 12 months' profitability and the flags to review (bpo2_bridge/renewals.py)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from flask import Blueprint, request, url_for

from bpo2_bridge.queries.grid.columns import GridColumn
from bpo2_bridge.queries.grid.engine import Grid
from bpo2_bridge.queries.grid.filters import GridError
from bpo2_bridge.renewals import desk as renewals
from bpo2_bridge.web.auth import current_user
from bpo2_bridge.web.columns import PROFIT_COLUMNS, months_css
from bpo2_bridge.web.context import current_bridge
from bpo2_bridge.web.freshness import read_cache_state
from bpo2_bridge.web.grid import fetch_page, grid_response, wants_json
from bpo2_bridge.web.navigation import back_url, customer_link, report_link

bp = Blueprint("renewals", __name__)


def _columns() -> list[GridColumn]:
    shown = {"revenue_12m", "margin_12m", "volume_trend"}
    profit = [c if c.key not in shown else _shown(c) for c in PROFIT_COLUMNS]
    return [
        GridColumn("contract_no", "Contract No", link=report_link),
        GridColumn("account_no", "Account No", link=customer_link),
        GridColumn("customer_name", "Customer Name", link=customer_link),
        GridColumn("contract_type", "Contract Type", hidden=True),
        GridColumn("status", "Status", hidden=True),
        GridColumn("expiry_date", "Expiry Date", type="date"),
        GridColumn(
            "months_remaining", "Months Remaining", type="number", css=months_css, sort_by="expiry_date"
        ),
        *profit,
        GridColumn("last_billed", "Last Billed", type="date"),
        GridColumn("cost_per_copy_3m", "Cost per Copy 3m", type="number", hidden=True),
        *(GridColumn(key, label, type="bool") for key, label in renewals.FLAGS),
    ]


def _shown(column: GridColumn) -> GridColumn:
    return replace(column, hidden=False)


RENEWALS = Grid("renewals", _columns(), default_sort="expiry_date", key=("contract_id",))


def _horizon(settings: Any) -> int:
    """The horizon the URL asks for (months ahead), by default the expiring window."""
    allowed = renewals.horizons(settings)
    given = request.args.get("horizon", "").strip()
    if not given:
        return int(settings.expiring_window_months)
    by_text = {str(months): months for months in allowed}  # the known set, matched as typed
    if given not in by_text:
        raise GridError("horizon", f"must be one of {', '.join(by_text)} (months ahead)")
    return by_text[given]


@bp.get("/renewals")
def index():  # type: ignore[no-untyped-def]
    bridge, user = current_bridge(), current_user()
    settings = bridge.settings
    horizon = _horizon(settings)
    today = bridge.today()
    with bridge.cache.connect() as conn:
        state = read_cache_state(bridge, conn)
        listed = renewals.renewal_list(conn, bridge, user, horizon, today)
        page = fetch_page(
            RENEWALS,
            conn,
            listed.base,
            count_limit=settings.grid_count_limit,
            count_seconds=settings.grid_count_seconds,
        )
        counts = {}
        if page.format == "html" and not wants_json():
            counts = renewals.flag_counts(conn, listed, settings.grid_count_limit)
    flags = [
        (key, label, counts[key].text(), page.url(page=None, **{f"f_{key}": "yes"}))
        for key, label in renewals.FLAGS
        if key in counts
    ]
    choices = [
        (months, page.url(horizon=months, page=None), months == horizon)
        for months in renewals.horizons(settings)
    ]
    return grid_response(
        RENEWALS,
        page,
        template="renewals/index.html",
        as_of=state.as_of,
        horizon=horizon,
        horizons=choices,
        flags=flags,
        flagged=counts["any"].text() if counts else None,
        settings=settings,
        back=back_url(url_for("home.index")),
    )
