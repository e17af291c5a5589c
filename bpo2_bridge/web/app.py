"""The Flask application factory: one Bridge per app, the blueprints of bpo2_bridge.views listed."""

from __future__ import annotations

import logging
import secrets
import sqlite3
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
from flask import Flask, Response, current_app, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DatabaseError
from werkzeug.exceptions import HTTPException

from bpo2_bridge.views import (
    activities,
    calendar,
    cases,
    checks,
    contracts,
    customers,
    digest,
    files,
    health,
    home,
    me,
    openapi,
    renewals,
    report,
    status,
)
from bpo2_bridge.views import auth as sign_in

from ..bridge import Bridge
from ..cache.snapshots import CacheBusy, CacheMissing
from ..cache.time_limit import QueryTimeout
from ..settings import Settings, load_settings
from ..source.engines import SourceError
from . import auth, metrics, security
from .context import EXTENSION_KEY, cache_as_of, current_bridge, register_filters
from .grid import register_grid_errors, wants_json

TEMPLATES = Path(str(resources.files("bpo2_bridge.templates")))

log = logging.getLogger(__name__)


# every screen's module (registered in this order); openapi.py describes their grids
VIEWS = (
    activities,
    sign_in,
    calendar,
    cases,
    checks,
    contracts,
    customers,
    digest,
    files,
    health,
    home,
    me,
    openapi,
    renewals,
    report,
    status,
)


def create_app(
    settings: Settings | None = None, bridge: Bridge | None = None, *, start_scheduler: bool = False
) -> Flask:
    """A ready WSGI app; the scheduler runs in-process only when asked."""
    if bridge is None:
        bridge = Bridge(settings or load_settings())
    settings = bridge.settings
    bridge.mapping  # noqa: B018 - a bad mapping file stops the start, not the first sync
    app = Flask(
        "bpo2_bridge",
        static_folder=str(TEMPLATES / "static"),
        static_url_path="/static",
        template_folder=None,
    )
    app.jinja_loader = jinja2.FileSystemLoader(str(TEMPLATES))
    app.config.update(
        SECRET_KEY=settings.secret_key or secrets.token_hex(32),
        MAX_CONTENT_LENGTH=1024 * 1024,
        JSON_SORT_KEYS=False,
        SEND_FILE_MAX_AGE_DEFAULT=3600,
    )
    app.extensions[EXTENSION_KEY] = bridge
    metrics.init_app(app)  # first: its clock starts before sign-in checks
    security.init_app(app, cookie_secure=settings.session_cookie_secure)

    @app.before_request
    def _remember_pointers() -> None:
        # the cache pointer is read once per request (sign-in, the view and the layout share it)
        bridge.cache.remember_pointers()

    @app.teardown_request
    def _forget_pointers(_exc: BaseException | None) -> None:
        bridge.cache.forget_pointers()

    auth.init_app(app)
    register_filters(app)
    register_grid_errors(app)
    for view in VIEWS:
        app.register_blueprint(view.bp)
    _error_pages(app)

    @app.context_processor
    def _page_context() -> dict[str, Any]:
        from .freshness import freshness

        return {
            # only signed-in pages show the line (and pay for it)
            "freshness": freshness(current_bridge()) if auth.optional_user() else None,
            "settings": current_bridge().settings,
            "nav_blueprints": tuple(current_app.blueprints),
        }

    if start_scheduler:
        app.extensions["bpo2_scheduler"] = _start_scheduler(bridge)
    return app


def _start_scheduler(bridge: Bridge) -> Any:
    from ..scheduler import start_scheduler

    return start_scheduler(bridge, background=True)


