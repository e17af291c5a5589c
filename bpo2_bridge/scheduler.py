"""APScheduler (3.x) wiring: the jobs of `jobs.JOBS`, run by exactly one process at a time.

Every scheduler process (in-process with `serve`, or standalone `bpo2-bridge scheduler`)
schedules the jobs, but a job only runs in the process that holds the "scheduler" lease in
the application store. A keeper thread takes and renews the lease; a standby process takes
over once the holder's lease expires (or at once when the holder died on this host). Jobs run
on one worker thread, so they never overlap. A failed job marked `retry` (the incremental
sync) runs again after 30 s, 60 s, 120 s … capped at its interval, until it succeeds.

Full syncs requested on the Status page wait in the store (sync/requests.py). The lease
holder looks for them every 15 s on a thread of its own (a look is one indexed read, and never
waits behind a running sync) and queues one full sync on the job thread, which marks them
picked as it starts.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from .jobs import JOBS, Job
from .queries.status import SCHEDULER_LEASE
from .sync import requests as sync_requests
from .sync.full import SyncStopped, clean_abandoned
from .sync.lease import Lease
from .sync.results import SyncBusy

if TYPE_CHECKING:
    from .bridge import Bridge

log = logging.getLogger(__name__)
LEASE_NAME = SCHEDULER_LEASE
RETRY_BASE_SECONDS = 30.0  # first retry of a failed job; doubles up to the job's interval
REQUEST_POLL_SECONDS = sync_requests.POLL_SECONDS  # full syncs requested on the Status page


class Leadership:
    """The scheduler lease of this process, kept by a daemon thread."""

    def __init__(self, lease: Lease) -> None:
        self.lease = lease
        self._held = False
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="scheduler-lease", daemon=True)
        self.busy = threading.Lock()  # held while a job runs in this process

    def start(self) -> None:
        self.ensure()
        self._thread.start()

    def ensure(self) -> bool:
        """True when this process holds the lease now (renewing or taking it)."""
        with self._lock:
            try:
                self._held = self.lease.renew() if self._held else self.lease.acquire()
                if not self._held:
                    self._held = self.lease.acquire()
            except Exception:
                log.warning("scheduler lease: store unreachable", exc_info=True)
                self._held = False
            return self._held

    @property
    def held(self) -> bool:
        """Whether this process held the lease at the last renewal (no store round trip)."""
        return self._held

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            if self._held:
                try:
                    self.lease.release()
                except Exception:
                    pass
                self._held = False

    def _run(self) -> None:
        while not self._stop.wait(max(1.0, self.lease.seconds / 3)):
            self.ensure()


class Backoff:
    """One-off retries of a failed job: base, 2×base, 4×base … seconds, capped at `cap`.

    Retries and the job's own trigger share the one worker thread, so they never overlap;
    a success (by either) resets the delay."""

    def __init__(self, base: float, cap: float) -> None:
        self.base, self.cap = base, max(base, cap)
        self.failures = 0

    def failed(self) -> float:
        """The delay before the next retry, after one more failure."""
        delay = min(self.cap, self.base * 2.0**self.failures)
        self.failures += 1
        return delay

    def succeeded(self) -> None:
        self.failures = 0


def _guarded(
    job: Job,
    bridge: Bridge,
    leadership: Leadership,
    scheduler: BaseScheduler | None = None,
    retry_base_seconds: float = RETRY_BASE_SECONDS,
) -> Callable[[], None]:
    """The job as the scheduler runs it: only on the lease holder, failures logged (and, for
    jobs with `retry`, retried on `scheduler` with backoff)."""
    backoff = Backoff(retry_base_seconds, _interval_seconds(job, bridge))

    def run() -> None:
        if not leadership.ensure():
            log.info("job %s: another process runs the scheduled jobs", job.name)
            return
        try:
            with leadership.busy:
                job.func(bridge)
        except SyncBusy as exc:
            log.info("job %s skipped: %s", job.name, exc)
            return
        except SyncStopped:
            log.info("job %s stopped: the process is stopping", job.name)
            return
        except Exception:
            log.exception("job %s failed", job.name)  # syncs also record it in the store
            if job.retry and scheduler is not None:
                _retry_later(scheduler, job, run, backoff.failed(), bridge.settings.tz)
            return
        backoff.succeeded()

    run.__name__ = job.name
    return run


def _interval_seconds(job: Job, bridge: Bridge) -> float:
    trigger = job.trigger(bridge.settings)
    if isinstance(trigger, IntervalTrigger):
        return float(trigger.interval.total_seconds())
    return 3600.0


def _retry_later(
    scheduler: BaseScheduler, job: Job, run: Callable[[], None], delay: float, timezone: Any
) -> None:
    """One more run of `job` after `delay` seconds; a newer retry replaces a pending one."""
    log.info("job %s: retry in %.0f s", job.name, delay)
    scheduler.add_job(
        run,
        trigger=DateTrigger(
            run_date=dt.datetime.now(timezone) + dt.timedelta(seconds=delay), timezone=timezone
        ),
        id=f"{job.name}.retry",
        name=f"{job.name} (retry)",
        misfire_grace_time=None,  # however late: the cache is behind until it runs
        replace_existing=True,
    )


def _request_poll(bridge: Bridge, leadership: Leadership, scheduler: BaseScheduler) -> Callable[[], None]:
    """Look for requested full syncs on the lease holder; queue one full sync for new ones.

    The queued sync marks the requests picked when it starts: until then the page says they
    wait, and should this process stop first, they stay pending for the next lease holder."""
    queued: set[int] = set()  # requests a queued sync of this scheduler will answer
    guard = threading.Lock()

    def poll() -> None:
        if not leadership.held:
            return
        try:
            waiting = sync_requests.waiting(bridge.store)
        except Exception:
            log.warning("requested syncs: store unreachable", exc_info=True)
            return
        with guard:
            new = [r for r in waiting if r.id not in queued]
            queued.update(r.id for r in new)
        if not new:
            return
        log.info("full sync requested by %s: queued", ", ".join(sorted({r.requested_by for r in new})))

        def done() -> None:
            with guard:
                queued.difference_update(r.id for r in new)

        scheduler.add_job(
            _run_requested(bridge, leadership, done),
            trigger=DateTrigger(run_date=dt.datetime.now(bridge.settings.tz), timezone=bridge.settings.tz),
            id=f"full_sync.requested.{new[0].id}",
            name="full_sync (requested)",
            misfire_grace_time=None,  # however late: ops asked for it
        )

    return poll


def _run_requested(bridge: Bridge, leadership: Leadership, done: Callable[[], None]) -> Callable[[], None]:
    """The requested full sync as the job thread runs it (never beside another job)."""

    def run() -> None:
        try:
            if not leadership.ensure():  # lost the lease meanwhile: the new holder picks them up
                return
            with leadership.busy:
                sync_requests.run_pending(bridge)
        except SyncBusy as exc:
            log.info("requested full sync waits: %s", exc)
        except SyncStopped:
            log.info("requested full sync stopped: the process is stopping")
        except Exception:
            log.exception("requested full sync failed")  # the sync records it in the store
        finally:
            done()

    return run


def stop_scheduler(scheduler: BaseScheduler, seconds: float) -> bool:
    """Start no more jobs and give the running one ``seconds`` to end (a sync ends at its next
    batch once the bridge is stopping); False when it is still running then."""
    scheduler.shutdown(wait=False)
    busy: threading.Lock = scheduler.leadership.busy
    if busy.acquire(timeout=max(0.0, seconds)):
        busy.release()
        return True
    return False


def clean_at_start(bridge: Bridge) -> None:
    """Delete what a killed full sync left half-written (unless a sync runs now somewhere);
    a store that cannot be reached only delays it to the next sync."""
    try:
        gone = clean_abandoned(bridge)
    except Exception:
        log.warning("could not clean up after syncs that were killed: store unreachable", exc_info=True)
        return
    if gone:
        log.info("deleted %d snapshot(s) left by a killed sync: %s", len(gone), ", ".join(gone))


def start_scheduler(
    bridge: Bridge,
    background: bool = True,
    jobs: tuple[Job, ...] = JOBS,
    retry_base_seconds: float = RETRY_BASE_SECONDS,
    request_poll_seconds: float = REQUEST_POLL_SECONDS,
) -> BaseScheduler:
    """Schedule `jobs` and start; background=False blocks until shutdown or an interrupt
    (standalone process), then returns the scheduler for `stop_scheduler`."""
    settings = bridge.settings
    clean_at_start(bridge)
    leadership = Leadership(Lease(bridge.store, LEASE_NAME, settings.scheduler_lock_seconds))
    options: dict[str, Any] = {
        # jobs on one worker; the look for requested syncs apart, so it never waits behind them
        "executors": {
            "default": ThreadPoolExecutor(max_workers=1),
            "poll": ThreadPoolExecutor(max_workers=1),
        },
        "timezone": settings.tz,
    }
    scheduler: BaseScheduler = BackgroundScheduler(**options) if background else BlockingScheduler(**options)
    now = dt.datetime.now(settings.tz)
    for job in (j for j in jobs if j.enabled(settings)):
        scheduler.add_job(
            _guarded(job, bridge, leadership, scheduler, retry_base_seconds),
            trigger=job.trigger(settings),
            id=job.name,
            name=job.name,
            misfire_grace_time=job.misfire_grace_time(settings),
            coalesce=job.coalesce,
            max_instances=job.max_instances,
            replace_existing=True,
            **({"next_run_time": now} if job.run_at_start else {}),
        )
    scheduler.add_job(
        _request_poll(bridge, leadership, scheduler),
        trigger=IntervalTrigger(seconds=request_poll_seconds, timezone=settings.tz),
        id="sync_requests",
        name="sync_requests",
        executor="poll",
        misfire_grace_time=max(1, int(request_poll_seconds)),
        coalesce=True,
        max_instances=1,
    )
    leadership.start()
    scheduler.leadership = leadership
    if not background:
        try:
            scheduler.start()  # returns at shutdown
        except KeyboardInterrupt:
            pass  # Ctrl+C, or a service manager's stop (the scheduler command makes SIGTERM one)
        finally:
            leadership.stop()
        return scheduler
    original = scheduler.shutdown

    def shutdown(wait: bool = True) -> None:
        try:
            original(wait=wait)
        finally:
            leadership.stop()

    scheduler.shutdown = shutdown
    scheduler.start()
    return scheduler
