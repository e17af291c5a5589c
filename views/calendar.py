"""/calendar/<token>.ics: a user's contract expiry calendar, for calendar programs.

No session: the secret token in the address is the key (made on My calendar). A malformed,
revoked or unknown token, or one whose user was removed, is 404 like any unknown address."""

from __future__ import annotations

from flask import Blueprint, Response, abort

from bpo2_bridge.renewals import calendar as calendar_feed
from bpo2_bridge.renewals import digest
from bpo2_bridge.store import user_options
from bpo2_bridge.web.context import current_bridge

bp = Blueprint("calendar", __name__)


@bp.get("/calendar/<token>.ics")
def feed(token: str) -> Response:
    bridge = current_bridge()
    login = user_options.login_for_token(bridge.store, token)
    if login is None:
        abort(404)
    try:
        header_mode = bridge.settings.auth_mode == "header"
        who = digest.recipient_for_login(bridge, login, header_user=header_mode)
    except digest.DigestError:  # the account was removed: its link goes with it
        abort(404)
    body = calendar_feed.feed(bridge, who, who.full_name)
    return Response(
        body,
        mimetype="text/calendar",
        headers={"Content-Disposition": 'inline; filename="contract-expiries.ics"'},
    )