def _error_pages(app: Flask) -> None:
    titles = {
        400: "Bad request",
        401: "Sign-in required",
        403: "Not allowed",
        404: "Not found",
        405: "Method not allowed",
        413: "Too large",
    }

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):  # type: ignore[no-untyped-def]
        code = exc.code or 500
        message = exc.description if code in (400, 413) else _default_message(code)
        if wants_json():  # an API client reads {"error": ...}, never an HTML page
            return json_error(code, message or titles.get(code, exc.name), _kept_headers(exc))
        return (
            render_template(
                "errors/error.html", code=code, title=titles.get(code, exc.name), message=message
            ),
            code,
        )

    # security.py answers a refused form token with a page; JSON clients get the same as JSON
    csrf_page = app.error_handler_spec[None][400].get(CSRFError)

    @app.errorhandler(CSRFError)
    def _csrf_error(exc: CSRFError):  # type: ignore[no-untyped-def]
        if wants_json():
            return json_error(400, CSRF_REFUSED)
        return csrf_page(exc) if csrf_page is not None else _http_error(exc)

    @app.errorhandler(CacheMissing)
    def _no_cache(exc: CacheMissing):  # type: ignore[no-untyped-def]
        return _cache_unavailable(str(exc))

    @app.errorhandler(DatabaseError)
    def _database_error(exc: DatabaseError):  # type: ignore[no-untyped-def]
        if is_corrupt_cache(exc):
            return _cache_unavailable(f"the cache snapshot is damaged: {str(exc.orig).splitlines()[0]}")
        if not _cache_exists():  # e.g. its PostgreSQL schema was dropped under a running query
            return _cache_unavailable("the cache snapshot is missing")
        raise exc  # anything else is a real fault: the 500 page, logged

    def _try_again_later(message: str, title: str):  # type: ignore[no-untyped-def]
        """503 with the message, and the cache's as-of time for JSON clients: no traceback."""
        if wants_json():
            as_of = cache_as_of()
            return jsonify({"error": message, "as_of": as_of.isoformat() if as_of else None}), 503
        return render_template("errors/timeout.html", code=503, title=title, message=message), 503

    @app.errorhandler(CacheBusy)
    def _cache_busy(exc: CacheBusy):  # type: ignore[no-untyped-def]
        # another Refresh or sync held the write for longer than a write waits
        log.warning("cache write lock not had in time: %s %s", request.method, request.path)
        return _try_again_later(str(exc), "The cache is busy")

    @app.errorhandler(QueryTimeout)
    def _too_slow(exc: QueryTimeout):  # type: ignore[no-untyped-def]
        # what a user asked for, not a fault of the bridge: one line, no traceback
        log.warning(
            "screen query stopped at its %g s time limit: %s %s",
            exc.seconds,
            request.method,
            request.path,
            extra={"method": request.method, "path": request.path, "limit_s": exc.seconds},
        )
        return _try_again_later(str(exc), "The query took too long")

    @app.errorhandler(SourceError)
    def _unreachable(exc: SourceError):  # type: ignore[no-untyped-def]
        as_of = cache_as_of()
        if wants_json():
            body = {
                "error": "BPO2 is unreachable",
                "detail": str(exc).splitlines()[0] if str(exc) else None,
                "as_of": as_of.isoformat() if as_of else None,
            }
            return jsonify(body), 503, {"Retry-After": "30"}
        return (
            render_template(
                "errors/error.html",
                code=503,
                title="BPO2 is unreachable",
                message=f"BPO2 is unreachable — {exc}. Try again in a moment.",
            ),
            503,
            {"Retry-After": "30"},
        )


CACHE_REBUILDING = "The cache is being rebuilt from BPO2. Try again in a few minutes."
CSRF_REFUSED = (
    "The form was refused (missing or stale security token): send the csrf_token of the page's form, "
    "as the csrf_token field or the X-CSRFToken header, with the session cookie."
)


def json_error(code: int, message: str, headers: dict[str, str] | None = None) -> Response:
    """The error as JSON clients get it: ``{"error": message}`` with the status."""
    response = jsonify({"error": message})
    response.status_code = code
    response.headers.update(headers or {})
    return response


def _kept_headers(exc: HTTPException) -> dict[str, str]:
    """Headers an error carries that a client needs (Allow on a 405, Retry-After)."""
    wanted = {"allow", "retry-after", "www-authenticate"}
    return {k: v for k, v in exc.get_headers() if k.lower() in wanted}


def is_corrupt_cache(exc: DatabaseError) -> bool:
    """A SQLite snapshot that is no database any more (overwritten, truncated, damaged disk)."""
    orig = getattr(exc, "orig", None)
    text = str(orig).lower()
    return isinstance(orig, sqlite3.DatabaseError) and (
        "file is not a database" in text or "malformed" in text
    )


def _cache_exists() -> bool:
    try:
        return current_bridge().cache.exists()
    except Exception:
        return True  # cannot tell: do not hide the original error


def _cache_unavailable(reason: str):  # type: ignore[no-untyped-def]
    """503 while the cache is missing or damaged: the next sync (scheduled, or run by ops)
    builds a new snapshot; users, history and logs in the application store are untouched."""
    if wants_json():
        return jsonify({"error": CACHE_REBUILDING, "detail": reason}), 503, {"Retry-After": "60"}
    from .freshness import Freshness, failure_reason

    try:
        failure = failure_reason(current_bridge().cache.last_failure())
    except Exception:
        failure = None
    return (
        render_template(
            "errors/cache.html",
            code=503,
            title="The cache is being rebuilt",
            message=CACHE_REBUILDING,
            reason=reason,
            # the line must not claim fresh data while there is none to show
            freshness=Freshness(None, "Cache unavailable — the next sync rebuilds it", "red", failure),
        ),
        503,
        {"Retry-After": "60"},
    )


def _default_message(code: int) -> str:
    return {
        401: "Please sign in.",
        403: "Your account may not open this page.",
        404: "There is nothing here, or it is not one of yours.",
        405: "This page does not accept that request.",
    }.get(code, "Something went wrong.")
