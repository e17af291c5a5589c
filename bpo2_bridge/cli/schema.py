"""`bpo2-bridge schema check`: does the live BPO2 database fit the mapping file?"""

from __future__ import annotations

import sys

import click

from ..settings import Settings
from ..source.engines import SourceError, first_line, open_source
from ..source.mapping import MappingError, load_mapping
from ..source.reflection import check_schema, mapped_counts
from ..store.database import open_store
from ..store.schema_checks import SchemaCheck, outcome, save
from .common import AppContext, fail, output_options, pass_app, print_rows

UNREACHABLE = "BPO2 source unreachable"
BY = "schema check command"
_COLUMNS = ("entity", "table", "column", "problem", "suggestions")


@click.group()
def schema() -> None:
    """Check the BPO2 tables against the mapping file."""


@schema.command("check")
@output_options
@pass_app
def check(app: AppContext, fmt: str) -> None:
    """Report every mapped table or column BPO2 lacks, with the closest existing names, and every
    column whose type cannot serve.

    Exit 0 when everything is found, 1 on problems, 2 when BPO2 cannot be reached.
    """
    settings = app.settings
    try:
        mapping = load_mapping(settings.mapping_path)
    except MappingError as exc:
        fail(str(exc))
    try:
        engine = open_source(settings)
    except SourceError as exc:
        _record(settings, outcome(settings.now(), BY, error=f"{UNREACHABLE}: {exc}"))
        fail(f"{UNREACHABLE}: {exc}")
    try:
        problems = check_schema(engine, mapping)
    except SourceError as exc:
        message = str(exc)
        message = message if message.startswith(UNREACHABLE) else f"{UNREACHABLE}: {message}"
        _record(settings, outcome(settings.now(), BY, error=message))
        fail(message)
    finally:
        engine.dispose()
    _record(settings, outcome(settings.now(), BY, problems))

    tables, columns = mapped_counts(mapping)
    if not problems:
        if fmt == "table":
            click.echo(f"All {tables} tables and {columns} columns found")
        else:  # machine formats: an empty result on stdout, the verdict on stderr
            print_rows(_COLUMNS, [], fmt)
            click.echo(f"All {tables} tables and {columns} columns found", err=True)
        return

    rows = [
        [
            p.entity,
            p.table,
            p.physical,
            p.message,
            list(p.suggestions) if fmt == "json" else ", ".join(p.suggestions),
        ]
        for p in problems
    ]
    print_rows(_COLUMNS, rows, fmt)
    summary = f"{len(problems)} problem{'s' if len(problems) != 1 else ''} in the mapped schema"
    click.echo(summary, err=fmt != "table")
    sys.exit(1)


def _record(settings: Settings, check: SchemaCheck) -> None:
    """Keep the result for the Status page; a store that cannot take it changes no verdict."""
    try:
        store = open_store(settings)
    except Exception as exc:
        click.echo(f"warning: the result was not stored: {first_line(exc)}", err=True)
        return
    try:
        save(store, check)
    except Exception as exc:
        click.echo(f"warning: the result was not stored: {first_line(exc)}", err=True)
    finally:
        store.dispose()
