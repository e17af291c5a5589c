"""Responses the OpenAPI description shares: errors as JSON clients get them, and the
per-customer Refresh, the one form POST a JSON client may use (views/contracts.py)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any


def frozen(fragment: Mapping[str, Any]) -> MappingProxyType[str, Any]:
    """A fragment of the description made constant: mappings read-only, lists tuples, all the
    way down (they are shared by every document built)."""
    return MappingProxyType({key: _frozen(value) for key, value in fragment.items()})


def _frozen(value: Any) -> Any:
    if isinstance(value, Mapping):
        return frozen(value)
    if isinstance(value, (list, tuple)):
        return tuple(_frozen(v) for v in value)
    return value


def plain(value: Any) -> Any:
    """The description as JSON takes it, dicts and lists (json.dumps refuses a MappingProxyType):
    a copy, so the constant fragments stay as they are."""
    if isinstance(value, Mapping):
        return {key: plain(v) for key, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


# the cache's local times, ISO 8601; an offset appears only when the value carries one
DATETIME_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?$"

ERROR_SCHEMA = frozen(
    {
        "type": "object",
        "properties": {
            "error": {"type": "string", "description": "what is wrong (a bad parameter is named)"},
            "parameter": {"type": "string", "description": "the query parameter at fault, when one is"},
        },
        "required": ["error"],
    }
)

UNAVAILABLE_SCHEMA = frozen(
    {
        "type": "object",
        "properties": {
            "error": {
                "type": "string",
                "description": "BPO2 is unreachable, the cache is being rebuilt, or the query ran past "
                "the screen query time limit (screen_query_timeout)",
            },
            "detail": {"type": "string", "nullable": True, "description": "the reason in one line"},
            "as_of": {
                "type": "string",
                "nullable": True,
                "pattern": DATETIME_PATTERN,
                "description": "when the cached data was synced (BPO2 unreachable, or the time limit)",
            },
        },
        "required": ["error"],
    }
)

CHANGE_COUNTS = frozen(
    {
        "type": "object",
        "properties": {k: {"type": "integer", "minimum": 0} for k in ("added", "changed", "removed")},
        "required": ["added", "changed", "removed"],
    }
)

REFRESH_SCHEMA = frozen(
    {
        "type": "object",
        "properties": {
            "account_no": {"type": "string"},
            "refreshed_at": {"type": "string", "pattern": DATETIME_PATTERN, "description": "local time"},
            "changed": {"type": "boolean", "description": "whether any row was added, changed or removed"},
            "changes": {
                "type": "object",
                "description": "per entity with changes (entities without any are left out)",
                "additionalProperties": CHANGE_COUNTS,
            },
            "as_of": {"type": "string", "nullable": True, "pattern": DATETIME_PATTERN},
        },
        "required": ["account_no", "refreshed_at", "changed", "changes", "as_of"],
        "additionalProperties": False,
    }
)


def error_response(description: str, schema: Mapping[str, Any] = ERROR_SCHEMA) -> dict[str, Any]:
    """An error answered as JSON to JSON clients, as a page to browsers."""
    return {
        "description": description,
        "content": {"application/json": {"schema": schema}, "text/html": {"schema": {"type": "string"}}},
    }


SIGN_IN_REDIRECT = frozen({"description": "not signed in (browsers): to the sign-in page"})
NOT_SIGNED_IN = "not signed in (JSON clients)"


def refresh_operation(path_params: list[dict[str, Any]]) -> dict[str, Any]:
    """The Refresh button's form POST (views/contracts.py): re-read one customer from BPO2."""
    return {
        "operationId": "contracts_refresh",
        "summary": "Refresh: re-read one customer's rows from BPO2 now (a form POST with a CSRF token)",
        "description": "The Contracts page's Refresh button. Like every form, it needs the session's "
        "CSRF token: `csrf_token` from the page's form, sent as the `csrf_token` field or the "
        "`X-CSRFToken` header, with the session cookie. A browser is sent back to `next` (default: "
        "the customer's contracts) with a message saying what changed; a JSON client "
        "(`?format=json` or `Accept: application/json`) gets the changes as JSON.",
        "tags": ["refresh"],
        "parameters": [
            *path_params,
            {
                "name": "X-CSRFToken",
                "in": "header",
                "description": "the CSRF token, when it is not sent as the csrf_token field",
                "schema": {"type": "string"},
            },
        ],
        "requestBody": {
            "required": False,
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "csrf_token": {"type": "string", "description": "the form's CSRF token"},
                            "next": {
                                "type": "string",
                                "description": "same-site path to return a browser to",
                            },
                        },
                    }
                }
            },
        },
        "responses": {
            "200": {
                "description": "refreshed (JSON clients): what changed",
                "content": {"application/json": {"schema": REFRESH_SCHEMA}},
            },
            "302": {
                "description": "browsers: back to `next` with the outcome as a message (also when "
                "BPO2 is unreachable), or to the sign-in page when not signed in"
            },
            "400": error_response("the CSRF token is missing or stale (checked before sign-in)"),
            "401": error_response(NOT_SIGNED_IN),
            "404": error_response("no such customer, not one the user may see, or no longer in BPO2"),
            "503": error_response(
                "BPO2 unreachable (the cache keeps serving), or no cache yet", UNAVAILABLE_SCHEMA
            ),
        },
    }
