"""`bpo2-bridge checks list|run`: the canned SQL checks against BPO2."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Iterable, Sequence
from typing import Any

import click

from ..checks.canned import UnknownCheck, get_check, list_checks, run_checks
from .common import AppContext, fail, open_bridge, output_options, pass_app
from .common import print_rows as _print_rows


@click.group()
def checks() -> None:
    """Canned read-only SQL checks that find data problems in BPO2."""


@checks.command("list")
@output_options
@pass_app
def list_command(app: AppContext, fmt: str) -> None:
    """List the checks: name, what each finds and why it matters."""
    rows = [[c.name, c.title, c.why] for c in list_checks()]
    print_rows(["name", "finds", "why it matters"], rows, fmt)


@checks.command("run")
@click.argument("names", nargs=-1)
@click.option("--show-rows", is_flag=True, help="Also print the rows each failing check found.")
@output_options
@pass_app
def run_command(app: AppContext, names: tuple[str, ...], show_rows: bool, fmt: str) -> None:
    """Run the named checks (all when none are named) and print a summary.

    A check fails when it finds rows. Results are kept in the application store, for the SQL
    checks page. Exit 0 when every check passes, 1 when any finds rows or cannot run, 2 on an
    unknown check name.
    """
    try:
        for name in names:
            get_check(name)
    except UnknownCheck as exc:
        fail(str(exc))
    bridge = open_bridge(app)
    try:
        results = run_checks(bridge, list(names) or None, triggered_by="cli")
    finally:
        bridge.dispose()
    rows = [[r.name, r.status.upper(), r.row_count, r.duration_ms, r.error or r.title] for r in results]
    print_rows(["check", "result", "rows", "ms", "finds / error"], rows, fmt)
    if show_rows and fmt == "table":
        for result in results:
            if result.rows:
                click.echo(f"\n{result.name}: {result.title}")
                print_rows(result.columns, result.rows, fmt)
    failed = [r for r in results if r.failed]
    if fmt == "table":
        passed = len(results) - len(failed)
        click.echo(f"{len(results)} checks: {passed} pass, {len(failed)} fail", err=True)
    sys.exit(1 if failed else 0)


def print_rows(columns: Sequence[str], rows: Iterable[Sequence[Any]], fmt: str) -> None:
    # common.print_rows looks its stream up with click.get_text_stream, deprecated in click 8.5
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        _print_rows(columns, rows, fmt)
