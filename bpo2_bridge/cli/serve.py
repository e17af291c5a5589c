"""`bpo2-bridge serve`: the web screens on waitress, with the scheduler in-process by default."""

from __future__ import annotations

import gc
import signal

import click

from ..bridge import Bridge
from .common import AppContext, fail, pass_app


def run_server(bridge: Bridge, host: str, port: int, scheduler: bool) -> None:
    """Serve until interrupted; the in-process scheduler stops with the server."""
    import waitress

    from ..logs import configure_logging
    from ..report.render import make_pdf
    from ..scheduler import clean_at_start
    from ..web.app import create_app

    configure_logging(bridge.settings)
    if not scheduler:  # the scheduler does it when it starts
        clean_at_start(bridge)

    app = create_app(bridge=bridge, start_scheduler=scheduler)
    make_pdf.use_workers(bridge.settings.pdf_workers, nice=bridge.settings.pdf_nice)
    settle_heap()
    # a service manager's stop (SIGTERM) ends waitress like Ctrl+C does, so the cleanup below runs
    signal.signal(signal.SIGTERM, _stop)
    shown = "localhost" if host in ("0.0.0.0", "::") else host
    click.echo(f"Serving on http://{shown}:{port}/  (Ctrl+C stops)", err=True)
    try:
        waitress.serve(app, host=host, port=port, threads=bridge.settings.threads, ident="bpo2-bridge")
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
    finally:
        running = app.extensions.get("bpo2_scheduler")
        if running is not None:
            running.shutdown(wait=False)
        make_pdf.shutdown()
        bridge.dispose()


def settle_heap() -> int:
    """Collect what start-up left behind, then take the rest out of the collector's full passes;
    returns how many objects were set aside.

    What start-up built (modules, the mapping, the app: some 85,000 objects) lives as long as
    the process. Under load a full pass came every 5-10 s and stopped every thread for
    50-130 ms, most of it spent walking those objects again."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def _stop(_signum: int, _frame: object) -> None:
    raise SystemExit(0)


@click.command("serve")
@click.option("--host", default=None, help="Address to listen on. Default: the host setting.")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Port. Default: the port setting.")
@click.option(
    "--no-scheduler",
    is_flag=True,
    help="Do not run the scheduled syncs here (another process runs `bpo2-bridge scheduler`).",
)
@pass_app
def serve(app: AppContext, host: str | None, port: int | None, no_scheduler: bool) -> None:
    """Serve the CRM screens with waitress (threads from the settings)."""
    settings = app.settings
    run_server(Bridge(settings), host or settings.host, port or settings.port, scheduler=not no_scheduler)


COMMANDS = [serve]
