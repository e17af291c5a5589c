"""What every command shares: lazy settings, the output format option, one-line failures."""

from __future__ import annotations

import decimal
import json
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import click

from ..bridge import Bridge
from ..settings import Settings, SettingsError, load_settings
from ..source.mapping import MappingError
from ..values import csv_lines, json_value

F = TypeVar("F", bound=Callable[..., Any])


# a group run without a command shows its help this way (click 8.2+): left as click prints it
_HELP_NOT_ERROR: tuple[type[Exception], ...] = tuple(
    getattr(click.exceptions, name) for name in ("NoArgsIsHelpError",) if hasattr(click.exceptions, name)
)


class OneLineError(click.ClickException):
    """Printed as one line, "Error: ...", exit code 2 (bad usage or configuration)."""

    exit_code = 2


class CommandGroup(click.Group):
    """The top command. Usage errors print one line with where help is, not click's usage block;
    a setting or mapping found bad only once a command uses it stops the same way."""

    def make_context(
        self, info_name: str | None, args: list[str], parent: click.Context | None = None, **extra: Any
    ) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.UsageError as exc:
            if isinstance(exc, _HELP_NOT_ERROR):
                raise
            raise _one_line(exc) from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            if isinstance(exc, _HELP_NOT_ERROR):
                raise
            raise _one_line(exc) from None
        except (SettingsError, MappingError) as exc:
            raise OneLineError(str(exc)) from None


def _one_line(exc: click.UsageError) -> OneLineError:
    message = exc.format_message().rstrip()
    if exc.ctx is not None:
        message += f" (see '{exc.ctx.command_path} --help')"
    return OneLineError(" ".join(message.split()))


class AppContext:
    """Settings are loaded on first use, so `--help` works whatever the config says."""

    def __init__(self, config_file: str | None) -> None:
        self.config_file = config_file
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            try:
                self._settings = load_settings(self.config_file)
            except SettingsError as exc:
                fail(str(exc))
        return self._settings  # type: ignore[return-value]


pass_app = click.make_pass_decorator(AppContext)


def open_bridge(app: AppContext, *, mapping: bool = True) -> Bridge:
    """A Bridge on the command's settings. With `mapping`, the mapping file is read now, so a
    bad one stops the command at start (one line, exit 2) before any work is done or recorded."""
    bridge = Bridge(app.settings)
    if mapping:
        try:
            bridge.mapping  # noqa: B018 - read for its check
        except MappingError as exc:
            bridge.dispose()
            fail(f"setting 'mapping_file': {exc}")
    return bridge


def fail(message: str, code: int = 2) -> None:
    """Stop with one line on standard error (exit 2 = refused or bad usage by convention)."""
    click.echo(f"Error: {message}", err=True)
    sys.exit(code)


def output_options(func: F) -> F:
    """`--format table|csv|json` for every command that prints rows."""
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(["table", "csv", "json"]),
        default="table",
        show_default=True,
        help="How rows are printed.",
    )(func)


def _text(value: Any) -> str:
    """A table cell: an amount with its own decimals ("12.50"), everything else as JSON has it."""
    if value is None:
        return ""
    return str(value) if isinstance(value, decimal.Decimal) else str(json_value(value))


def print_rows(columns: Sequence[str], rows: Iterable[Sequence[Any]], fmt: str) -> None:
    """Rows on standard output: JSON and CSV as every download writes them (values.py), CSV
    cells a spreadsheet would run as formulas neutralised; a table of plain text otherwise."""
    out = sys.stdout
    if fmt == "csv":
        for piece in csv_lines(columns, rows, bom=False, newline="\n"):
            out.write(piece)
        return
    if fmt == "json":
        values = [[json_value(v) for v in row] for row in rows]
        out.write(json.dumps([dict(zip(columns, r)) for r in values], indent=2) + "\n")
    else:
        text = [[_text(v) for v in r] for r in rows]
        widths = [max([len(c)] + [len(r[i]) for r in text]) for i, c in enumerate(columns)]
        out.write("  ".join(c.ljust(w) for c, w in zip(columns, widths)).rstrip() + "\n")
        out.write("  ".join("-" * w for w in widths) + "\n")
        for r in text:
            out.write("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() + "\n")
