"""Home (Dashboard): tiles and the Today / Recent activity tabs."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from bpo2_bridge import crm
from bpo2_bridge.cache_state import cache_state
from bpo2_bridge.web.auth import current_user
from bpo2_bridge.web.context import current_bridge
from bpo2_bridge.web.grid_counts import COUNTS

bp = Blueprint("home", __name__)
TABS = ("today", "recent")


@bp.get("/")
def index():  # type: ignore[no-untyped-def]
    bridge, user = current_bridge(), current_user()
    tab = request.args.get("tab") if request.args.get("tab") in TABS else "today"
    # a user linked to no employee has no activities of their own: show all they may see
    default_who = "mine" if user.employee_id is not None else "all"
    who = request.args.get("who") if request.args.get("who") in ("mine", "all") else default_who
    with bridge.cache.connect() as conn:
        # over every customer (an administrator's Home) these take a while: one read per data version
        memo = COUNTS.counter(cache_state(bridge, conn).generation)
        scope = (user.is_admin, user.employee_id, crm.window_key(bridge))
        # each with how to read it again on a new snapshot before it serves (snapshot_switch.py)
        tiles = memo.answer(
            ("tiles", scope),
            lambda: crm.dashboard_tiles(conn, bridge, user),
            replay=lambda c: crm.dashboard_tiles(c, bridge, user),
        )
        lists = {
            kind: memo.answer(
                ("activities", kind, who, scope),
                lambda kind=kind: crm.activities(conn, bridge, user, kind, only_mine=who == "mine"),
                replay=lambda c, kind=kind: crm.activities(c, bridge, user, kind, only_mine=who == "mine"),
            )
            for kind in TABS
        }
    return render_template(
        "home/index.html", tiles=tiles, lists=lists, tab=tab, who=who, today=bridge.today()
    )
