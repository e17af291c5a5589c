"""Home (Dashboard): tiles and the Today / Recent activity tabs."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from bpo2_bridge import crm
from bpo2_bridge.web.auth import current_user
from bpo2_bridge.web.context import current_bridge

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
        tiles = crm.dashboard_tiles(conn, bridge, user)
        lists = {kind: crm.activities(conn, bridge, user, kind, only_mine=who == "mine") for kind in TABS}
    return render_template(
        "home/index.html", tiles=tiles, lists=lists, tab=tab, who=who, today=bridge.today()
    )
