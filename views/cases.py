"""Case Information (the old Save Case screen, read-only)."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, url_for

from bpo2_bridge import crm
from bpo2_bridge.web.auth import current_user
from bpo2_bridge.web.context import current_bridge

from .customers import back_url

bp = Blueprint("cases", __name__)
NOT_YOURS = "Sorry, this is not one of your open cases and you cannot make changes."


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
