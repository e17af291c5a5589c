"""What one grid URL asks for, read from a plain mapping of parameter -> its values: every
parameter checked (GridError names a bad one), and the SQL conditions its search, Filter Row
and filter make."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import false, or_
from sqlalchemy.sql.elements import ColumnElement, False_

from .builder import Junction, Node, condition, filter_sql, junction, parse_filter, render_filter
from .filters import LABELS, GridError, cell_conditions, compare

if TYPE_CHECKING:
    from ...cache.search import TextSearch
    from .engine import Grid

PAGE_SIZES = (10, 20, 50, 100, 200)
MAX_PARAM_LENGTH = 2000
FORMATS = ("html", "json", "csv", "xlsx")
BUILDER_PARAMS = ("fb_column", "fb_op", "fb_value", "fb_join", "fb_target")
MAX_SEARCH_TERMS = 10
MAX_WHOLE = 10**9  # a page or page size past this is taken as this (the last page, the largest size)
# text tests whose matches hold the value itself: a search index over the column narrows them
NARROWED = ("contains", "startswith", "=")

# a URL's parameters: each name with its values in the order given (a Flask request's
# ``request.args.to_dict(flat=False)``)
Params = Mapping[str, Sequence[str]]

# per computed column: (operator, typed value) -> the same condition on stored columns, or
# None where the computed column itself must be compared
Equivalents = Mapping[str, Callable[[str, Any], "ColumnElement[bool] | None"]]


@dataclass
class GridState:
    """The grid parameters of one URL, each checked."""

    page: int = 1
    last: bool = False  # page=last: the last page, whatever its number (counts every row)
    page_size: int = 20
    sort_key: str = ""
    desc: bool = False
    q: str = ""
    cells: dict[str, str] = field(default_factory=dict)
    filter: Node | None = None
    after: str | None = None
    before: str | None = None
    format: str = "html"
    max_page_size: int = 200
    redirect: dict[str, str | None] | None = None
    picked: dict[str, list[str]] = field(default_factory=dict)  # in_<key>: values ticked in its header
    shown: tuple[str, ...] = ()  # the column chooser's columns, in order (empty: all, as declared)

    @property
    def sort_spec(self) -> str:
        return ("-" if self.desc else "") + self.sort_key

    @classmethod
    def parse(
        cls, grid: Grid, params: Params, max_page_size: int, default_sort: str | None = None
    ) -> GridState:
        try:
            return cls._parse(grid, params, max_page_size, default_sort)
        except GridError as exc:
            exc.label = label_of(grid, exc.param)
            raise

    @classmethod
    def _parse(cls, grid: Grid, params: Params, max_page_size: int, default_sort: str | None) -> GridState:
        if any(isinstance(values, str) for values in params.values()):
            # a name -> first value mapping (a MultiDict read as a Mapping) would read "20" as "2"
            raise TypeError("grid params map each name to a list of its values")

        def arg(name: str) -> str:
            values = params.get(name) or ("",)
            value = values[0]
            if len(value) > MAX_PARAM_LENGTH:
                raise GridError(name, f"too long (at most {MAX_PARAM_LENGTH} characters)")
            if "\x00" in value:
                raise GridError(name, "contains a NUL character")
            return value

        state = cls(max_page_size=max_page_size)
        if arg("page").strip().lower() == "last":
            state.last = True
        else:
            state.page = _whole(arg("page"), "page", 1) if arg("page").strip() else 1
        size = _whole(arg("page_size"), "page_size", 1) if arg("page_size").strip() else grid.page_size
        state.page_size = min(size, max_page_size)
        sort = arg("sort").strip() or default_sort or grid.default_sort
        state.desc, state.sort_key = sort.startswith("-"), sort.removeprefix("-")
        column = grid.by_key.get(state.sort_key)
        if state.sort_key not in grid.key and (column is None or not column.sortable):
            sortable = ", ".join(c.key for c in grid.columns if c.sortable)
            raise GridError("sort", f"cannot sort by {state.sort_key!r} (sortable: {sortable})")
        state.format = arg("format").strip().lower() or "html"
        if state.format not in FORMATS:
            raise GridError("format", f"unknown format {state.format!r} (use {', '.join(FORMATS)})")
        state.q = " ".join(arg("q").split())
        if state.q and not any(c.is_searchable for c in grid.columns):
            raise GridError("q", "this grid has no text columns to search")
        if len(state.q.split()) > MAX_SEARCH_TERMS:
            raise GridError("q", f"at most {MAX_SEARCH_TERMS} words")
        for name in params:
            if name.startswith("f_"):
                key = name[2:]
                if key not in grid.kinds:
                    raise GridError(name, f"no filterable column {key!r}")
                if arg(name).strip():
                    cell_conditions(grid.kinds[key], arg(name), name)  # checks the syntax now
                    state.cells[key] = arg(name).strip()
        state.filter = parse_filter(arg("filter"), grid.kinds)
        for name in params:
            if name.startswith("in_"):
                column = grid.by_key.get(name[3:])
                if column is None or not column.choices:
                    offered = ", ".join(f"in_{c.key}" for c in grid.columns if c.choices) or "none"
                    raise GridError(name, f"no column with values to tick {name[3:]!r} (offered: {offered})")
                values = list(params[name])
                if len(values) > 100 or any(len(v) > MAX_PARAM_LENGTH or "\x00" in v for v in values):
                    raise GridError(name, "too many or too long values")
                state.picked[column.key] = list(dict.fromkeys(values))
        state.shown = _shown(grid, list(params.get("cols", ())))
        state.after, state.before = arg("after").strip() or None, arg("before").strip() or None
        if state.after and state.before:
            raise GridError("after", "give after or before, not both")
        if any(arg(name).strip() for name in BUILDER_PARAMS):
            state.redirect = state.built(grid, {n: arg(n) for n in BUILDER_PARAMS})
        return state

    def built(self, grid: Grid, form: dict[str, str]) -> dict[str, str | None]:
        """URL changes that add the Create Filter form's condition to ``filter``."""
        key = form["fb_column"].strip()
        if key not in grid.kinds:
            raise GridError("fb_column", f"choose a column (not {key!r})")
        join = form["fb_join"].strip().upper() or "AND"
        if join not in ("AND", "OR"):
            raise GridError("fb_join", "choose AND or OR")
        op = form["fb_op"].strip().lower() or "="
        added: Node = condition(key, grid.kinds[key], op, form["fb_value"], "fb_value")
        target = form["fb_target"].strip().lower() or "filter"
        if target not in ("filter", "last"):
            raise GridError("fb_target", "choose the whole filter or its last condition")
        current = self.filter
        if current is None:
            node = added
        elif target == "last" and isinstance(current, Junction) and current.op != join:
            # a group: the new condition joins the filter's last part only ("A AND (B OR new)")
            last = junction(join, [current.parts[-1], added])
            node = Junction(current.op, (*current.parts[:-1], last))
        else:
            node = junction(join, [current, added])
        return {"filter": render_filter(node, grid.kinds), "page": None}

    def conditions(
        self,
        grid: Grid,
        columns: Any,
        like_ignores_case: bool,
        equivalents: Equivalents,
        search: TextSearch | None = None,
    ) -> list[ColumnElement[bool]]:
        """The SQL conditions of the Filter Row, the filter and the search box. With ``search``,
        a search word is tested on the stored search text of the columns its index covers
        (cache.search.TextSearch), narrowed through that index; any other text column (one
        worked out at read time, as the window) on its own."""
        covered = search.searched.columns if search is not None else frozenset()

        def test(key: str, op: str, value: Any) -> ColumnElement[bool]:
            rewritten = equivalents[key](op, value) if key in equivalents else None
            if rewritten is not None:
                return rewritten
            return compare(columns[key], grid.kinds[key], op, value, like_ignores_case=like_ignores_case)

        def narrowed(
            condition: ColumnElement[bool], term: str, column: bool, alone: bool
        ) -> ColumnElement[bool]:
            # a covered column holding the text means the row's search text holds it too
            assert search is not None
            text = columns[search.column] if column else None
            return search.narrowed(condition, term, columns[search.key], text, alone=alone)

        def one(key: str, op: str, value: Any, alone: bool = False) -> ColumnElement[bool]:
            condition = test(key, op, value)
            if key in covered and key not in equivalents and op in NARROWED and isinstance(value, str):
                return narrowed(condition, value, column=True, alone=alone)
            return condition

        out = []
        for key, text in self.cells.items():
            for op, value in cell_conditions(grid.kinds[key], text, f"f_{key}"):
                out.append(one(key, op, value, alone=True))
        if self.filter is not None:
            out.append(filter_sql(self.filter, one))
        for key, values in self.picked.items():
            # an empty value stands for the rows without one ("—")
            out.append(or_(*(one(key, "=", v) if v else columns[key].is_(None) for v in values)))
        searchable = [c for c in grid.columns if c.is_searchable]
        for term in self.q.split():
            if search is None:
                out.append(or_(false(), *(test(c.key, "contains", term) for c in searchable)))
                continue
            text = columns[search.column]
            # a word no value of such a column can hold ("CPC0" in a window) leaves the plan as it is
            others = [test(c.key, "contains", term) for c in searchable if c.key not in covered]
            others = [o for o in others if not isinstance(o, False_)]
            word = narrowed(
                compare(text, "text", "contains", term, like_ignores_case=like_ignores_case),
                term,
                column=False,
                alone=not others,
            )
            out.append(or_(word, *others) if others else word)
        return out


