"""/openapi.json: the OpenAPI description of the JSON endpoints, for signed-in users."""

from __future__ import annotations

from flask import Blueprint, Response, current_app

from bpo2_bridge.web.grid_export import json_response
from bpo2_bridge.web.openapi import build_openapi

bp = Blueprint("openapi", __name__)


@bp.get("/openapi.json")
def document() -> Response:
    # built once per app: grids and routes do not change while it runs
    doc = current_app.extensions.get("bpo2_openapi")
    if doc is None:
        doc = current_app.extensions["bpo2_openapi"] = build_openapi(current_app)
    return json_response(doc)
