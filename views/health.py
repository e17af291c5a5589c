"""Health and metrics: open to the load balancer and Prometheus without sign-in.

Neither shows personal data: /healthz says whether the cache answers and how fresh it is;
/metrics carries counts and timings labelled by endpoint, sync kind and entity only.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from bpo2_bridge.web import metrics as web_metrics
from bpo2_bridge.web.context import current_bridge

bp = Blueprint("health", __name__)


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
    """Prometheus text exposition: request latency by endpoint, syncs, emails, process."""
    return web_metrics.render()
