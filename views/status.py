"""Status (ops): syncs, next runs, cache size, who runs the scheduled jobs, the last schema
check, Run full sync (a request the scheduler picks up), and the email log (every report email
and weekly digest sent, failed or refused) as a grid.

The page reads the application store only: it never reaches BPO2 and never runs a sync."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, flash, redirect, render_template, url_for

from bpo2_bridge.jobs import upcoming
from bpo2_bridge.queries.grid.columns import GridColumn
from bpo2_bridge.queries.grid.engine import Grid
from bpo2_bridge.queries.status import running_sync, scheduler_holder, status_report
from bpo2_bridge.renewals.digest import LOG_LABEL as DIGEST_LABEL
from bpo2_bridge.store.database import email_log
from bpo2_bridge.sync import requests as sync_requests
from bpo2_bridge.web.auth import current_user, role_required
from bpo2_bridge.web.context import current_bridge
from bpo2_bridge.web.freshness import age_text
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


@bp.get("/status")
@role_required("ops")
def index():  # type: ignore[no-untyped-def]
    bridge = current_bridge()
    report = status_report(bridge, upcoming(bridge))

    def ago(moment: dt.datetime | None) -> str:
        return age_text(max(0.0, (report.now - moment).total_seconds())) if moment else ""

    return render_template(
        "status/index.html", report=report, ago=ago, poll_seconds=int(sync_requests.POLL_SECONDS)
    )


@bp.get("/status/email-log")
@role_required("ops")
def email_log_grid():  # type: ignore[no-untyped-def]
    """The application store's email log: who sent which report to whom, and how it went."""
    bridge = current_bridge()
    with bridge.store.connect() as conn:
        page = fetch_page(EMAIL_LOG, conn, email_log)
    return grid_response(EMAIL_LOG, page, template="status/email_log.html")


@bp.post("/status/full-sync")
@role_required("ops")
def full_sync():  # type: ignore[no-untyped-def]
    """Ask the scheduler for a full sync; the page shows the request until it is picked up."""
    bridge = current_bridge()
    running = running_sync(bridge)
    if running and running["kind"] == "full":
        flash(f"A full sync is already running (since {running['started_at']:%H:%M}).")
        return redirect(url_for("status.index"))
    waiting, made = sync_requests.request(bridge.store, "full", current_user().login, bridge.settings.now())
    if not made:
        flash(
            f"A full sync request is already pending (requested by {waiting.requested_by} "
            f"at {waiting.requested_at:%H:%M})."
        )
    elif scheduler_holder(bridge) is None:
        flash("Full sync requested, but no scheduler is running anywhere: it starts when one does.")
    else:
        flash(f"Full sync requested: the scheduler starts it within {int(sync_requests.POLL_SECONDS)} s.")
    return redirect(url_for("status.index"))
