"""`bpo2-bridge demo-db`: build only the deterministic demo BPO2 source and print its URL."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from ..demo.content import PROFILES
from ..demo.generate import DemoError, DemoSummary, build_demo, build_demo_file
from ..source.mapping import MappingError, load_mapping
from .common import AppContext, fail, pass_app


@click.command("demo-db")
@click.option(
    "--size",
    default="small",
    metavar="small|large",
    show_default=True,
    help="small (seconds) or large (benchmarks); tiny for tests.",
)
@click.option(
    "--seed",
    default="1",
    metavar="N",
    show_default=True,
    help="Random seed: the same seed and date give the same data.",
)
@click.option(
    "--today",
    "today_text",
    default="",
    metavar="YYYY-MM-DD",
    help="Date the data is relative to (YYYY-MM-DD). Default: today.",
)
@click.option(
    "--url",
    default="",
    metavar="URL",
    help="Build into this database URL instead of the SQLite file in data_dir.",
)
@click.option(
    "--replace",
    is_flag=True,
    help="Drop and rebuild an existing demo source; attachment files its previous build wrote "
    "to the share folder (share_root) and this one does not are removed.",
)
@pass_app
def demo_db(app: AppContext, size: str, seed: str, today_text: str, url: str, replace: bool) -> None:
    """Build the demo BPO2 source (SQLite file by default) and print its URL."""
    if size not in PROFILES:
        fail(f"--size must be one of {', '.join(PROFILES)}, got {size!r}")
    try:
        seed_number = int(seed)
    except ValueError:
        fail(f"--seed must be a whole number, got {seed!r}")
    try:
        today = dt.date.fromisoformat(today_text) if today_text else app.settings.today_date()
    except ValueError:
        fail(f"--today must be a date as YYYY-MM-DD, got {today_text!r}")
    target = None
    if url:
        try:
            target = make_url(url)
        except ArgumentError:
            fail(f"--url is not a valid database URL: {url!r}")
    settings = app.settings
    try:
        mapping = load_mapping(settings.mapping_path)
    except MappingError as exc:
        fail(str(exc))
    options: dict[str, Any] = {
        "size": size,
        "seed": seed_number,
        "today": today,
        "mapping": mapping,
        "share_root": settings.share_path,
        "replace": replace,
    }
    with _progress_display(size) as progress:
        options["progress"] = progress
        try:
            if target is not None:
                summary = build_demo(target, **options)
            else:
                summary = build_demo_file(settings.demo_source_path, **options)
        except DemoError as exc:
            fail(str(exc))
    _report(summary)


@contextmanager
def _progress_display(size: str) -> Iterator[Callable[[str, int], None]]:
    """A progress bar over customers on a terminal; one line otherwise (logs, pipes)."""
    label = f"Building the {size} demo"
    if not sys.stderr.isatty():
        click.echo(f"{label} ...", err=True)
        yield lambda _entity, _rows: None
        return
    with click.progressbar(length=PROFILES[size].customers, label=label, file=sys.stderr) as bar:
        done = [0]

        def progress(entity: str, rows: int) -> None:
            if entity == "customer" and rows > done[0]:
                bar.update(rows - done[0])
                done[0] = rows

        yield progress


def _report(summary: DemoSummary) -> None:
    click.echo(summary.url)
    click.echo(
        f"demo {summary.size}, seed {summary.seed}, today {summary.today.isoformat()}, {summary.seconds:.1f}s"
    )
    for entity, count in summary.counts.items():
        click.echo(f"  {entity:<18} {count:>10,}")
    if summary.stale_files_removed:
        click.echo(
            f"removed {summary.stale_files_removed:,} attachment files of the previous build from the share"
        )
