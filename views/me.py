"""The signed-in user's own pages: My settings (the weekly digest opt-out) and My calendar
(the calendar feed's secret link: made, replaced or revoked here, shown once when made)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from bpo2_bridge.store import user_options
from bpo2_bridge.web.auth import current_user, login_required
from bpo2_bridge.web.context import current_bridge

bp = Blueprint("me", __name__)


@bp.get("/me/settings")
@login_required
def settings_page():  # type: ignore[no-untyped-def]
    bridge, user = current_bridge(), current_user()
    opted_out = user_options.digest_opted_out(bridge.store, user.login)
    return render_template("me/settings.html", wants_digest=not opted_out)


@bp.post("/me/settings")
@login_required
def save_settings():  # type: ignore[no-untyped-def]
    bridge, user = current_bridge(), current_user()
    # an unticked checkbox is not sent at all: its absence is the opt-out
    wants = request.form.get("digest") == "on"
    user_options.set_digest_opt_out(bridge.store, user.login, not wants)
    flash(
        "You will receive the weekly expiry digest."
        if wants
        else "You will not receive the weekly expiry digest."
    )
    return redirect(url_for("me.settings_page"))


def _feed_url(token: str) -> str:
    """The feed's address for calendar programs: under public_url when set, else as this
    request reached the bridge."""
    path = url_for("calendar.feed", token=token)
    base = current_bridge().settings.public_url or request.url_root
    return base.rstrip("/") + path


@bp.get("/me/calendar")
@login_required
def calendar_page():  # type: ignore[no-untyped-def]
    bridge, user = current_bridge(), current_user()
    made = user_options.calendar_token_made(bridge.store, user.login)
    return render_template("me/calendar.html", made=made, feed_url=None)


@bp.post("/me/calendar/new")
@login_required
def new_calendar_link():  # type: ignore[no-untyped-def]
    bridge, user = current_bridge(), current_user()
    now = bridge.settings.now()
    token = user_options.new_calendar_token(bridge.store, user.login, now)
    # shown in this answer only: the store keeps its hash, and a redirect would carry the
    # token through the session cookie
    return render_template("me/calendar.html", made=now, feed_url=_feed_url(token))


@bp.post("/me/calendar/revoke")
@login_required
def revoke_calendar_link():  # type: ignore[no-untyped-def]
    bridge, user = current_bridge(), current_user()
    user_options.revoke_calendar_token(bridge.store, user.login)
    flash("Your calendar link was revoked: calendars using it get nothing more.")
    return redirect(url_for("me.calendar_page"))
