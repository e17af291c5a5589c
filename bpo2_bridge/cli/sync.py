"""`sync`, `status`, `cache rebuild` and `scheduler`: the cache from the command line."""

from __future__ import annotations

import json
import signal
import sys
from typing import TYPE_CHECKING, Any

import click

from ..cache.snapshots import CacheMissing
from ..logs import configure_logging
from ..source.engines import SourceError
from ..values import json_value
from .common import AppContext, fail, open_bridge, output_options, pass_app, print_rows

if TYPE_CHECKING:
    from ..queries.status import StatusReport


def _emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=json_value))


@click.command("sync")
@click.option("--full", is_flag=True, help="Rebuild the cache from BPO2 into a new snapshot.")
@click.option(
    "--incremental",
    is_flag=True,
    help="Apply BPO2's changes to the current snapshot (the default; full when there is none).",
)
@click.option("--customer", "account_no", metavar="ACCOUNT_NO", help="Re-read one customer now (Refresh).")
@output_options
@pass_app
def sync_command(app: AppContext, full: bool, incremental: bool, account_no: str | None, fmt: str) -> None:
    """Sync the cache from BPO2, with a progress line per entity on standard error.

    Give at most one of --full, --incremental and --customer.
    """
    chosen = [name for name, on in (("--full", full), ("--incremental", incremental)) if on]
    chosen += ["--customer"] if account_no is not None else []
    if len(chosen) > 1:
        raise click.UsageError(f"{' and '.join(chosen)} cannot be combined: choose one")
    mode = "full" if full else "incremental"
    from ..sync import (
        LineProgress,
        SyncBusy,
        SyncFailed,
        UnknownCustomer,
        full_sync,
        incremental_sync,
        refresh_customer,
    )

    configure_logging(app.settings)
    bridge = open_bridge(app)
    try:
        if account_no:
            refreshed = refresh_customer(bridge, account_no)
            if fmt == "json":
                _emit_json(refreshed.as_dict())
                return
            rows = [(name, *c.values()) for name, c in refreshed.changes.items()]
            print_rows(("entity", "added", "changed", "removed"), rows, fmt)
            click.echo(f"{account_no}: {refreshed.summary()} ({refreshed.seconds:.2f} s)", err=True)
            return
        progress = LineProgress() if fmt != "json" else None
        result = full_sync(bridge, progress) if mode == "full" else incremental_sync(bridge, progress)
    except UnknownCustomer as exc:
        fail(str(exc), 1)
    except (SyncFailed, SyncBusy, SourceError, CacheMissing) as exc:
        fail(str(exc), 1)
    finally:
        bridge.dispose()
    if fmt == "json":
        _emit_json(result.as_dict())
        return
    columns = ["entity", "rows", "seconds"]
    if result.kind == "incremental":
        columns += ["added", "changed", "removed"]
    table = []
    for name, count in result.rows.items():
        row: list[Any] = [name, count, result.seconds_per_entity.get(name)]
        if result.kind == "incremental":
            row += list(result.changes.get(name, {}).values())
        table.append(row)
    print_rows(columns, table, fmt)
    total = sum(result.rows.values())
    click.echo(
        f"{result.kind} sync: {total:,} rows in {result.seconds:.1f} s (snapshot {result.snapshot})", err=True
    )


@click.command("status")
@output_options
@pass_app
def status_command(app: AppContext, fmt: str) -> None:
    """Last syncs, the sync running now, rows per entity, next runs, cache size, who runs the
    scheduled jobs, the last schema check, a full sync waiting, and whether BPO2 answers."""
    from ..jobs import upcoming
    from ..queries.status import status_report

    bridge = open_bridge(app, mapping=False)  # status reports on a bad mapping too
    try:
        report = status_report(bridge, upcoming(bridge), count_rows=True, probe_source=True)
    finally:
        bridge.dispose()
    if fmt == "json":
        _emit_json(report.as_dict())
        return
    click.echo("\n".join(status_lines(report)))
    click.echo()
    print_rows(
        ("id", "kind", "target", "started_at", "seconds", "status", "rows", "error"),
        [
            (
                s["id"],
                s["kind"],
                s["target"],
                s["started_at"],
                s["seconds"],
                s["status"],
                sum(s["rows"].values()) if s["rows"] else None,
                s["error"],
            )
            for s in report.syncs
        ],
        fmt,
    )
    if report.entities:
        click.echo()
        print_rows(("entity", "rows"), sorted(report.entities.items()), fmt)


