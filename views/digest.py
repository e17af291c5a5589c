"""/digest: the signed-in user's weekly expiry digest as it would be emailed today."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from bpo2_bridge.renewals import digest
from bpo2_bridge.store import user_options
from bpo2_bridge.web.auth import current_user
from bpo2_bridge.web.context import current_bridge

bp = Blueprint("digest", __name__)
bp.add_app_template_filter(digest.percent, "percent")


@bp.get("/digest")
def preview():  # type: ignore[no-untyped-def]
    bridge, user = current_bridge(), current_user()
    who = digest.Recipient(
        login=user.login,
        employee_id=user.employee_id,
        email=None,
        full_name=user.display_name,
        sees_all=user.is_admin,
    )
    # links as this browser reached the bridge, so they open here whatever public_url says
    built = digest.build(bridge, who, base_url=request.url_root)
    return render_template(
        "digest/page.html",
        digest=built,
        last_sent=user_options.last_digest(bridge.store, user.login),
        opted_out=user_options.digest_opted_out(bridge.store, user.login),
    )
