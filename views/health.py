"""Health and metrics: open to the load balancer and Prometheus without sign-in.

Neither shows personal data: /healthz says whether the serving snapshot can be read and how
fresh it is; /metrics carries counts and timings labelled by endpoint, sync kind and entity only.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from bpo2_bridge.cache.snapshots import CacheMissing
from bpo2_bridge.source.engines import first_line
from bpo2_bridge.web import metrics as web_metrics
from bpo2_bridge.web.context import current_bridge

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():  # type: ignore[no-untyped-def]
    """200 when the serving snapshot answers a small query; 503 with the reason otherwise, so a
    load balancer takes the host out (no data is shown)."""
    bridge = current_bridge()
    as_of, reason = None, None
    try:
        as_of = bridge.cache.as_of()
    except Exception as exc:
        reason = f"the application store cannot be read: {first_line(exc)}"
    if reason is None:
        try:
            bridge.cache.check()
        except CacheMissing as exc:
            reason = str(exc)
        except Exception as exc:
            reason = f"the cache snapshot cannot be read: {first_line(exc)}"
    body = {"status": "unavailable" if reason else "ok", "as_of": as_of.isoformat() if as_of else None}
    if reason:
        body["reason"] = reason
    return jsonify(body), (503 if reason else 200)


@bp.get("/metrics")
def metrics() -> Response:
    """Prometheus text exposition: request latency by endpoint, syncs, emails, process."""
    return web_metrics.render()
