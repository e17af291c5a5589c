"""One page of a grid as the engine reads it: its rows, how many the list has, where the page
sits, the header drop-downs' values, and the checked URL state it answers. Links, HTML and
responses are the web's (web/grid_page.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .columns import GridColumn, Row
    from .engine import Grid
    from .state import GridState


@dataclass(eq=False)
class GridPage:
    grid: Grid
    state: GridState
    rows: list[dict[str, Any]] = field(default_factory=list)
    total: int = 0
    capped: bool = False  # more rows match than were counted: total is a lower bound
    unfiltered: bool = False  # no search or filter of the user's: total counts the list itself
    page: int = 1
    pages: int = 1
    truncated: bool = False  # an export stopped at the grid's export cap
    # the URL changes a Create Filter form asks for: answered by a redirect, no rows read
    redirect_params: dict[str, str | None] | None = None
    # the keyset cursor of a row of this page, for the Next / Previous links
    cursor_of: Callable[[Row], str] | None = None
    # column -> (value, rows holding it or None) for the header drop-downs
    choices: dict[str, list[tuple[Any, int | None]]] = field(default_factory=dict)

    @property
    def page_size(self) -> int:
        return self.state.page_size

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
