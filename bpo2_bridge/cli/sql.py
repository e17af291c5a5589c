"""`bpo2-bridge sql`: one guarded, time-limited, row-capped SELECT against BPO2 or the cache."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Iterable, Sequence
from typing import Any, TextIO

import click

from ..bridge import Bridge
from ..checks.adhoc import TARGETS, QueryFailed, parse_timeout, run_adhoc
from .common import AppContext, fail, output_options, pass_app
from .common import print_rows as _print_rows


@click.command("sql")
@click.argument("query", required=False)
@click.option(
    "-f",
    "--file",
    "query_file",
    type=click.File("r", encoding="utf-8"),
    help="Read the query from FILE ('-' for standard input).",
)
@click.option(
    "--target",
    type=click.Choice(TARGETS),
    default="source",
    show_default=True,
    help="Run against BPO2 (source) or the current cache snapshot.",
)
@click.option(
    "--timeout",
    metavar="SECONDS",
    help="Seconds the query may run, executing and fetching together (0.1 to 3600). "
    "Default: the query_timeout setting.",
)
@click.option(
    "--max-rows",
    type=click.IntRange(min=1),
    help="Most rows printed; a notice says when there were more. Default: the query_max_rows setting.",
)
@output_options
@pass_app
def sql(
    app: AppContext,
    query: str | None,
    query_file: TextIO | None,
    target: str,
    timeout: str | None,
    max_rows: int | None,
    fmt: str,
) -> None:
    """Run one read-only SELECT and print its rows.

    QUERY is the SQL text, or '-' to read it from standard input; -f FILE reads it from a file.
    The SQL is parsed for the database's dialect and refused unless it is exactly one SELECT
    (WITH, UNION and subqueries allowed; no INTO, locking clauses, procedures or second
    statements). Exit 0 when it ran, 2 when it was refused or failed (one line saying why).
    """
    if query_file is not None and query is not None:
        fail("give the query as an argument or with -f FILE, not both")
    seconds = None
    if timeout is not None:
        try:  # nan, inf, 1e308, 0 and negatives would mean no limit or none at all
            seconds = parse_timeout(timeout)
        except ValueError as exc:
            fail(f"--timeout {exc}")
    if query_file is not None:
        text = _read_query_file(query_file)
    elif query == "-" or query is None:
        if query is None and sys.stdin.isatty():
            fail("no query: give it as an argument, with -f FILE, or '-' to read standard input")
        text = sys.stdin.read()
    else:
        text = query
    bridge = Bridge(app.settings)
    try:
        result = run_adhoc(bridge, text, target=target, timeout=seconds, max_rows=max_rows)
    except QueryFailed as exc:
        fail(str(exc))
    finally:
        bridge.dispose()
    print_rows(result.columns, result.rows, fmt)
    if result.truncated:
        click.echo(result.notice, err=True)
    elif fmt == "table":
        count = len(result.rows)
        click.echo(f"({count} row{'' if count == 1 else 's'}, {result.elapsed_ms} ms)", err=True)


def _read_query_file(stream: TextIO) -> str:
    """The file's SQL text; a file that is not UTF-8 text (a binary file) is refused in one line."""
    name = getattr(stream, "name", "the file")
    try:
        text = stream.read()
    except UnicodeDecodeError as exc:
        fail(f"{name} is not UTF-8 text (byte {exc.start}): give a file of SQL")
    except OSError as exc:
        fail(f"cannot read {name}: {exc.strerror or exc}")
    if "\x00" in text:
        fail(f"{name} holds NUL bytes, so it is not a SQL text file")
    return text


def print_rows(columns: Sequence[str], rows: Iterable[Sequence[Any]], fmt: str) -> None:
    # common.print_rows looks its stream up with click.get_text_stream, deprecated in click 8.5
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        _print_rows(columns, rows, fmt)
