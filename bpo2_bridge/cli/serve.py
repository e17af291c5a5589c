"""`bpo2-bridge serve`: the web screens on waitress, with the scheduler in-process by default."""

from __future__ import annotations

import gc
import logging
import os
import signal
import sys
import threading
import time
from typing import Any

import click
from waitress.task import ThreadedTaskDispatcher

from ..bridge import Bridge
from .common import AppContext, fail, pass_app

log = logging.getLogger(__name__)


# after SIGTERM or Ctrl+C: requests in flight get REQUEST_GRACE seconds to finish, then the
# running job (a sync ends at its next batch) and PDF renders what is left of STOP_SECONDS;
# whatever still runs then is abandoned, so a service manager's stop never waits long
STOP_SECONDS = 2.5
REQUEST_GRACE = 1.0
PDF_STOP_SLACK = 1.5  # for a render cut short: its worker ended and reaped
# how long a request thread runs Python before another may take over (the interpreter's default:
# 5 ms). A thread whose SQLite statement ends waits up to that long to carry on while others
# render pages: with four busy threads a 6.5 ms count took 165 ms at 5 ms, 22 ms at 1 ms
SWITCH_SECONDS = 0.001


def run_server(bridge: Bridge, host: str, port: int, scheduler: bool) -> None:
    """Serve until interrupted; the in-process scheduler stops with the server."""
    import waitress

    from ..logs import configure_logging
    from ..scheduler import clean_at_start
    from ..web.app import create_app

    configure_logging(bridge.settings)
    if not scheduler:  # the scheduler does it when it starts
        clean_at_start(bridge)

    app = create_app(bridge=bridge, start_scheduler=scheduler)
    sys.setswitchinterval(SWITCH_SECONDS)
    bridge.reports.pdf.use_workers(bridge.settings.pdf_workers, nice=bridge.settings.pdf_nice)
    settle_heap()
    try:
        server = waitress.create_server(
            app,
            host=host,
            port=port,
            ident="bpo2-bridge",
            _dispatcher=_Dispatcher(bridge.settings.threads, REQUEST_GRACE),
        )
    except OSError as exc:
        message = f"cannot listen on {host}:{port}: {exc.strerror or exc}"
        left = _stop_work(app, bridge, time.monotonic() + STOP_SECONDS)
        if left:  # the start-up sync still runs: the message first, then leave without it
            click.echo(f"Error: {message}", err=True)
            abandon(left, code=2)
        fail(message)
    # a service manager's stop (SIGTERM) ends waitress like Ctrl+C does, so the cleanup below runs
    signal.signal(signal.SIGTERM, _stop)
    shown = "localhost" if host in ("0.0.0.0", "::") else host
    click.echo(f"Serving on http://{shown}:{port}/  (Ctrl+C stops)", err=True)
    try:
        server.run()  # returns once stopped, requests in flight finished or REQUEST_GRACE passed
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second stop does not cut the cleanup
        left = _stop_work(app, bridge, time.monotonic() + STOP_SECONDS - REQUEST_GRACE)
        if left:
            abandon(left)


class _Dispatcher(ThreadedTaskDispatcher):
    """waitress's request threads, with at most ``grace`` seconds at shutdown for the requests
    in flight (waitress itself waits 5 s); requests still running then are abandoned."""

    def __init__(self, threads: int, grace: float) -> None:
        super().__init__()
        self.grace = grace
        self.set_thread_count(threads)

    def shutdown(self, cancel_pending: bool = True, timeout: float = 5) -> bool:
        return bool(super().shutdown(cancel_pending=cancel_pending, timeout=min(timeout, self.grace)))


def _stop_work(app: Any, bridge: Bridge, deadline: float) -> list[str]:
    """Stop the scheduler, the running sync and the PDF workers by ``deadline``; returns what
    still runs then (for `abandon`)."""
    from ..scheduler import stop_scheduler

    bridge.stopping.set()  # a running sync ends at its next batch, its snapshot deleted
    # queued documents are dropped; one being rendered may finish in time, else its worker ends
    pdf = threading.Thread(
        target=bridge.reports.pdf.shutdown,
        kwargs={"timeout": deadline - time.monotonic()},
        name="pdf-workers-stop",
        daemon=True,
    )
    pdf.start()
    left = []
    running = app.extensions.get("bpo2_scheduler")
    if running is not None and not stop_scheduler(running, deadline - time.monotonic()):
        left.append("the running scheduled job")
    pdf.join(max(0.0, deadline - time.monotonic()) + PDF_STOP_SLACK)
    if pdf.is_alive():
        left.append("the PDF workers")
    bridge.dispose()
    others = [t for t in threading.enumerate() if t is not threading.current_thread() and not t.daemon]
    for thread in others:
        thread.join(max(0.0, deadline - time.monotonic()))
    left += [f"thread {t.name}" for t in others if t.is_alive()]
    return left


def abandon(left: list[str], code: int = 0) -> None:
    """End the process without waiting for ``left``, which the interpreter's exit would wait
    for without bound (a job blocked in a BPO2 statement). What they leave is safe: a
    half-written snapshot never serves and is deleted at the next start, a sync's open
    transaction rolls back, its lease is taken over at once."""
    log.warning(
        "stopping: abandoned %s, still running when the %.1f s to stop were up; the next start cleans up after it",
        ", ".join(left),
        STOP_SECONDS,
    )
    gc.unfreeze()  # what start-up set aside (settle_heap) is collected now, the PDF pool's
    gc.collect()  # semaphores with it: their finalizers release them (os._exit runs none)
    logging.shutdown()  # logs flushed
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


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
