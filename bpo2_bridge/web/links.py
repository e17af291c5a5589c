"""Links to one endpoint for many rows, built once and filled in per row.

``url_for`` walks the URL map on every call (about 25 µs); the Home lists show up to 400 rows
with two links each, so building their links cost as much as the rest of the page. A
``LinkFor`` builds the URL once with a marker for the row's key and then splices each row's
value in, quoted exactly as werkzeug quotes a path segment.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask import g, url_for

# stands for the row's value while the URL is built: letters only, so quoting leaves it as it is
MARKER = "bpo2rowkeymarker"
# werkzeug's BaseConverter.to_url: https://url.spec.whatwg.org/#url-path-segment-string
PATH_SAFE = "!$&'()*+,/:;=@"


class LinkFor:
    """``LinkFor(endpoint, key, **values)(row_value) == url_for(endpoint, **{key: row_value},
    **values)``, for a ``key`` in the endpoint's path."""

    def __init__(self, endpoint: str, key: str, **values: Any) -> None:
        url = url_for(endpoint, **{key: MARKER, **values})
        head, found, tail = url.partition(MARKER)
        if not found or "?" in head or MARKER in tail:
            raise ValueError(f"{endpoint}: {key} is not a path argument of its URL")
        self.head, self.tail = head, tail

    def __call__(self, value: Any) -> str:
        return self.head + quote(str(value), safe=PATH_SAFE) + self.tail


def row_link(endpoint: str, key: str, value: Any, **values: Any) -> str:
    """``url_for(endpoint, **{key: value}, **values)`` for a grid row: the rows of one request
    share the ``LinkFor`` of their (endpoint, key, values)."""
    made: dict[tuple[Any, ...], LinkFor] = g.setdefault("bpo2_row_links", {})
    which = (endpoint, key, *sorted(values.items()))
    link = made.get(which)
    if link is None:
        link = made[which] = LinkFor(endpoint, key, **values)
    return link(value)
