"""Status (ops): syncs, next runs, cache size, source reachability, schema check, and the
email log (every report email and weekly digest sent, failed or refused) as a grid."""

from __future__ import annotations

import threading
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, url_for

from bpo2_bridge.queries.grid.columns import GridColumn
from bpo2_bridge.queries.grid.engine import Grid
from bpo2_bridge.renewals.digest import LOG_LABEL as DIGEST_LABEL
from bpo2_bridge.source.engines import SourceError
from bpo2_bridge.source.reflection import check_schema
from bpo2_bridge.store.database import email_log
from bpo2_bridge.sync.full import full_sync as run_full_sync
from bpo2_bridge.sync.history import recent
from bpo2_bridge.web.auth import role_required
from bpo2_bridge.web.context import current_bridge
from bpo2_bridge.web.grid import fetch_page, grid_response
from bpo2_bridge.web.links import row_link

bp = Blueprint("status", __name__)


def _report_link(row: Any) -> str | None:
    if row["contract_no"] == DIGEST_LABEL:  # a weekly digest: no one contract's report
        return None
    return row_link("report.view", "contract_no", row["contract_no"])


EMAIL_LOG = Grid(
    "email_log",
    [
        GridColumn("sent_at", "Sent", type="datetime"),
        GridColumn("user_login", "User"),
        GridColumn("contract_no", "Contract No", link=_report_link),
        GridColumn("to_addr", "To"),
        GridColumn("cc_addr", "Cc"),
        GridColumn("subject", "Subject"),
        GridColumn("outcome", "Outcome", choices=True, css=lambda row: f"outcome-{row['outcome']}"),
        GridColumn("error", "Error"),
    ],
    default_sort="-sent_at",
    key=("id",),
)


def _next_runs() -> list[tuple[str, Any]]:
    scheduler = current_app.extensions.get("bpo2_scheduler")
    jobs = getattr(scheduler, "get_jobs", None)
    if jobs is None:
        return []
    return [(job.name or job.id, job.next_run_time) for job in jobs()]


@bp.get("/status")
@role_required("ops")
def index():  # type: ignore[no-untyped-def]
    bridge = current_bridge()
    try:
        problems = check_schema(bridge.source, bridge.mapping)
        reachable, source_error = True, None
    except SourceError as exc:
        problems, reachable, source_error = [], False, str(exc)
    try:
        cache_size = bridge.cache.size_bytes()
    except Exception:
        cache_size = None
    return render_template(
        "status/index.html",
        syncs=recent(bridge.store),
        next_runs=_next_runs(),
        scheduler_running=current_app.extensions.get("bpo2_scheduler") is not None,
        cache_size=cache_size,
        reachable=reachable,
        source_error=source_error,
        problems=problems,
        running=_running(),
    )


@bp.get("/status/email-log")
@role_required("ops")
def email_log_grid():  # type: ignore[no-untyped-def]
    """The application store's email log: who sent which report to whom, and how it went."""
    bridge = current_bridge()
    with bridge.store.connect() as conn:
        page = fetch_page(EMAIL_LOG, conn, email_log)
    return grid_response(EMAIL_LOG, page, template="status/email_log.html")


def _running() -> bool:
    thread = current_app.extensions.get("bpo2_full_sync_thread")
    return bool(thread and thread.is_alive())


@bp.post("/status/full-sync")
@role_required("ops")
def full_sync():  # type: ignore[no-untyped-def]
    """Start a full sync in the background; the page lists it when it has started."""
    if _running():
        flash("A full sync is already running.")
        return redirect(url_for("status.index"))
    bridge = current_bridge()

    def work() -> None:
        try:
            run_full_sync(bridge)
        except Exception:  # recorded in sync history by the sync itself
            pass

    thread = threading.Thread(target=work, name="bpo2-full-sync", daemon=True)
    current_app.extensions["bpo2_full_sync_thread"] = thread
    thread.start()
    flash("Full sync started. Reload this page to follow it.")
    return redirect(url_for("status.index"))
