"""Health and metrics: open to the load balancer and Prometheus without sign-in."""

from __future__ import annotations

import time

from flask import Blueprint, Response, jsonify

from bpo2_bridge.web.context import current_bridge

bp = Blueprint("health", __name__)
_STARTED = time.time()


@bp.get("/healthz")
def healthz():  # type: ignore[no-untyped-def]
    """200 when the cache answers; 503 otherwise (no data is shown)."""
    bridge = current_bridge()
    try:
        as_of = bridge.cache.as_of()
        ok = True
    except Exception:
        as_of, ok = None, False
    body = {"status": "ok" if ok else "unavailable", "as_of": as_of.isoformat() if as_of else None}
    return jsonify(body), (200 if ok else 503)


@bp.get("/metrics")
def metrics() -> Response:
    bridge = current_bridge()
    lines = [
        "# HELP bpo2_bridge_up 1 while the web process serves.",
        "# TYPE bpo2_bridge_up gauge",
        "bpo2_bridge_up 1",
        "# HELP bpo2_bridge_uptime_seconds Seconds since the web process started.",
        "# TYPE bpo2_bridge_uptime_seconds gauge",
        f"bpo2_bridge_uptime_seconds {time.time() - _STARTED:.0f}",
    ]
    try:
        as_of = bridge.cache.as_of()
    except Exception:
        as_of = None
    if as_of is not None:
        now = bridge.settings.now()
        naive = as_of.astimezone(bridge.settings.tz).replace(tzinfo=None) if as_of.tzinfo else as_of
        lines += [
            "# HELP bpo2_bridge_cache_age_seconds Seconds since the data shown was synced.",
            "# TYPE bpo2_bridge_cache_age_seconds gauge",
            f"bpo2_bridge_cache_age_seconds {max(0.0, (now - naive).total_seconds()):.0f}",
        ]
    try:
        failed = 1 if bridge.cache.last_failure() else 0
    except Exception:
        failed = 1
    lines += [
        "# HELP bpo2_bridge_last_sync_failed 1 when the last sync failed.",
        "# TYPE bpo2_bridge_last_sync_failed gauge",
        f"bpo2_bridge_last_sync_failed {failed}",
    ]
    return Response("\n".join(lines) + "\n", mimetype="text/plain; version=0.0.4")
