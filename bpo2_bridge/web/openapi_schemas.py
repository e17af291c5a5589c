"""JSON schemas of the grid pages and query parameters of the grid URLs, for the OpenAPI
description (:mod:`.openapi`), made from the same ``Grid`` objects the views use."""

from __future__ import annotations

from typing import Any

from ..queries.grid.columns import GridColumn
from ..queries.grid.cursor import MAX_CURSOR
from ..queries.grid.engine import Grid
from ..queries.grid.filters import HELP
from ..queries.grid.state import FORMATS, MAX_PARAM_LENGTH, MAX_SEARCH_TERMS
from .openapi_responses import DATETIME_PATTERN, frozen

LARGEST_WHOLE = 10**12 - 1  # the grid refuses longer page numbers
DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"


def column_schema(column: GridColumn) -> dict[str, Any]:
    """The JSON value of one grid column: typed per GridColumn.type, null when empty."""
    if column.type == "number":
        schema: dict[str, Any] = {"type": "number"}
    elif column.type == "bool":
        schema = {"type": "boolean"}
    elif column.type == "date":
        schema = {"type": "string", "format": "date", "pattern": DATE_PATTERN}
    elif column.type == "datetime":
        schema = {"type": "string", "pattern": DATETIME_PATTERN, "description": "local time, ISO 8601"}
    else:
        schema = {"type": "string"}
    schema["nullable"] = True
    schema["title"] = column.label
    return schema


def row_schema(grid: Grid | None, extra: tuple[GridColumn, ...] = ()) -> dict[str, Any]:
    if grid is None:
        return {"type": "object", "additionalProperties": True}
    columns = [*extra, *grid.columns]
    return {
        "type": "object",
        "properties": {c.key: column_schema(c) for c in columns},
        "required": [c.key for c in columns],
        "additionalProperties": False,
    }


def page_schema(grid: Grid | None, extra: tuple[GridColumn, ...] = ()) -> dict[str, Any]:
    """The JSON body of a grid URL."""
    count = {"type": "integer", "minimum": 0}
    return {
        "type": "object",
        "properties": {
            "rows": {"type": "array", "items": row_schema(grid, extra)},
            "total": {**count, "description": "rows matching the filters, all pages (at least, when capped)"},
            "capped": {
                "type": "boolean",
                "description": "counting stopped at grid_count_limit: more rows match than total",
            },
            "page": {"type": "integer", "minimum": 1},
            "pages": {"type": "integer", "minimum": 1},
            "page_size": {"type": "integer", "minimum": 1},
            "next": {
                "type": "string",
                "nullable": True,
                "description": "URL of the next page (keeps every parameter), null on the last page",
            },
            "as_of": {
                "type": "string",
                "nullable": True,
                "pattern": DATETIME_PATTERN,
                "description": "when the data shown was synced from BPO2",
            },
        },
        "required": ["rows", "total", "capped", "page", "pages", "page_size", "next", "as_of"],
        "additionalProperties": False,
    }


HEALTH_SCHEMA = frozen(
    {
        "type": "object",
        "properties": {
            "status": {"type": "string", "enum": ["ok", "unavailable"]},
            "as_of": {"type": "string", "nullable": True, "pattern": DATETIME_PATTERN},
            "reason": {"type": "string", "description": "why the host cannot serve (503 only)"},
        },
        "required": ["status"],
    }
)


def grid_parameters(grid: Grid | None) -> list[dict[str, Any]]:
    """page, page_size, sort, q, f_<col>, filter, after/before and format of one grid."""
    text = {"type": "string", "maxLength": MAX_PARAM_LENGTH}
    whole = {"type": "integer", "minimum": 1, "maximum": LARGEST_WHOLE}
    params: list[dict[str, Any]] = [
        {
            "name": "page",
            "in": "query",
            "description": "page number (past the last: the last), or `last` (counts every row)",
            "schema": {"oneOf": [whole, {"type": "string", "enum": ["last"]}]},
        },
        {
            "name": "page_size",
            "in": "query",
            "description": "rows per page (10/20/50/100/200 offered; capped at grid_max_page_size)",
            "schema": whole,
        },
    ]
    if grid is not None:
        sortable = [c.key for c in grid.columns if c.sortable]
        params.append(
            {
                "name": "sort",
                "in": "query",
                "description": f"a column, -column for descending (default {grid.default_sort})",
                "schema": {"type": "string", "enum": [s for k in sortable for s in (k, "-" + k)]},
            }
        )
        if any(c.is_searchable for c in grid.columns):
            params.append(
                {
                    "name": "q",
                    "in": "query",
                    "description": f"Filter Text Box: every word (at most {MAX_SEARCH_TERMS}) "
                    "in one of the text columns",
                    "schema": text,
                }
            )
        for column in grid.filterable:
            params.append(
                {
                    "name": f"f_{column.key}",
                    "in": "query",
                    "description": f"Filter Row cell for {column.label} ({column.type}): {HELP[column.type]}",
                    "schema": text,
                }
            )
        params.append(
            {
                "name": "filter",
                "in": "query",
                "description": 'Create Filter expression, e.g. status = "Active" AND (x < 0 OR y = "z"); '
                f"columns: {', '.join(grid.kinds)}",
                "schema": text,
            }
        )
    for name, description in (
        ("after", "cursor from `next`: the page after this row"),
        ("before", "cursor: the page before this row"),
    ):
        params.append(
            {
                "name": name,
                "in": "query",
                "description": description,
                "schema": {**text, "maxLength": MAX_CURSOR},
            }
        )
    params.append(
        {
            "name": "format",
            "in": "query",
            "description": "json, csv or xlsx (every filtered row); html by default, "
            "or json when Accept prefers application/json",
            "schema": {"type": "string", "enum": list(FORMATS)},
        }
    )
    return params
