"""The grid engine (queries/grid/) on the web: a view reads one page from the request and
answers it in the format the URL asks for::

    page = fetch_page(CONTRACTS, conn, base, where=listed.where)
    return grid_response(CONTRACTS, page, template="contracts/index.html", as_of=as_of)

A GridError the engine raises for a bad parameter becomes a 400: a page saying which parameter
and what is wrong, with a way back, or ``{"error": ..., "parameter": ...}`` for JSON clients.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from flask import Flask, Response, redirect, render_template, request
from markupsafe import escape
from sqlalchemy import Connection

from ..queries.grid.engine import Grid
from ..queries.grid.filters import GridError
from ..queries.grid.page import GridPage
from ..queries.grid.state import BUILDER_PARAMS, FORMATS, Params
from . import grid_export
from .context import current_bridge, release_cache
from .grid_page import PageView


def fetch_page(
    grid: Grid, conn: Connection, base: Any, params: Params | None = None, **options: Any
) -> PageView:
    """The page this request's URL asks for (or ``params``: Home's first rows of a list), read
    by ``Grid.fetch`` with its ``options``, at most grid_max_page_size rows a page."""
    if params is None:
        params = request.args.to_dict(flat=False)
    cap = int(current_bridge().settings.grid_max_page_size)
    return PageView(grid.fetch(conn, base, params, max_page_size=cap, **options))


def wants_json() -> bool:
    """JSON when ``format=json``, or when no format is named and the client accepts JSON first."""
    named = request.args.get("format", "").strip().lower()
    if named in FORMATS:
        return named == "json"
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def grid_response(
    grid: Grid, page: GridPage, *, template: str, as_of: dt.datetime | dt.date | None = None, **context: Any
) -> Response:
    """The page as HTML (template includes ``_grid.html``), JSON, CSV or XLSX, as the URL asks."""
    shown = page if isinstance(page, PageView) else PageView(page)
    if shown.redirect_params is not None:
        return redirect(shown.url(**shown.redirect_params), code=303)  # type: ignore[return-value]
    if shown.format in ("csv", "xlsx"):
        release_cache()  # the rows are read: writing 100,000 of them takes seconds
    if shown.format == "csv":
        return grid_export.csv_response(grid, shown, as_of)
    if shown.format == "xlsx":
        return grid_export.xlsx_response(grid, shown, as_of)
    if wants_json():
        return grid_export.json_response(shown.as_json(as_of))
    html = render_template(template, grid=grid, page=shown, as_of=as_of, **context)
    return Response(html, mimetype="text/html")


def grid_error_response(exc: GridError) -> Response:
    """400 naming the bad parameter: JSON for JSON clients, else a page with a way back."""
    if wants_json():
        response = grid_export.json_response({"error": exc.description, "parameter": exc.param})
    else:
        retry = _url_without({exc.param: None, "page": None})
        try:
            html = render_template("_grid_error.html", error=exc, retry_url=retry)
        except Exception:  # the layout itself failed: the message still has to reach the user
            html = f"<!doctype html><title>Bad request</title><p>{escape(exc.description)}</p>"
        response = Response(html, mimetype="text/html")
    response.status_code = 400
    return response


def _url_without(changes: dict[str, None]) -> str:
    params = [(k, v) for k, vs in request.args.lists() for v in vs if k not in changes]
    params = [(k, v) for k, v in params if k not in ("after", "before", *BUILDER_PARAMS)]
    return request.script_root + request.path + ("?" + urlencode(params) if params else "")


def register_grid_errors(app: Flask) -> None:
    """Answer every GridError raised by a view with grid_error_response."""
    app.register_error_handler(GridError, grid_error_response)
