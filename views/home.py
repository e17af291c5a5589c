"""Home (Dashboard): tiles that open their lists, and the first rows of the Today / Recent
activity tabs with their true counts (the whole lists are tabs of /activities)."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from bpo2_bridge.queries import crm
from bpo2_bridge.renewals import desk as renewals
from bpo2_bridge.web.activity_lists import ALL_ACTIVITIES, activities_page, tab_of, who_of
from bpo2_bridge.web.auth import current_user
from bpo2_bridge.web.context import current_bridge

bp = Blueprint("home", __name__)
TABS = ("today", "recent")
HOME_ROWS = 20  # rows of each tab on Home; "Show all" opens the tab in Activities


@bp.get("/")
def index():  # type: ignore[no-untyped-def]
    bridge, user = current_bridge(), current_user()
    tab = tab_of(request.args, "today")
    tab = tab if tab in TABS else "today"
    who = who_of(request.args, user)
    first = {"page_size": [str(HOME_ROWS)]}
    with bridge.cache.connect() as conn:
        tiles = crm.dashboard_tiles(conn, bridge, user)
        to_review = renewals.to_review(conn, bridge, user)
        lists = {kind: activities_page(conn, ALL_ACTIVITIES, first, kind, who) for kind in TABS}
    return render_template(
        "home/index.html",
        tiles=tiles,
        to_review=to_review,
        any_flag_filter=renewals.ANY_FLAG_FILTER,
        lists=lists,
        tab=tab,
        who=who,
        today=bridge.today(),
    )
