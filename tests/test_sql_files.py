"""SQL files: every file named in code exists, every file is used, each has a header, and each
renders for every engine and parses as T-SQL for the mssql dialect."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlglot
from sqlalchemy.dialects import mssql

from bpo2_bridge.checks import canned
from bpo2_bridge.queries import sqlfiles, windows
from bpo2_bridge.source.mapping import load_mapping

ROOT = Path(__file__).resolve().parent.parent
NAMED = re.compile(r"""\b(?:sqlfiles\.)?(?:render|render_for_source|load|header)\(\s*["']([\w/]+)["']""")
SQL_FILES = [f for f in sqlfiles.list_files() if f != "mssql_readonly_login"]


def _code() -> str:
    parts = []
    for folder in ("bpo2_bridge", "views"):
        parts += [p.read_text(encoding="utf-8") for p in (ROOT / folder).rglob("*.py")]
    return "\n".join(parts)


def _render_mssql(name: str, mapping) -> str:
    """Each file rendered for SQL Server the way its owner renders it for BPO2."""
    if name.startswith("checks/"):
        return canned.render_check(canned.get_check(name.split("/", 1)[1]), mssql.dialect(), mapping)
    if name == "contract_windows":
        return windows.mssql_sql(mapping)
    return sqlfiles.render_for_source(name, mssql.dialect(), mapping)


def test_named_files_exist_and_every_file_is_used():
    code = _code()
    named = set(NAMED.findall(code))
    missing = sorted(n for n in named if not (ROOT / "sql" / f"{n}.sql").is_file())
    assert not missing, f"code names SQL files that do not exist: {missing}"
    unused = sorted(n for n in SQL_FILES if "/" not in n and f'"{n}"' not in code and f"'{n}'" not in code)
    assert not unused, f"SQL files nothing uses: {unused}"


@pytest.mark.parametrize(
    "name", SQL_FILES + sqlfiles.list_files("checks") if (ROOT / "sql" / "checks").is_dir() else SQL_FILES
)
def test_file_has_header_and_parses_as_tsql_for_the_source(name, settings):
    assert sqlfiles.header(name), f"sql/{name}.sql needs a header comment (purpose, parameters, indexes)"
    mapping = load_mapping(settings.mapping_path)
    sql = _render_mssql(name, mapping)
    parsed = sqlglot.parse(sql, read="tsql")
    assert len([p for p in parsed if p is not None]) == 1


def test_customers_grid_counts_each_customers_contracts_from_the_index_alone(tmp_path) -> None:
    """Until the job after midnight has counted them for the new day, sorting every customer by
    active contracts computes the count per customer: it must not read each contract row as well."""
    from sqlalchemy import bindparam, create_engine, text

    from bpo2_bridge.cache.schema import cache_metadata

    engine = create_engine(f"sqlite:///{tmp_path / 'c.sqlite'}")
    cache_metadata().create_all(engine)
    sql = sqlfiles.render("crm_customers", "sqlite", live_counts=True)  # before the job after midnight
    explain = text("EXPLAIN QUERY PLAN " + sql).bindparams(bindparam("excluded", expanding=True))
    params = {"see_all": 1, "employee_id": None, "today": "2026-01-01", "window_end": "2026-07-01"}
    with engine.connect() as conn:
        plan = [str(r[-1]) for r in conn.execute(explain, {**params, "excluded": ["Cancelled"]})]
    engine.dispose()
    contract_reads = [line for line in plan if line.startswith("SEARCH k ")]
    assert len(contract_reads) >= 2, plan
    assert all("COVERING INDEX" in line for line in contract_reads), plan


def test_planner_statistics_of_the_grids_tables_are_exact(crowded_demo) -> None:
    """A sampled ANALYZE guessed 1,001 contracts per status where there were 175,000, and the
    planner read the wrong index; the full sync analyses the grids' tables in full."""
    from sqlalchemy import text

    with crowded_demo.cache.connect() as conn:
        stats = dict(
            conn.execute(text("SELECT idx, stat FROM sqlite_stat1 WHERE tbl = 'contract_row'")).all()
        )
        rows = conn.execute(text("SELECT COUNT(*) FROM contract_row")).scalar_one()
        statuses = conn.execute(text("SELECT COUNT(DISTINCT status) FROM contract_row")).scalar_one()
    assert rows > 6000
    status_index = next(v for k, v in stats.items() if k.startswith("ix_contract_row_4_status"))
    total, per_status = (int(n) for n in status_index.split()[:2])
    assert total == rows
    assert per_status == -(-rows // statuses)  # rounded up, as ANALYZE does


def test_a_bridges_sql_files_render_as_the_one_off_functions(settings):
    """bridge.sql_files keeps each file compiled; what it renders is what the module functions
    render, the second time as the first."""
    from bpo2_bridge.bridge import Bridge

    mapping = load_mapping(settings.mapping_path)
    bridge = Bridge(settings)
    try:
        files = bridge.sql_files
        for name in SQL_FILES:
            if name == "contract_windows":
                continue  # rendered with its tab and scope switches (windows.py)
            assert files.header(name) == sqlfiles.header(name)
            for _ in range(2):
                assert files.render_for_source(name, mssql.dialect(), mapping) == sqlfiles.render_for_source(
                    name, mssql.dialect(), mapping
                )
        with pytest.raises(sqlfiles.SqlFileError, match=r"no SQL file sql/no_such_file\.sql"):
            files.render("no_such_file", "sqlite")
    finally:
        bridge.dispose()
