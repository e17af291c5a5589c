"""Sign in and sign out (local accounts; header mode signs in at the proxy, and its password
form is off unless the break-glass setting header_password_sign_in is on)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from bpo2_bridge.store import users as accounts
from bpo2_bridge.web.auth import optional_user, passwords_accepted, safe_next, sign_in, sign_out
from bpo2_bridge.web.context import current_bridge

bp = Blueprint("auth", __name__)
THROTTLE_SECONDS = 60  # failures count for one minute (users.is_throttled)


@bp.route("/login", methods=["GET", "POST"])
def login():  # type: ignore[no-untyped-def]
    bridge = current_bridge()
    target = safe_next(request.values.get("next"))
    if request.method == "GET" and optional_user() is not None:
        return redirect(target)
    if not passwords_accepted():
        # header mode: the front proxy signs people in; nobody types a password here
        status = 403 if request.method == "POST" else 200
        return render_template("auth/login.html", header_mode=True, error=None, next=target, login=""), status
    error = None
    status = 200
    login_name = ""
    if request.method == "POST":
        login_name = (request.form.get("login") or "").strip()[:100]
        password = request.form.get("password") or ""
        address = request.remote_addr or "?"
        # logins match in any letter case: so does the count of failures
        throttle_key = login_name.lower()
        per_minute = bridge.settings.login_attempts_per_minute
        if accounts.is_throttled(bridge.store, throttle_key, address, per_minute):
            error, status = "Too many failed sign-ins. Wait a minute and try again.", 429
        else:
            account = accounts.verify(bridge.store, login_name, password) if login_name else None
            accounts.record_attempt(bridge.store, throttle_key, address, account is not None)
            if account is not None:
                sign_in(account)
                return redirect(target)
            error, status = "Wrong login or password.", 401
    html = render_template("auth/login.html", header_mode=False, error=error, next=target, login=login_name)
    headers = {"Retry-After": str(THROTTLE_SECONDS)} if status == 429 else {}
    return html, status, headers


@bp.post("/logout")
def logout():  # type: ignore[no-untyped-def]
    sign_out()
    flash("You are signed out.")
    return redirect(url_for("auth.login"))
