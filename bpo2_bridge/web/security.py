"""Security headers, CSRF protection and session cookie settings for every response, and safe
download names for files whose names come from BPO2."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from typing import Any

from flask import Flask, Response, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface, SessionMixin
from flask_wtf.csrf import CSRFError, CSRFProtect
from itsdangerous import BadSignature

# no inline script or style attribute is needed: everything comes from /static
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'self'"
)

MAX_NAME = 150
# a signed-in user's cookie is signed again (its lifetime starting over) when it is older than
# this, not on every request as Flask does (6 % of a customer's contracts page, profiled)
SESSION_RENEW_SECONDS = 3600
_UNSAFE = re.compile(r'[\x00-\x1f\x7f"*:<>?|]')


def download_name(name: str | None, fallback: str = "download") -> str:
    """A file name fit for Content-Disposition: the last path part only, no control characters
    (a CR/LF would break the header), nothing Windows forbids, never empty, at most MAX_NAME."""
    text = unicodedata.normalize("NFC", name or "")
    text = re.split(r"[/\\]", text)[-1]
    text = "".join(" " if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch for ch in text)
    text = _UNSAFE.sub("_", text)
    text = " ".join(text.split()).strip(" .")
    if len(text) > MAX_NAME:
        _stem, dot, ext = text.rpartition(".")
        keep = ext if dot and 0 < len(ext) <= 10 else ""
        text = text[: MAX_NAME - len(keep) - 1].rstrip(" .") + ("." + keep if keep else "")
    return text or fallback


class _SignedSession(SecureCookieSession):
    signed_at: dt.datetime | None = None  # when its cookie was signed; None: no cookie yet


class RenewingSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, the cookie set again only when the session changed or
    was signed more than SESSION_RENEW_SECONDS ago."""

    session_class = _SignedSession

    def open_session(self, app: Flask, request: Any) -> _SignedSession | None:
        signer = self.get_signing_serializer(app)
        if signer is None:
            return None
        value = request.cookies.get(self.get_cookie_name(app))
        if not value:
            return self.session_class()
        try:
            data, signed_at = signer.loads(
                value, max_age=int(app.permanent_session_lifetime.total_seconds()), return_timestamp=True
            )
        except BadSignature:  # also an expired one
            return self.session_class()
        session = self.session_class(data)
        session.signed_at = signed_at
        return session

    def should_set_cookie(self, app: Flask, session: SessionMixin) -> bool:
        signed_at = getattr(session, "signed_at", None)
        stale = signed_at is None or dt.datetime.now(dt.UTC) - signed_at >= dt.timedelta(
            seconds=SESSION_RENEW_SECONDS
        )
        return bool(super().should_set_cookie(app, session)) and (session.modified or stale)


def init_app(app: Flask, cookie_secure: bool = False) -> None:
    app.session_interface = RenewingSessions()
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        # behind HTTPS (IIS, nginx) the cookie must never travel over plain HTTP
        SESSION_COOKIE_SECURE=cookie_secure,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_NAME="bpo2_session",
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
        WTF_CSRF_SSL_STRICT=False,  # intranet hosts behind proxies rewrite Referer
    )
    # one per app, kept in app.extensions["csrf"] (init_app puts it there): a view that must
    # be exempt is named through it (`app.extensions["csrf"].exempt(view)`), not a module global
    CSRFProtect(app)

    @app.after_request
    def _headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CSP)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        headers.setdefault("Permissions-Policy", "geolocation=(), camera=(), microphone=()")
        # pages, JSON, exports and error pages carry a user's data or a CSRF token: never cached;
        # only the static files (CSS, JavaScript, icons) are
        if request.endpoint != "static":
            headers.setdefault("Cache-Control", "no-store")
        return response

    @app.errorhandler(CSRFError)
    def _csrf_error(exc: CSRFError):  # type: ignore[no-untyped-def]
        from flask import render_template

        return (
            render_template(
                "errors/error.html",
                code=400,
                title="Form expired",
                message="The form was refused (missing or stale security token). Go back, reload and try again.",
            ),
            400,
        )
