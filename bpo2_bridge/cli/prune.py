"""`bpo2-bridge prune`: the daily history pruning job, run by hand."""

from __future__ import annotations

import json

import click
from sqlalchemy.exc import SQLAlchemyError

from ..bridge import Bridge
from ..store.retention import prune_history
from .common import AppContext, fail, output_options, pass_app, print_rows


@click.command("prune")
@click.option(
    "--days",
    default="",
    metavar="N",
    help="Keep sync runs of the last N days. Default: the history_days setting.",
)
@output_options
@pass_app
def prune_command(app: AppContext, days: str, fmt: str) -> None:
    """Delete old sync runs and sign-in attempts from the application store.

    Keeps runs still running, the newest successful and failed run of each kind, and every run
    of a snapshot the cache serves, whatever their age. The scheduler does this daily at
    prune_time.
    """
    try:
        keep_days = int(days) if days.strip() else app.settings.history_days
    except ValueError:
        fail(f"--days must be a whole number, got {days!r}")
    if keep_days < 1:
        fail(f"--days must be at least 1, got {keep_days}")
    bridge = Bridge(app.settings)
    try:
        result = prune_history(bridge, keep_days)
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        fail(f"the application store could not be pruned: {reason}", 1)
    finally:
        bridge.dispose()
    if fmt == "json":
        click.echo(json.dumps(result.as_dict(), indent=2))
        return
    print_rows(
        ("history", "deleted", "older_than"),
        [
            ("sync_runs", result.sync_runs, result.runs_before.isoformat(timespec="seconds")),
            ("login_attempts", result.login_attempts, result.attempts_before.isoformat(timespec="seconds")),
            ("sync_requests", result.sync_requests, result.runs_before.isoformat(timespec="seconds")),
        ],
        fmt,
    )
    if result.kept_old_runs:
        click.echo(f"kept {result.kept_old_runs} older runs (running, newest or serving)", err=True)
