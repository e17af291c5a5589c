"""One page of a grid as the user gets it: the rows and every link its template draws, and the
response in the format the URL asks for (HTML, JSON, CSV, XLSX) or a 400 naming a bad parameter."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from flask import Flask, Response, redirect, render_template, request
from markupsafe import Markup, escape

from . import grid_export
from .filter_builder import Condition, describe_filter, junction, render_filter
from .grid_filters import GridError, render_value
from .grid_state import BUILDER_PARAMS, FORMATS, PAGE_SIZES, GridState

if TYPE_CHECKING:
    from .grid import Grid, GridColumn

Row = Mapping[str, Any]


class GridPage:
    """One page of a grid plus everything its template needs to draw links."""

    def __init__(self, grid: Grid, state: GridState) -> None:
        self.grid = grid
        self.state = state
        self.rows: list[dict[str, Any]] = []
        self.total = 0
        self.capped = False  # more rows match than were counted: total is a lower bound
        self.page = state.page
        self.pages = 1
        self.page_size = state.page_size
        self.truncated = False
        self.redirect_params: dict[str, str | None] | None = None
        self.cursor_of: Callable[[Row], str] | None = None
        # column -> (value, rows holding it or None) for the header drop-downs (Grid.fetch)
        self.choices: dict[str, list[tuple[Any, int | None]]] = {}
        # the request's own parameters, read once per page: every link and form starts from them
        self._args: list[tuple[str, list[str]]] | None = None

    # -- state, as the template shows it
    @property
    def sort_key(self) -> str:
        return self.state.sort_key

    @property
    def sort_desc(self) -> bool:
        return self.state.desc

    @property
    def q(self) -> str:
        return self.state.q

    @property
    def cells(self) -> dict[str, str]:
        return self.state.cells

    @property
    def format(self) -> str:
        return self.state.format

    @property
    def columns(self) -> list[GridColumn]:
        """The columns the page shows, in the column chooser's order (when none chosen, those
        not hidden by default)."""
        if not self.state.shown:
            return [c for c in self.grid.columns if not c.hidden]
        return [self.grid.by_key[k] for k in self.state.shown]

    @property
    def column_choices(self) -> list[tuple[GridColumn, bool, str | None, str | None]]:
        """(column, shown, URL moving it left, URL moving it right) for the column chooser:
        the shown columns in their order, then the hidden ones."""
        shown = [c.key for c in self.columns]
        out: list[tuple[GridColumn, bool, str | None, str | None]] = []
        for i, key in enumerate(shown):
            left = right = None
            if i > 0:
                order = [*shown[: i - 1], key, shown[i - 1], *shown[i + 1 :]]
                left = self.url(cols=",".join(order))
            if i < len(shown) - 1:
                order = [*shown[:i], shown[i + 1], key, *shown[i + 2 :]]
                right = self.url(cols=",".join(order))
            out.append((self.grid.by_key[key], True, left, right))
        out += [(c, False, None, None) for c in self.grid.columns if c.key not in shown]
        return out

    def choice_items(self, key: str) -> list[tuple[str, str, str, bool]]:
        """(value, text, count text, ticked) of a column's header drop-down."""
        picked = set(self.state.picked.get(key, ()))
        column = self.grid.by_key[key]
        out = []
        for value, count in self.choices.get(key, ()):
            raw = "" if value is None else str(value)
            counted = "" if count is None else f"{count:,}"
            out.append((raw, column.text(value), counted, raw in picked))
        return out

    @property
    def filter_text(self) -> str:
        node = self.state.filter
        return render_filter(node, self.grid.kinds) if node is not None else ""

    @property
    def filter_parts(self) -> list[tuple[str, str]]:
        """(text with column labels, URL without it) for each top-level AND condition of the
        filter, so one can be removed; an OR group is one part."""
        node = self.state.filter
        if node is None:
            return []
        labels = {c.key: c.label for c in self.grid.columns}
        if isinstance(node, Condition) or node.op == "OR":
            return [(describe_filter(node, self.grid.kinds, labels), self.url(filter=None, page=None))]
        parts = list(node.parts)
        out = []
        for i, part in enumerate(parts):
            rest = parts[:i] + parts[i + 1 :]
            left = render_filter(junction("AND", rest), self.grid.kinds) if rest else None
            text = describe_filter(part, self.grid.kinds, labels, nested=True)
            out.append((text, self.url(filter=left, page=None)))
        return out

    @property
    def chips(self) -> list[tuple[str, str]]:
        """(what, URL without it) for every condition narrowing the list: the search, each Filter
        Row cell, each header drop-down's ticked values and each part of the filter."""
        out = []
        if self.q:
            out.append((f'Search "{self.q}"', self.url(q=None, page=None)))
        for key, text in self.cells.items():
            out.append((f"{self.grid.by_key[key].label}: {text}", self.url(page=None, **{f"f_{key}": None})))
        for key, values in self.state.picked.items():
            column = self.grid.by_key[key]
            shown = ", ".join(v or "—" for v in values)
            out.append((f"{column.label}: {shown}", self.url(page=None, **{f"in_{key}": None})))
        return out + self.filter_parts

    @property
    def clear_all_url(self) -> str:
        return self.url(q=None, filter=None, page=None, **self.cleared_cells)

    @property
    def filter_example(self) -> str:
        """A Create Filter example made of this grid's own columns and values."""
        texts = [c for c in self.grid.filterable if c.type == "text"]
        picked = next((c for c in texts if c.choices), texts[0] if texts else None)
        others = [c for c in self.grid.filterable if c.type in ("number", "date", "datetime")]
        parts = []
        if picked is not None:
            values = [v for v, _ in self.choices.get(picked.key, ()) if v]
            parts.append(f"{picked.key} = {render_value('text', str(values[0]) if values else 'text')}")
        if others:
            other = others[0]
            parts.append(f"{other.key} > 0" if other.type == "number" else f"{other.key} >= 2026-01-01")
        if len(texts) > 1 and texts[-1] is not picked:
            parts.append(f'{texts[-1].key} contains "a"')
        if len(parts) >= 3:
            return f"{parts[0]} AND ({parts[1]} OR {parts[2]})"
        return " AND ".join(parts)

    @property
    def reference(self) -> str:
        noun = "row" if self.total == 1 else "rows"
        more = "+" if self.capped else ""
        return f"Page {self.page:,} of {self.pages:,}{more} ({self.total:,}{more} {noun})"

    @property
    def reference_count(self) -> str:
        """The rows the list has, as a tab's badge says it: "2,391", or "10,000+" when capped."""
        return f"{self.total:,}+" if self.capped else f"{self.total:,}"

    @property
    def first_row(self) -> int:
        return (self.page - 1) * self.page_size + 1 if self.rows else 0

    @property
    def page_sizes(self) -> list[int]:
        sizes = {s for s in PAGE_SIZES if s <= self.state.max_page_size} | {self.page_size}
        return sorted(sizes)

    def sort_url(self, key: str) -> str:
        spec = "-" + key if key == self.sort_key and not self.sort_desc else key
        return self.url(sort=spec, page=None)

    def aria_sort(self, key: str) -> str:
        if key != self.sort_key:
            return "none"
        return "descending" if self.sort_desc else "ascending"

    def body_rows(self) -> list[Markup]:
        """Each row's ``<td>`` cells as escaped HTML, formatted here in one pass: through the
        template, the per-cell calls (text, link, css) cost as much as the query."""
        words = self.q.split()
        # the search box's words marked where they show (in the columns it searches)
        found = re.compile("|".join(re.escape(w) for w in words), re.IGNORECASE) if words else None
        columns = [
            (c.key, f"col-{c.type}", c.css, c.link, c.text, found if c.is_searchable else None)
            for c in self.columns
        ]
        out = []
        for row in self.rows:
            cells = []
            for key, cls, css_of, link_of, text_of, marks in columns:
                css = css_of(row) if css_of else None
                href = link_of(row) if link_of else None
                klass = f"{cls} {_html(css)}" if css else cls
                plain = text_of(row[key])
                text = _marked(plain, marks) if marks else _html(plain)
                # a text cell may end in "…" on screen: its tooltip holds all of it
                tip = f' title="{_html(plain)}"' if cls == "col-text" and len(plain) > 12 else ""
                if href:
                    cells.append(
                        f'\n        <td class="{klass}"{tip}><a href="{_html(href)}">{text}</a></td>'
                    )
                else:
                    cells.append(f'\n        <td class="{klass}"{tip}>{text}</td>')
            out.append(Markup("".join(cells)))
        return out

    def headers(self) -> list[tuple[GridColumn, str, str | None, str]]:
        """(column, aria-sort, sort link or None, sort mark) for each header cell."""
        out = []
        for c in self.columns:
            mark = ""
            if c.key == self.sort_key:
                mark = " ▼" if self.sort_desc else " ▲"
            out.append((c, self.aria_sort(c.key), self.sort_url(c.key) if c.sortable else None, mark))
        return out

    # -- links; all keep unrelated parameters
    def _request_args(self) -> list[tuple[str, list[str]]]:
        if self._args is None:
            self._args = list(request.args.lists())
        return self._args

    def url(self, **changes: Any) -> str:
        """This URL with ``changes`` (None removes); cursors and builder fields never carry over."""
        params: dict[str, list[str]] = {
            k: v for k, v in self._request_args() if k not in ("after", "before", *BUILDER_PARAMS)
        }
        for key, value in changes.items():
            if value is None or value == "":
                params.pop(key, None)
            else:
                params[key] = [str(value)]
        query = urlencode([(k, v) for k, vs in params.items() for v in vs])
        return request.script_root + request.path + ("?" + query if query else "")

    def hidden(self, *exclude: str) -> list[tuple[str, str]]:
        """(name, value) pairs a GET form carries so submitting keeps the rest of the state."""
        skip = {"page", "after", "before", "format", *BUILDER_PARAMS, *exclude}
        return [(k, v) for k, vs in self._request_args() for v in vs if k not in skip]

    @property
    def row_hidden(self) -> list[tuple[str, str]]:
        # a hidden column's Filter Row cell is not on the page: its filter rides along
        return self.hidden(*(f"f_{c.key}" for c in self.columns if c.filterable))

    @property
    def cleared_cells(self) -> dict[str, None]:
        picked = {f"in_{c.key}": None for c in self.grid.columns if c.choices}
        return {**{f"f_{key}": None for key in self.grid.kinds}, **picked}

    def tab_url(self, tab: str, *drop: str) -> str:
        """This page's URL on another tab of its grid: the search, Filter Row, filter, page size
        and a chosen sort carry over (they apply there too), save the parameters in ``drop``;
        the page starts again at 1."""
        skip = {"tab", "page", "after", "before", "format", *BUILDER_PARAMS, *drop}
        params = [("tab", tab)] + [(k, v) for k, vs in self._request_args() for v in vs if k not in skip]
        return request.script_root + request.path + "?" + urlencode(params)

    def export_url(self, fmt: str) -> str:
        return self.url(format=fmt, page=None)

    @property
    def next_url(self) -> str | None:
        beyond = self.capped and len(self.rows) == self.page_size  # the count stopped short
        if (self.page >= self.pages and not beyond) or not self.rows or self.cursor_of is None:
            return None
        return self.url(page=self.page + 1, after=self.cursor_of(self.rows[-1]))

    @property
    def prev_url(self) -> str | None:
        if self.page <= 1:
            return None
        if self.page == 2 or not self.rows or self.cursor_of is None:
            return self.page_url(self.page - 1)
        return self.url(page=self.page - 1, before=self.cursor_of(self.rows[0]))

    @property
    def page_links(self) -> list[tuple[int | None, str | None]]:
        """The numbered page buttons, (number, URL): the first, the last (when the count is
        exact), the current page and two either side; (None, None) for a gap ("…")."""
        last = self.pages
        numbers = {1, *range(self.page - 2, self.page + 3)}
        if not self.capped:
            numbers.add(last)
        out: list[tuple[int | None, str | None]] = []
        before = 0
        for number in sorted(n for n in numbers if 1 <= n <= max(last, self.page)):
            if number - before > 1:
                out.append((None, None))
            out.append((number, self.page_url(number)))
            before = number
        return out

    def page_url(self, number: int) -> str:
        return self.url(page=number if number > 1 else None)

    @property
    def last_url(self) -> str:
        # past a capped count only the last page itself knows its number
        return self.url(page="last") if self.capped else self.page_url(self.pages)

    def as_json(self, as_of: dt.datetime | dt.date | None) -> dict[str, Any]:
        keys = [c.key for c in self.grid.columns]
        return {
            "rows": [{k: grid_export.json_value(row[k]) for k in keys} for row in self.rows],
            "total": self.total,
            "capped": self.capped,
            "page": self.page,
            "pages": self.pages,
            "page_size": self.page_size,
            "next": self.next_url,
            "as_of": as_of.isoformat() if as_of is not None else None,
        }


