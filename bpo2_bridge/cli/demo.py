"""`bpo2-bridge demo`: build the demo BPO2 (if missing), sync it, create demo users, serve."""

from __future__ import annotations

import sys

import click

from ..bridge import Bridge
from ..demo.content import PROFILES
from ..demo.generate import DemoError, build_demo_file
from ..store.users import DEMO_PASSWORD, create_demo_users, demo_accounts
from .common import AppContext, fail, pass_app
from .serve import run_server


def prepare_demo(bridge: Bridge, size: str) -> None:
    """The demo source built when missing, then one full sync into the cache."""
    from ..sync.full import full_sync
    from ..sync.results import SyncFailed

    settings = bridge.settings
    if settings.source_url:
        fail("source_url is set: the demo runs on its own source; unset it (or use serve)")
    path = settings.demo_source_path
    if path.exists():
        click.echo(f"Using the demo source {path}", err=True)
    else:
        customers = PROFILES[size].customers
        with click.progressbar(length=customers, label=f"Building the {size} demo", file=sys.stderr) as bar:
            done = [0]

            def progress(entity: str, rows: int) -> None:
                if entity == "customer" and rows > done[0]:
                    bar.update(rows - done[0])
                    done[0] = rows

            try:
                build_demo_file(
                    path,
                    size=size,
                    today=settings.today_date(),
                    mapping=bridge.mapping,
                    share_root=settings.share_path,
                    progress=progress,
                )
            except DemoError as exc:
                fail(str(exc))
    click.echo("Syncing the demo into the cache…", err=True)
    try:
        result = full_sync(bridge)
    except SyncFailed as exc:
        fail(f"sync failed: {exc}")
    click.echo(f"Synced {sum(result.rows.values()):,} rows in {result.seconds:.1f} s", err=True)


@click.command("demo")
@click.option("--size", type=click.Choice(["small", "large"]), default="small", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Port. Default: the port setting.")
@click.option("--no-serve", is_flag=True, help="Prepare everything, print the logins, and stop.")
@pass_app
def demo(app: AppContext, size: str, port: int | None, no_serve: bool) -> None:
    """Build the demo BPO2 if missing, sync it, create demo users, print the URL and logins, serve."""
    settings = app.settings
    bridge = Bridge(settings)
    prepare_demo(bridge, size)
    create_demo_users(bridge.store)
    port = port or settings.port
    shown = "localhost" if settings.host in ("0.0.0.0", "::") else settings.host
    click.echo(f"\nbpo2-bridge demo: http://{shown}:{port}/")
    click.echo(f"Sign in with one of these logins (password: {DEMO_PASSWORD}):")
    what = {
        "user": "salesman: sees his customers",
        "admin": "CRM administrator: sees every customer",
        "ops": "ops: Status and SQL checks",
    }
    for login, role, _employee in demo_accounts():
        click.echo(f"  {login:<8} {what[role]}")
    if no_serve:
        bridge.dispose()
        return
    run_server(bridge, settings.host, port, scheduler=True)
