"""Security headers, CSRF protection and session cookie settings for every response, and safe
download names for files whose names come from BPO2."""

from __future__ import annotations

import re
import unicodedata

from flask import Flask, Response, request
from flask_wtf.csrf import CSRFError, CSRFProtect

# no inline script or style attribute is needed: everything comes from /static
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'self'"
)

MAX_NAME = 150
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


def init_app(app: Flask, cookie_secure: bool = False) -> None:
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