def status_lines(report: StatusReport) -> list[str]:
    """The report's head as aligned `name: value` lines."""
    cache, source = report.cache, report.source
    size = cache.size_bytes
    lines = [
        f"cache:      {cache.kind} snapshot {cache.snapshot or '(none)'}"
        + (f", {size / 1e6:,.1f} MB" if size is not None else ""),
        f"as of:      {cache.as_of or 'never synced'}",
    ]
    if source is not None:
        lines.append(
            f"source:     {'reachable' if source.reachable else 'UNREACHABLE: ' + str(source.error)}"
        )
    check = report.schema_check
    if check is None:
        lines.append("schema:     never checked (run `bpo2-bridge schema check`)")
    else:
        found = (
            f"UNREACHABLE: {check.error}"
            if not check.reachable
            else f"{len(check.problems)} problem(s)"
            if check.problems
            else "all mapped tables and columns found"
        )
        lines.append(f"schema:     {found} (checked {check.checked_at:%Y-%m-%d %H:%M} by {check.checked_by})")
    if cache.last_failure:
        lines.append(f"last error: {cache.last_failure_at} {cache.last_failure}")
    scheduler = report.scheduler
    lines.append(
        f"scheduler:  {scheduler.process} until {scheduler.until_utc:%H:%M:%S} UTC"
        if scheduler
        else "scheduler:  not running anywhere: no process runs the scheduled jobs"
    )
    if report.running:
        run = report.running
        lines.append(
            f"running:    {run['kind']} sync since {run['started_at']:%Y-%m-%d %H:%M:%S} on {run['host']}"
        )
    if report.pending_request:
        req = report.pending_request
        lines.append(
            f"requested:  full sync by {req.requested_by} at {req.requested_at:%Y-%m-%d %H:%M}, "
            "waiting for the scheduler"
        )
    for name, when in report.next_runs.items():
        lines.append(f"next run:   {name} at {when:%Y-%m-%d %H:%M}" if when else f"next run:   {name} (none)")
    return lines


@click.group("cache")
def cache_group() -> None:
    """The disposable cache (users, history and logs live in the application store)."""


@cache_group.command("rebuild")
@output_options
@pass_app
def cache_rebuild(app: AppContext, fmt: str) -> None:
    """Build a fresh snapshot from BPO2 and delete every other one."""
    from ..sync import LineProgress, SyncBusy, SyncFailed, full_sync

    bridge = open_bridge(app)
    try:
        result = full_sync(bridge, LineProgress() if fmt != "json" else None)
        bridge.cache.clean(keep_previous=False)
    except (SyncFailed, SyncBusy, SourceError) as exc:
        fail(str(exc), 1)
    finally:
        bridge.dispose()
    if fmt == "json":
        _emit_json(result.as_dict())
    else:
        click.echo(
            f"cache rebuilt: snapshot {result.snapshot}, {sum(result.rows.values()):,} rows in {result.seconds:.1f} s"
        )


@click.command("scheduler")
@pass_app
def scheduler_command(app: AppContext) -> None:
    """Run the scheduled jobs in this process (for `serve --no-scheduler` deployments).

    Start it on as many hosts as you like: a lock in the application store lets exactly one
    of them run the jobs; the others stand by and take over when it stops.
    """
    from ..scheduler import start_scheduler, stop_scheduler
    from .serve import STOP_SECONDS, abandon

    configure_logging(app.settings)
    bridge = open_bridge(app)
    click.echo("scheduler running; Ctrl+C stops it", err=True)
    # a service manager's stop (SIGTERM) ends it as Ctrl+C does, so the cleanup below runs
    signal.signal(signal.SIGTERM, _interrupt)
    scheduler = None
    try:
        scheduler = start_scheduler(bridge, background=False)  # returns once interrupted
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second stop does not cut the cleanup
        bridge.stopping.set()  # a running sync ends at its next batch, its snapshot deleted
        if scheduler is not None and not stop_scheduler(scheduler, STOP_SECONDS):
            abandon(["the running scheduled job"])  # blocked in a BPO2 statement: leave it
        bridge.dispose()
    sys.exit(0)


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt
