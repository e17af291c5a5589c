"""The grid engine (queries/grid/) on its own: no web import, a page read from a plain mapping
of URL parameters, bad input named without any request around it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, insert

from bpo2_bridge.queries.grid.columns import GridColumn
from bpo2_bridge.queries.grid.engine import Grid
from bpo2_bridge.queries.grid.filters import GridError

metadata = MetaData()
item = Table(
    "item",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("name", String(20), nullable=False),
)
GRID = Grid("items", [GridColumn("id", "ID", "number"), GridColumn("name", "Name")], default_sort="id")

WEB = ("flask", "werkzeug", "markupsafe", "bpo2_bridge.web")


def test_the_engine_imports_nothing_of_the_web() -> None:
    script = (
        "import importlib, json, pkgutil, sys\n"
        "import bpo2_bridge.queries.grid as g\n"
        "for m in pkgutil.iter_modules(g.__path__):\n"
        "    importlib.import_module(f'bpo2_bridge.queries.grid.{m.name}')\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    loaded = json.loads(
        subprocess.run([sys.executable, "-c", script], capture_output=True, check=True).stdout
    )
    assert [m for m in loaded if m.split(".")[0] in WEB or m.startswith(WEB[-1])] == []


@pytest.fixture
def conn():  # type: ignore[no-untyped-def]
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(item), [{"id": i, "name": f"item {i:02d}"} for i in range(1, 31)])
        yield conn


def test_a_page_is_read_from_a_plain_mapping_and_capped_by_its_argument(conn) -> None:  # type: ignore[no-untyped-def]
    page = GRID.fetch(conn, item, {"sort": ["-id"], "page_size": ["20"], "page": ["2"]}, max_page_size=10)
    assert (page.total, page.pages, page.page, page.page_size) == (30, 3, 2, 10)
    assert [r["id"] for r in page.rows] == list(range(20, 10, -1))
    assert [r["id"] for r in GRID.fetch(conn, item, {"f_name": ["=item 07"]}).rows] == [7]


def test_bad_parameters_and_a_first_value_mapping_are_refused(conn) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(GridError) as caught:
        GRID.fetch(conn, item, {"page": ["x"]})
    assert (caught.value.param, caught.value.label, caught.value.description) == (
        "page",
        "Page",
        "page: 'x' is not a whole number",
    )
    # a name -> first value mapping (a MultiDict read as a Mapping) would read page "12" as "1"
    with pytest.raises(TypeError, match="list of its values"):
        GRID.fetch(conn, item, {"page": "12"})  # type: ignore[dict-item]
