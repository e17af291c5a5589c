"""Prometheus metrics and the request log.

Per request (before/after_request hooks): a latency histogram and a request counter labelled
by Flask endpoint and method (the endpoint, not the path, so account numbers never become
labels and the label set stays bounded), and one log line with method, path, status and
duration. At scrape time, from the application store: the last sync of each kind (duration,
when), runs and failures per kind, rows per entity of the last full sync, and emails by
outcome. Those store figures are read at most once per `STORE_TTL` seconds, so frequent
scrapes from several Prometheus servers cost the store nothing more.

Every app has its own registry (app.extensions["bpo2_metrics"]): test apps never collide.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from ..store.database import email_log, sync_runs
from .context import EXTENSION_KEY as BRIDGE_KEY

if TYPE_CHECKING:
    from ..bridge import Bridge

METRICS_KEY = "bpo2_metrics"
PREFIX = "bpo2_bridge"
STORE_TTL = 10.0  # seconds a store reading is reused
# the grid target is p99 < 300 ms: keep bucket edges on both sides of it
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
STATUSES = ("ok", "failed")

request_log = logging.getLogger("bpo2_bridge.request")

# the *_created series double the exposition for no use on a long-running server
disable_created_metrics()


@dataclass
class Metrics:
    registry: CollectorRegistry
    latency: Histogram
    requests: Counter
    store: StoreCollector


def init_app(app: Flask) -> Metrics:
    """Time every request of `app`, log it, and keep the registry /metrics renders."""
    registry = CollectorRegistry()
    metrics = Metrics(
        registry=registry,
        latency=Histogram(
            f"{PREFIX}_http_request_duration_seconds",
            "Time to answer a request (until the response starts), by endpoint.",
            ("endpoint", "method"),
            buckets=BUCKETS,
            registry=registry,
        ),
        requests=Counter(
            f"{PREFIX}_http_requests",
            "Requests answered, by endpoint, method and status code.",
            ("endpoint", "method", "status"),
            registry=registry,
        ),
        store=StoreCollector(app),
    )
    registry.register(metrics.store)
    ProcessCollector(registry=registry)  # resident memory, CPU, open files (Linux only)
    GCCollector(registry=registry)  # the collector's passes by generation: full ones stop every thread
    app.extensions[METRICS_KEY] = metrics
    latency_children: dict[tuple[str, str], Any] = {}
    request_children: dict[tuple[str, str, int], Any] = {}

    @app.before_request
    def _start_clock() -> None:
        g.request_started = time.perf_counter()

    @app.after_request
    def _observe(response: Response) -> Response:
        started = g.pop("request_started", None)
        if started is None:  # a hook registered before ours answered: nothing to time
            return response
        seconds = time.perf_counter() - started
        endpoint = request.endpoint or "unmatched"
        method, status = request.method, response.status_code
        # the labelled children are looked up once per label set, not on every request
        timer = latency_children.get((endpoint, method))
        if timer is None:
            timer = latency_children[(endpoint, method)] = metrics.latency.labels(endpoint, method)
        counter = request_children.get((endpoint, method, status))
        if counter is None:
            counter = request_children[(endpoint, method, status)] = metrics.requests.labels(
                endpoint, method, str(status)
            )
        timer.observe(seconds)
        counter.inc()
        if request_log.isEnabledFor(logging.INFO):
            path = request.path
            request_log.info(
                "%s %s %s %.1f ms",
                method,
                path,
                status,
                seconds * 1000,
                extra={
                    "method": method,
                    "path": path,
                    "endpoint": endpoint,
                    "status": status,
                    "duration_ms": round(seconds * 1000, 2),
                    "remote_addr": request.remote_addr,
                },
            )
        return response

    return metrics


def render(app: Flask | None = None) -> Response:
    """The text exposition of every metric of `app` (default: the current app)."""
    metrics: Metrics = (app or current_app).extensions[METRICS_KEY]
    return Response(generate_latest(metrics.registry), content_type=CONTENT_TYPE_LATEST)


# -- read from the store at scrape time -------------------------------------------------------


@dataclass
class StoreReading:
    last: dict[str, tuple[float, float]] = field(default_factory=dict)  # kind -> (seconds, finished ts)
    runs: dict[tuple[str, str], int] = field(default_factory=dict)  # (kind, status) -> count
    running: dict[str, int] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)  # entity -> rows of the last full sync
    emails: dict[str, int] = field(default_factory=dict)  # outcome -> count
    cache_age: float | None = None
    last_failed: bool = False


class StoreCollector(Collector):
    """Sync and email figures, read from the store (and cached for STORE_TTL seconds)."""

    def __init__(self, app: Flask, ttl: float = STORE_TTL) -> None:
        self.app = app
        self.ttl = ttl
        self._lock = threading.Lock()
        self._reading: StoreReading | None = None
        self._read_at = 0.0
        self._store_up = 1
        self._started = time.time()

    def describe(self) -> list[Metric]:
        return []  # collected lazily: nothing touches the store at registration

    def reading(self) -> StoreReading | None:
        with self._lock:
            if self._reading is None or time.monotonic() - self._read_at >= self.ttl:
                try:
                    self._reading = read_store(self.app.extensions[BRIDGE_KEY])
                    self._store_up = 1
                except Exception:
                    logging.getLogger(__name__).warning("metrics: store unreadable", exc_info=True)
                    self._reading, self._store_up = None, 0
                self._read_at = time.monotonic()
            return self._reading

    def collect(self) -> Iterator[Metric]:
        alive = GaugeMetricFamily(f"{PREFIX}_up", "1 while the web process serves.")
        alive.add_metric([], 1)
        uptime = GaugeMetricFamily(f"{PREFIX}_uptime_seconds", "Seconds since the web app started.")
        uptime.add_metric([], time.time() - self._started)
        yield from (alive, uptime)
        reading = self.reading()
        up = GaugeMetricFamily(f"{PREFIX}_store_up", "1 when the application store answered the last read.")
        up.add_metric([], self._store_up)
        yield up
        if reading is None:
            return
        yield from _sync_metrics(reading)
        emails = CounterMetricFamily(
            f"{PREFIX}_emails", "Report emails by outcome (sent, failed, refused).", labels=["outcome"]
        )
        for outcome in sorted({"sent", "failed", *reading.emails}):
            emails.add_metric([outcome], reading.emails.get(outcome, 0))
        yield emails
        if reading.cache_age is not None:
            age = GaugeMetricFamily(f"{PREFIX}_cache_age_seconds", "Seconds since the data shown was synced.")
            age.add_metric([], reading.cache_age)
            yield age
        failed = GaugeMetricFamily(
            f"{PREFIX}_last_sync_failed", "1 when the latest full or incremental sync failed."
        )
        failed.add_metric([], 1 if reading.last_failed else 0)
        yield failed


def _sync_metrics(reading: StoreReading) -> Iterator[Metric]:
    kinds = sorted({kind for kind, _ in reading.runs} | set(reading.last) | {"full", "incremental"})
    duration = GaugeMetricFamily(
        f"{PREFIX}_sync_last_duration_seconds", "Duration of the last successful sync.", labels=["kind"]
    )
    finished = GaugeMetricFamily(
        f"{PREFIX}_sync_last_success_timestamp_seconds",
        "When the last successful sync finished (Unix time).",
        labels=["kind"],
    )
    for kind, (seconds, at) in sorted(reading.last.items()):
        duration.add_metric([kind], seconds)
        finished.add_metric([kind], at)
    runs = CounterMetricFamily(f"{PREFIX}_sync_runs", "Finished syncs by kind.", labels=["kind"])
    failures = CounterMetricFamily(f"{PREFIX}_sync_failures", "Failed syncs by kind.", labels=["kind"])
    running = GaugeMetricFamily(f"{PREFIX}_sync_running", "Syncs running now, by kind.", labels=["kind"])
    for kind in kinds:
        runs.add_metric([kind], sum(reading.runs.get((kind, s), 0) for s in STATUSES))
        failures.add_metric([kind], reading.runs.get((kind, "failed"), 0))
        running.add_metric([kind], reading.running.get(kind, 0))
    rows = GaugeMetricFamily(
        f"{PREFIX}_sync_rows", "Rows per entity written by the last successful full sync.", labels=["entity"]
    )
    for entity, count in sorted(reading.rows.items()):
        rows.add_metric([entity], count)
    yield from (duration, finished, runs, failures, running, rows)


def read_store(bridge: Bridge) -> StoreReading:
    """Four small aggregate queries on the store, plus the cache's freshness."""
    out = StoreReading()
    tz = bridge.settings.tz
    with bridge.store.connect() as conn:
        for kind, status, count in conn.execute(
            select(sync_runs.c.kind, sync_runs.c.status, func.count()).group_by(
                sync_runs.c.kind, sync_runs.c.status
            )
        ):
            if status == "running":
                out.running[kind] = count
            else:
                out.runs[(kind, status)] = count
        latest = (
            select(sync_runs.c.kind, func.max(sync_runs.c.id).label("id"))
            .where(sync_runs.c.status == "ok")
            .group_by(sync_runs.c.kind)
            .subquery()
        )
        for kind, started, ended, rows_json in conn.execute(
            select(
                sync_runs.c.kind, sync_runs.c.started_at, sync_runs.c.finished_at, sync_runs.c.rows_json
            ).join(latest, latest.c.id == sync_runs.c.id)
        ):
            if started is None or ended is None:
                continue
            out.last[kind] = ((ended - started).total_seconds(), _unix(ended, tz))
            if kind == "full" and rows_json:
                out.rows = {k: int(v) for k, v in json.loads(rows_json).items()}
        out.emails = dict(
            conn.execute(select(email_log.c.outcome, func.count()).group_by(email_log.c.outcome)).all()
        )
    as_of = bridge.cache.as_of()
    if as_of is not None:
        out.cache_age = max(0.0, time.time() - _unix(as_of, tz))
    out.last_failed = bridge.cache.last_failure() is not None
    return out


def _unix(moment: dt.datetime, tz: dt.tzinfo) -> float:
    """Store times are naive local times of the configured zone."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=tz)).timestamp()
