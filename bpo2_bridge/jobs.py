"""The scheduled jobs: plain functions of a Bridge, listed once with their triggers.

Every job can be run by hand (`bpo2-bridge sync …`, `bpo2-bridge checks run`,
`bpo2-bridge prune`) and is tested without the scheduler. The scheduler options are chosen
per job:

- ``max_instances = 1`` everywhere: a job never overlaps itself. Jobs also never overlap each
  other, because the scheduler runs them on a single worker thread, and syncs started by hand
  wait for nobody but refuse while the store's sync lock is held.
- ``coalesce = True`` everywhere: after downtime or a long full sync, the missed runs of a job
  collapse into one run, never a burst.
- ``misfire_grace_time``: how late a run may still start. Incremental sync: half its interval
  (a later run would nearly meet the next one anyway). Nightly full sync: 3 hours (a host
  rebooted at 02:00 still gets its full sync before the working day). Checks: 1 hour; the
  hourly schema check: half an hour.
  Pruning: 12 hours (it only keeps the store small; any time of the day will do). Weekly
  digest: 12 hours (the same day).
- ``enabled``: the weekly digest is scheduled only while ``digest_enabled`` is on.
- ``retry``: the incremental sync is retried after a failure (BPO2 unreachable at start or
  lost later) at 30 s, 60 s, 120 s … capped at its interval, so the cache catches up soon after
  BPO2 is back. A failed nightly full sync needs no retry: the previous snapshot keeps serving
  and the incremental sync (which rebuilds a missing cache) keeps it current.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from .settings import Settings

if TYPE_CHECKING:
    from .bridge import Bridge

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    name: str
    trigger: Callable[[Settings], BaseTrigger]
    func: Callable[[Bridge], Any]
    misfire_grace_time: Callable[[Settings], int]
    coalesce: bool = True
    max_instances: int = 1
    run_at_start: bool = False  # also once when the scheduler starts (a fresh cache after restart)
    retry: bool = False  # after a failure, retry with backoff instead of waiting a whole interval
    help: str = ""
    # scheduled only while this says so (a job an administrator switches on in the settings)
    enabled: Callable[[Settings], bool] = lambda settings: True


def _daily(setting: str) -> Callable[[Settings], BaseTrigger]:
    """A trigger factory firing every day at the HH:MM the named setting holds."""

    def trigger(settings: Settings) -> BaseTrigger:
        hour, minute = _at(getattr(settings, setting))
        return CronTrigger(hour=hour, minute=minute, timezone=settings.tz)

    return trigger


def _weekly(day_setting: str, time_setting: str) -> Callable[[Settings], BaseTrigger]:
    """A trigger factory firing once a week, on the day and at the HH:MM the settings hold."""

    def trigger(settings: Settings) -> BaseTrigger:
        hour, minute = _at(getattr(settings, time_setting))
        day = getattr(settings, day_setting)[:3]  # monday -> mon, as cron spells it
        return CronTrigger(day_of_week=day, hour=hour, minute=minute, timezone=settings.tz)

    return trigger


def _at(text: str) -> tuple[int, int]:
    moment = dt.time.fromisoformat(text)
    return moment.hour, moment.minute


def run_incremental(bridge: Bridge) -> Any:
    from .sync import incremental_sync

    result = incremental_sync(bridge)
    log.info("incremental sync %s: %.1f s", result.kind, result.seconds)
    return result


def run_full(bridge: Bridge) -> Any:
    from .sync import full_sync

    result = full_sync(bridge)
    log.info("full sync: %.1f s, %d rows", result.seconds, sum(result.rows.values()))
    return result


def run_counts(bridge: Bridge) -> Any:
    from .sync.derived import recount_now

    recount_now(bridge)
    log.info("contract counts and profitability computed for %s", bridge.today())


def run_checks(bridge: Bridge) -> Any:
    from .checks.canned import run_checks as run_all

    return run_all(bridge, triggered_by="scheduler")


def run_schema_check(bridge: Bridge) -> Any:
    from .store.schema_checks import check_and_save

    check = check_and_save(bridge.source, bridge.mapping, bridge.store, bridge.settings.now(), "scheduler")
    if not check.reachable:
        log.warning("schema check: %s", check.error)
    elif check.problems:
        log.warning("schema check: %d problem(s) in the mapped schema", len(check.problems))
    return check


def run_prune(bridge: Bridge) -> Any:
    from .store.retention import prune_history

    result = prune_history(bridge)
    log.info("pruned %d sync runs and %d sign-in attempts", result.sync_runs, result.login_attempts)
    return result


def run_digest(bridge: Bridge) -> Any:
    from .renewals.digest import run_job

    return run_job(bridge)


JOBS: tuple[Job, ...] = (
    Job(
        "incremental_sync",
        lambda s: IntervalTrigger(minutes=s.incremental_interval_minutes, timezone=s.tz),
        run_incremental,
        misfire_grace_time=lambda s: max(30, s.incremental_interval_minutes * 30),
        run_at_start=True,
        retry=True,
        help="Apply BPO2's changes to the cache every incremental_interval_minutes.",
    ),
    Job(
        "full_sync",
        _daily("full_sync_time"),
        run_full,
        misfire_grace_time=lambda s: 3 * 3600,
        help="Rebuild the cache from BPO2 every night at full_sync_time.",
    ),
    Job(
        "contract_counts",
        # just after local midnight: the customers' Active and Expiring counts and the contracts'
        # last-12-months profitability move with the date
        lambda s: CronTrigger(hour=0, minute=1, timezone=s.tz),
        run_counts,
        misfire_grace_time=lambda s: 23 * 3600,
        help=(
            "Count every customer's active and expiring contracts and compute every contract's "
            "last-12-months profitability again for the new day, after local midnight."
        ),
    ),
    Job(
        "sql_checks",
        _daily("checks_time"),
        run_checks,
        misfire_grace_time=lambda s: 3600,
        help="Run the canned SQL checks on BPO2 every day at checks_time.",
    ),
    Job(
        "schema_check",
        # catalogue queries only (a second or so on SQL Server): hourly keeps the Status page's
        # answer recent without the page ever reaching BPO2
        lambda s: IntervalTrigger(hours=1, timezone=s.tz),
        run_schema_check,
        misfire_grace_time=lambda s: 1800,
        help="Check the mapped BPO2 tables and columns every hour and store the result for the Status page.",
    ),
    Job(
        "prune_history",
        _daily("prune_time"),
        run_prune,
        misfire_grace_time=lambda s: 12 * 3600,
        help="Delete sync runs older than history_days and old sign-in attempts every day at prune_time.",
    ),
    Job(
        "expiry_digest",
        _weekly("digest_day", "digest_time"),
        run_digest,
        # a host down at the hour still sends the week's digest the same day
        misfire_grace_time=lambda s: 12 * 3600,
        enabled=lambda s: bool(s.digest_enabled),
        help="Email every salesman the weekly expiry digest on digest_day at digest_time, while digest_enabled is on.",
    ),
)

BY_NAME: MappingProxyType[str, Job] = MappingProxyType({job.name: job for job in JOBS})


def next_runs(
    settings: Settings,
    jobs: tuple[Job, ...] = JOBS,
    now: dt.datetime | None = None,
    last_started: dict[str, dt.datetime] | None = None,
) -> dict[str, dt.datetime | None]:
    """When each job fires next by its trigger: interval jobs one interval after their last
    start (`last_started`, aware datetimes) or after `now`, cron jobs at their next time."""
    now = now or dt.datetime.now(settings.tz)
    out: dict[str, dt.datetime | None] = {}
    for job in jobs:
        if not job.enabled(settings):
            continue
        trigger = job.trigger(settings)
        if isinstance(trigger, IntervalTrigger):
            last = (last_started or {}).get(job.name)
            step = trigger.interval
            out[job.name] = last + step if last is not None and last + step > now else now + step
        else:
            out[job.name] = trigger.get_next_fire_time(None, now)
    return out


# the interval jobs whose last start the sync history records, and the kind of run they record
_RECORDED_KINDS = (("incremental_sync", "incremental"), ("full_sync", "full"))


def upcoming(
    bridge: Bridge, jobs: tuple[Job, ...] = JOBS, now: dt.datetime | None = None
) -> dict[str, dt.datetime | None]:
    """`next_runs` as ops see them: from the settings, with interval jobs counted from their
    last recorded start. Needs no running scheduler (`serve --no-scheduler` shows them too)."""
    from .sync import history

    settings = bridge.settings
    last_started = {}
    for job, kind in _RECORDED_KINDS:
        runs = history.recent(bridge.store, 1, kind=kind)
        if runs:
            last_started[job] = runs[0]["started_at"].replace(tzinfo=settings.tz)
    return next_runs(settings, jobs, now=now, last_started=last_started)