def _marked(text: str, found: re.Pattern[str]) -> str:
    """``text`` escaped, each match of ``found`` in a <mark>."""
    out, start = [], 0
    for match in found.finditer(text):
        if match.end() > match.start():
            out += [_html(text[start : match.start()]), "<mark>", _html(match.group()), "</mark>"]
            start = match.end()
    out.append(_html(text[start:]))
    return "".join(out)


def _html(value: Any) -> str:
    """``value`` escaped as Jinja's autoescape would; plain text (nearly every cell) without
    building a Markup object per cell."""
    if type(value) is str:
        return (
            value.replace("&", "&amp;")
            .replace(">", "&gt;")
            .replace("<", "&lt;")
            .replace("'", "&#39;")
            .replace('"', "&#34;")
        )
    return str(escape(value))


def wants_json() -> bool:
    """JSON when ``format=json``, or when no format is named and the client accepts JSON first."""
    named = request.args.get("format", "").strip().lower()
    if named in FORMATS:
        return named == "json"
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def grid_response(
    grid: Grid, page: GridPage, *, template: str, as_of: dt.datetime | dt.date | None = None, **context: Any
) -> Response:
    """The page as HTML (template includes ``_grid.html``), JSON, CSV or XLSX, as the URL asks."""
    if page.redirect_params is not None:
        return redirect(page.url(**page.redirect_params), code=303)  # type: ignore[return-value]
    if page.format == "csv":
        return grid_export.csv_response(grid, page, as_of)
    if page.format == "xlsx":
        return grid_export.xlsx_response(grid, page, as_of)
    if wants_json():
        return grid_export.json_response(page.as_json(as_of))
    html = render_template(template, grid=grid, page=page, as_of=as_of, **context)
    return Response(html, mimetype="text/html")


def grid_error_response(exc: GridError) -> Response:
    """400 naming the bad parameter: JSON for JSON clients, else a page with a way back."""
    if wants_json():
        response = grid_export.json_response({"error": exc.description, "parameter": exc.param})
    else:
        retry = _url_without({exc.param: None, "page": None})
        try:
            html = render_template("_grid_error.html", error=exc, retry_url=retry)
        except Exception:  # the layout itself failed: the message still has to reach the user
            html = f"<!doctype html><title>Bad request</title><p>{escape(exc.description)}</p>"
        response = Response(html, mimetype="text/html")
    response.status_code = 400
    return response


def _url_without(changes: dict[str, None]) -> str:
    params = [(k, v) for k, vs in request.args.lists() for v in vs if k not in changes]
    params = [(k, v) for k, v in params if k not in ("after", "before", *BUILDER_PARAMS)]
    return request.script_root + request.path + ("?" + urlencode(params) if params else "")


def register_grid_errors(app: Flask) -> None:
    """Answer every GridError raised by a view with grid_error_response."""
    app.register_error_handler(GridError, grid_error_response)
