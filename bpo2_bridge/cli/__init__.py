"""The `bpo2-bridge` command. Each module here adds its commands (listed in its COMMANDS)."""

from __future__ import annotations

import importlib
import pkgutil

import click

from .common import AppContext, CommandGroup

_MODULES = [m.name for m in pkgutil.iter_modules(__path__) if m.name not in {"common"}]


@click.group(
    cls=CommandGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100}
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    envvar="BPO2_BRIDGE_CONFIG",
    help="Settings file (TOML). Default: config/bpo2-bridge.toml of the install.",
)
@click.version_option(package_name="bpo2-bridge")
@click.pass_context
def main(ctx: click.Context, config_file: str | None) -> None:
    """Read-only bridge from the BPO2 ERP database to fast intranet CRM screens."""
    ctx.obj = AppContext(config_file)


for _name in sorted(_MODULES):
    for _command in importlib.import_module(f"{__name__}.{_name}").COMMANDS:
        main.add_command(_command)
