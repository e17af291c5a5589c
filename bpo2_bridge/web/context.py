"""Access to the running bridge from inside a request."""

from __future__ import annotations

from flask import current_app

from ..bridge import Bridge

EXTENSION_KEY = "bpo2_bridge"


def current_bridge() -> Bridge:
    """The Bridge of the app handling this request (settings, mapping, engines, cache)."""
    return current_app.extensions[EXTENSION_KEY]
