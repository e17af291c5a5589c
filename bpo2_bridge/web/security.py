"""Security headers, CSRF protection and session cookie settings for every response."""

from __future__ import annotations

from flask import Flask, Response
from flask_wtf.csrf import CSRFError, CSRFProtect

# no inline script or style attribute is needed: everything comes from /static
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'self'"
)

csrf = CSRFProtect()


def init_app(app: Flask) -> None:
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_NAME="bpo2_session",
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
        WTF_CSRF_SSL_STRICT=False,  # intranet hosts behind proxies rewrite Referer
    )
    csrf.init_app(app)

    @app.after_request
    def _headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CSP)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        headers.setdefault("Permissions-Policy", "geolocation=(), camera=(), microphone=()")
        if response.mimetype == "text/html":
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
