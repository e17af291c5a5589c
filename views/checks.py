"""SQL checks (ops): canned checks with their last result, run now, rows as a grid with CSV
export, and an ad-hoc query box behind the same guard, time limit and row cap as the CLI."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for

from bpo2_bridge.checks.adhoc import TARGETS, QueryFailed, QueryResult, parse_timeout, run_adhoc
from bpo2_bridge.checks.canned import UnknownCheck, get_check, history, last_results, list_checks, run_checks
from bpo2_bridge.checks.sample import ROW_KEY, column_kinds, rows_table
from bpo2_bridge.queries.grid.columns import GridColumn
from bpo2_bridge.queries.grid.engine import Grid
from bpo2_bridge.web.auth import current_user, role_required
from bpo2_bridge.web.context import current_bridge
from bpo2_bridge.web.grid import fetch_page, grid_response, wants_json
from bpo2_bridge.web.grid_export import csv_download

bp = Blueprint("checks", __name__)


@bp.get("/checks")
@role_required("ops")
def index():  # type: ignore[no-untyped-def]
    bridge = current_bridge()
    latest = last_results(bridge.store)
    checks = [(check, latest.get(check.name)) for check in list_checks()]
    return render_template("checks/index.html", checks=checks, form=_query_form({}))


@bp.post("/checks/run")
@role_required("ops")
def run_all():  # type: ignore[no-untyped-def]
    results = run_checks(current_bridge(), None, triggered_by=_who())
    failed = sum(1 for r in results if r.failed)
    flash(f"Ran {len(results)} checks: {len(results) - failed} passed, {failed} found rows or failed.")
    for result in results:
        if result.status == "error":  # each check that could not run says why, alone
            flash(f"{result.name}: {result.error}", "error")
    return redirect(url_for("checks.index"), code=303)


@bp.post("/checks/<name>/run")
@role_required("ops")
def run_one(name: str):  # type: ignore[no-untyped-def]
    check = _check_or_404(name)
    result = run_checks(current_bridge(), [check.name], triggered_by=_who())[0]
    if result.status == "error":
        flash(f"{check.name}: could not run: {result.error}", "error")
    else:
        flash(
            f"{check.name}: {result.status.upper()}, {result.row_count} row{'s' if result.row_count != 1 else ''}."
        )
    return redirect(url_for("checks.show", name=check.name), code=303)


@bp.get("/checks/<name>")
@role_required("ops")
def show(name: str):  # type: ignore[no-untyped-def]
    check = _check_or_404(name)
    bridge = current_bridge()
    runs = history(bridge.store, check.name)
    last = runs[0] if runs else None
    columns, rows = (last.columns, last.rows) if last else ([], [])
    grid = _rows_grid(check.name, columns, rows)
    context: dict[str, Any] = {"check": check, "last": last, "runs": runs}
    if grid is None:
        if not _wants_data():
            return render_template("checks/show.html", grid=None, page=None, **context)
        # no rows (or never run): JSON, CSV and XLSX clients still get the grid, empty
        grid = _grid(check.name, columns, rows)
    with rows_table(columns, rows) as (conn, table):
        page = fetch_page(grid, conn, table)
        return grid_response(
            grid, page, template="checks/show.html", as_of=last.ran_at if last else None, **context
        )


@bp.route("/checks/query", methods=["GET", "POST"])
@role_required("ops")
def query():  # type: ignore[no-untyped-def]
    form = _query_form(request.form if request.method == "POST" else {})
    if request.method == "GET":
        return render_template("checks/query.html", form=form, result=None, error=None)
    if form["invalid"]:
        html = render_template("checks/query.html", form=form, result=None, error=form["invalid"])
        return Response(html, status=400, mimetype="text/html")
    try:
        result = run_adhoc(
            current_bridge(),
            form["sql"],
            target=form["target"],
            timeout=form["timeout"],
            max_rows=form["max_rows"],
        )
    except QueryFailed as exc:
        html = render_template("checks/query.html", form=form, result=None, error=str(exc))
        return Response(html, status=400, mimetype="text/html")
    if request.form.get("format") == "csv":
        return _csv(result)
    kinds = column_kinds(result.columns, result.rows)
    return render_template("checks/query.html", form=form, result=result, kinds=kinds, error=None)


# -- helpers --------------------------------------------------------------------------------------


def _who() -> str:
    return f"web:{current_user().login}"


def _check_or_404(name: str):  # type: ignore[no-untyped-def]
    try:
        return get_check(name)
    except UnknownCheck:
        abort(404)


def _wants_data() -> bool:
    """JSON, CSV or XLSX rather than the page."""
    return wants_json() or request.args.get("format", "").strip().lower() in ("csv", "xlsx")


def _rows_grid(name: str, columns: list[str], rows: list[tuple[Any, ...]]) -> Grid | None:
    if not columns or not rows:
        return None
    return _grid(name, columns, rows)


def _grid(name: str, columns: list[str], rows: list[tuple[Any, ...]]) -> Grid:
    kinds = column_kinds(columns, rows)
    grid_columns = [GridColumn(c, c.replace("_", " ").capitalize(), type=kinds[c]) for c in columns]
    return Grid(f"check_{name}", grid_columns, default_sort=ROW_KEY, key=(ROW_KEY,), page_size=50)


def _query_form(data: Any) -> dict[str, Any]:
    """The ad-hoc form's values: the settings bound the time limit and the row cap; a value
    that is no number of seconds or rows (nan, inf, 0, -5, text) is named in `invalid`."""
    settings = current_bridge().settings
    target = data.get("target", "source")
    timeout, bad_timeout = _seconds(data.get("timeout"), settings.query_timeout)
    max_rows, bad_rows = _rows(data.get("max_rows"), settings.query_max_rows)
    return {
        "sql": data.get("sql", ""),
        "target": target if target in TARGETS else "source",
        "targets": TARGETS,
        "timeout": timeout,
        "max_rows": max_rows,
        "timeout_limit": settings.query_timeout,
        "max_rows_limit": settings.query_max_rows,
        "invalid": bad_timeout or bad_rows,
    }


def _seconds(raw: Any, highest: int) -> tuple[float, str]:
    """The time limit asked for, at most the setting's; the default when none was given."""
    text = str(raw or "").strip()
    if not text:
        return highest, ""
    try:
        seconds = parse_timeout(text)
    except ValueError as exc:
        return highest, f"Time limit {exc}."
    return min(seconds, highest), ""


def _rows(raw: Any, highest: int) -> tuple[int, str]:
    text = str(raw or "").strip()
    if not text:
        return highest, ""
    try:
        value = int(text)
    except ValueError:
        return highest, f"Row cap must be a whole number, got {text[:40]!r}."
    if value < 1:
        return highest, f"Row cap must be at least 1, got {value}."
    return min(value, highest), ""


def _csv(result: QueryResult) -> Response:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    disposition = {"Content-Disposition": f'attachment; filename="query-{stamp}.csv"'}
    return csv_download(result.columns, result.rows, disposition)
