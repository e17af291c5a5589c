"""Sign in and sign out (local accounts; header mode signs in at the proxy)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from bpo2_bridge import users as accounts
from bpo2_bridge.web.auth import optional_user, safe_next, sign_in, sign_out
from bpo2_bridge.web.context import current_bridge

bp = Blueprint("auth", __name__)


@bp.route("/login", methods=["GET", "POST"])
def login():  # type: ignore[no-untyped-def]
    bridge = current_bridge()
    target = safe_next(request.values.get("next"))
    if request.method == "GET" and optional_user() is not None:
        return redirect(target)
    error = None
    status = 200
    login_name = ""
    if request.method == "POST":
        login_name = (request.form.get("login") or "").strip()[:100]
        password = request.form.get("password") or ""
        address = request.remote_addr or "?"
        per_minute = bridge.settings.login_attempts_per_minute
        if accounts.is_throttled(bridge.store, login_name, address, per_minute):
            error, status = "Too many failed sign-ins. Wait a minute and try again.", 429
        else:
            account = accounts.verify(bridge.store, login_name, password) if login_name else None
            accounts.record_attempt(bridge.store, login_name, address, account is not None)
            if account is not None:
                sign_in(account)
                return redirect(target)
            error, status = "Wrong login or password.", 401
    return render_template("auth/login.html", error=error, next=target, login=login_name), status


@bp.post("/logout")
def logout():  # type: ignore[no-untyped-def]
    sign_out()
    flash("You are signed out.")
    return redirect(url_for("auth.login"))