def _shown(grid: Grid, given: list[str]) -> tuple[str, ...]:
    """The column chooser's ``cols`` (repeated, or one comma-separated list): known keys, each once."""
    keys: list[str] = []
    for text in given:
        if len(text) > MAX_PARAM_LENGTH:
            raise GridError("cols", f"too long (at most {MAX_PARAM_LENGTH} characters)")
        for key in (k.strip() for k in text.split(",")):
            if key and key not in grid.by_key:
                raise GridError("cols", f"no column {key!r} (columns: {', '.join(grid.by_key)})")
            if key and key not in keys:
                keys.append(key)
    return tuple(keys)


def label_of(grid: Grid, param: str) -> str:
    """What the page calls a URL parameter: a Filter Row cell by its column's label."""
    if param.startswith("in_") and param[3:] in grid.by_key:
        return f"{grid.by_key[param[3:]].label} values"
    column = grid.by_key.get(param[2:]) if param.startswith("f_") else None
    return f"{column.label} filter" if column is not None else LABELS.get(param, param)


def _whole(text: str, name: str, lowest: int) -> int:
    """A whole number; one past any list's end stands for "the last" (MAX_WHOLE)."""
    text = text.strip()
    if not text.isascii() or not text.isdigit():
        raise GridError(name, f"{text!r} is not a whole number")
    number = min(int(text), MAX_WHOLE)
    if number < lowest:
        raise GridError(name, f"must be at least {lowest}")
    return number
