"""The `bpo2-bridge` command and its subcommands, listed here one by one."""

from __future__ import annotations

import click

from .checks import checks
from .common import AppContext, CommandGroup
from .demo import demo
from .demo_db import demo_db
from .digest import digest_command
from .prune import prune_command
from .report import report
from .schema import schema
from .serve import serve
from .sql import sql
from .sync import cache_group, scheduler_command, status_command, sync_command
from .users import users


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


COMMANDS = (
    cache_group,
    checks,
    demo,
    demo_db,
    digest_command,
    prune_command,
    report,
    schema,
    scheduler_command,
    serve,
    sql,
    status_command,
    sync_command,
    users,
)
for _command in COMMANDS:
    main.add_command(_command)
