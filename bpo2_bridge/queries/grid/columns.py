"""What a grid column is: its key, label and type, whether it sorts, filters, searches or offers
its values to tick, and how a cell shows its value."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from .filters import HELP, KINDS

Row = Mapping[str, Any]

EMPTY = "—"  # what a cell without a value shows

PLACEHOLDERS = MappingProxyType(
    {
        "text": "contains…",
        "number": "e.g. >0, 1..10",
        "date": "e.g. >2026-01-01",
        "datetime": "e.g. 2026-01-01",
        "bool": "",
    }
)


@dataclass(frozen=True)
class GridColumn:
    key: str
    label: str
    type: str = "text"
    sortable: bool = True
    filterable: bool = True
    searchable: bool | None = None
    link: Callable[[Row], str | None] | None = None
    css: Callable[[Row], str | None] | None = None
    # another column whose order is this one's (Months Remaining: the expiry date), so the sort
    # walks that column's index
    sort_by: str | None = None
    # how a cell shows a value (a size in bytes as "1.2 MB"); JSON, CSV and XLSX keep the value
    display: Callable[[Any], str] | None = None
    # a few-valued column (a status, a type, a site): its header offers its values to tick, with counts
    choices: bool = False
    # left out of the page until the column chooser (``cols=``) picks it; JSON, CSV and XLSX
    # carry it always
    hidden: bool = False

    def __post_init__(self) -> None:
        if self.type not in KINDS:
            raise ValueError(f"column {self.key}: type must be one of {KINDS}, not {self.type!r}")
        if self.choices and self.type != "text":
            raise ValueError(f"column {self.key}: only a text column offers values to tick")

    @property
    def is_searchable(self) -> bool:
        return self.type == "text" if self.searchable is None else self.searchable

    @property
    def help(self) -> str:
        return HELP[self.type]

    @property
    def placeholder(self) -> str:
        return PLACEHOLDERS[self.type]

    def text(self, value: Any) -> str:
        """The value as a cell shows it; an empty value as "—", as the report shows it."""
        if value is None:
            return EMPTY
        if self.display is not None:
            return self.display(value)
        if self.type == "bool":
            return "Yes" if value else "No"
        if isinstance(value, dt.datetime):
            return value.strftime("%Y-%m-%d %H:%M")
        if isinstance(value, dt.date):
            return value.isoformat()
        return str(value)
