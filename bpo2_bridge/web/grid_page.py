"""One page of a grid as the browser gets it: the engine's page (queries/grid/page.py) with every
link its template draws, its rows as HTML cells, and its JSON body."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from typing import Any
from urllib.parse import urlencode

from flask import request
from markupsafe import Markup, escape

from ..queries.grid.builder import Condition, describe_filter, junction, render_filter
from ..queries.grid.columns import GridColumn
from ..queries.grid.filters import render_value
from ..queries.grid.page import GridPage
from ..queries.grid.state import BUILDER_PARAMS, PAGE_SIZES
from ..values import json_value


class PageView(GridPage):
    """The engine's page plus everything its template needs to draw links; every link keeps the
    request's other parameters."""

    def __init__(self, page: GridPage) -> None:
        super().__init__(**{f.name: getattr(page, f.name) for f in dataclasses.fields(page)})
        # the request's own parameters, read once per page: every link and form starts from them
        self._args: list[tuple[str, list[str]]] | None = None

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
            "rows": [{k: json_value(row[k]) for k in keys} for row in self.rows],
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
