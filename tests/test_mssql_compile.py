"""Every source SELECT the reflection layer builds is valid T-SQL for BPO2 on SQL Server.

Compiled with SQLAlchemy's mssql dialect (offline: no SQL Server needed) and read back with
sqlglot's T-SQL parser; also for a mapping with a `dbo` schema, a rowversion change column and
a change column that is not a logical column.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

import pytest
import sqlglot
from sqlalchemy.dialects import mssql
from sqlglot import exp

from bpo2_bridge.source.attachments import attachment_query
from bpo2_bridge.source.mapping import Mapping, load_mapping
from bpo2_bridge.source.model import ENTITIES
from bpo2_bridge.source.reflection import SourceSchema, offline_schema, select_watermark
from bpo2_bridge.sync.keys import source_key_bounds, source_key_figures, source_rows
from bpo2_bridge.sync.plan import EntityPlan, build_plans, changed_since

MSSQL = mssql.dialect()


def _tsql(stmt, literal: bool = True) -> str:
    kwargs = {"render_postcompile": True}
    if literal:
        kwargs["literal_binds"] = True
    return str(stmt.compile(dialect=MSSQL, compile_kwargs=kwargs))


def _parse_one(sql: str) -> exp.Expression:
    statements = sqlglot.parse(sql, read="tsql", error_level=sqlglot.ErrorLevel.RAISE)
    assert len(statements) == 1
    assert isinstance(statements[0], exp.Select), sql
    return statements[0]


def _variant(mapping: Mapping, **changes_by_entity: dict) -> Mapping:
    entities = dict(mapping.entities)
    for name, changes in changes_by_entity.items():
        entities[name] = dataclasses.replace(entities[name], **changes)
    return Mapping(mapping.path, entities)


@pytest.fixture(scope="module")
def mapping() -> Mapping:
    from bpo2_bridge.settings import package_config_dir

    return load_mapping(package_config_dir() / "mapping.toml")


def _dbo(mapping: Mapping) -> Mapping:
    return _variant(mapping, **{em.name: {"schema": "dbo"} for em in mapping})


def _plan(schema: SourceSchema, name: str) -> EntityPlan:
    return next(plan for plan in build_plans(schema, MSSQL) if plan.name == name)


def _statements(schema: SourceSchema, name: str):
    """Every statement a sync sends to BPO2 for the entity (sync/full, incremental, refresh)."""
    plan = _plan(schema, name)
    key = tuple(7 for _ in plan.pk)
    yield "all rows", plan.select_rows(ordered=True)
    yield "keys", plan.select_keys()
    yield "some keys", plan.select_rows(plan.key_filter([key, tuple(8 for _ in plan.pk)]))
    if plan.change is not None:
        yield "changed", plan.select_rows(changed_since(plan, dt.datetime(2026, 1, 31, 23, 59)))
        yield "watermark", select_watermark(schema, name)
    if plan.entity.customer_link is not None:
        yield "one customer", plan.select_rows(plan.customer_filter(42))


@pytest.mark.parametrize("qualified", [False, True], ids=["default-schema", "dbo"])
@pytest.mark.parametrize("name", [e.name for e in ENTITIES])
def test_every_entity_statement_is_tsql(mapping, name, qualified):
    schema = offline_schema(_dbo(mapping) if qualified else mapping)
    em = schema.mapping[name]
    for purpose, stmt in _statements(schema, name):
        sql = _tsql(stmt)
        tree = _parse_one(sql)
        assert "LIMIT" not in sql.upper() and "OFFSET" not in sql.upper(), purpose
        if purpose != "watermark":
            # rows come back under logical names, read from the physical columns
            labels = [s.alias_or_name for s in tree.expressions]
            if purpose == "keys":
                wanted = list(em.entity.pk)
            else:
                wanted = [c.name for c in em.entity.columns if em.has(c.name) and c.cached]
            assert labels == wanted, purpose
            tables = {t.name for t in tree.find_all(exp.Table)}
            assert em.table in tables, purpose
            if qualified:
                assert all(t.db == "dbo" for t in tree.find_all(exp.Table)), purpose
        if purpose in ("all rows", "keys"):
            order = [o.this.name for o in tree.args["order"].expressions]
            assert order == [em.physical(k) for k in em.entity.pk], purpose


@pytest.mark.parametrize("name", [e.name for e in ENTITIES if len(e.pk) == 1])
def test_key_comparison_statements_are_tsql(mapping, name):
    """What an incremental sync asks BPO2 to find deleted or unstamped rows (sync/keys.py)."""
    plan = _plan(offline_schema(mapping), name)
    key = plan.col(plan.pk[0])
    table = mapping[name].table
    for stmt in (
        source_rows(plan),
        source_key_bounds(plan),
        source_key_figures(plan).where(key > 1000),
        source_key_figures(plan).where(key >= 0, key < 65536),
    ):
        sql = _tsql(stmt)
        tree = _parse_one(sql)
        assert {t.name for t in tree.find_all(exp.Table)} == {table}, sql
    # the key sum as BIGINT: an INT sum over a million keys overflows on SQL Server
    assert "CAST(" in _tsql(source_key_figures(plan)) and "AS BIGINT)" in _tsql(source_key_figures(plan))


def test_the_attachment_query_is_tsql(mapping):
    """A download reads the file's bytes or share path from BPO2 itself (attachments.py)."""
    em = mapping["case_attachment"]
    sql = _tsql(attachment_query(offline_schema(mapping), 42))
    tree = _parse_one(sql)
    wanted = [name for name in ("content", "file_path") if em.has(name)]
    assert [s.alias_or_name for s in tree.expressions] == [em.physical(name) for name in wanted]
    assert f"[{em.physical('file_id')}] = 42" in sql


def test_a_composite_key_filter_needs_no_row_values(mapping):
    """SQL Server has no (a, b) IN ((x, y), ...): the filter is spelled out column by column."""
    schema = offline_schema(mapping)
    name = next(e.name for e in ENTITIES if len(e.pk) > 1)
    plan = _plan(schema, name)
    sql = _tsql(plan.select_rows(plan.key_filter([(3, 9), (4, 1)])))
    em = mapping[name]
    first, second = (em.physical(k) for k in em.entity.pk)
    assert f"[{first}] = 3 AND" in sql and f"[{second}] = 9" in sql
    assert " OR " in sql and "IN((" not in sql.replace(" ", "").upper()
    _parse_one(sql)


def test_rowversion_watermark_uses_min_active_rowversion(mapping):
    em = mapping["contract"]
    variant = _variant(mapping, contract={"change_kind": "rowversion"})
    schema = offline_schema(variant)
    sql = _tsql(select_watermark(schema, "contract"))
    assert "MIN_ACTIVE_ROWVERSION()" in sql.upper()
    assert "@@DBTS" not in sql.upper()
    _parse_one(sql)
    plan = _plan(schema, "contract")
    since = _tsql(plan.select_rows(changed_since(plan, b"\0" * 8)), literal=False)
    assert re.search(rf"\[{em.change_column}\] >= :\w+", since), since


def test_change_column_that_is_not_a_logical_column(mapping):
    """A change column the mapping does not also map to a logical column is still usable."""
    em = mapping["contract"]
    columns = {k: v for k, v in em.columns.items() if v != em.change_column}
    schema = offline_schema(_variant(mapping, contract={"columns": columns}))
    plan = _plan(schema, "contract")
    # a date-time watermark is read from 15 minutes before it (transactions still open then)
    sql = _tsql(plan.select_rows(changed_since(plan, dt.datetime(2026, 1, 1))))
    tree = _parse_one(sql)
    assert em.change_column not in [s.alias_or_name for s in tree.expressions]
    assert f"[{em.change_column}] >= '2025-12-31 23:45:00'" in sql
    _parse_one(_tsql(select_watermark(schema, "contract")))


def test_mssql_readonly_login_script_parses_as_tsql():
    from importlib.resources import files

    from bpo2_bridge.queries.sqlfiles import header

    text = files("bpo2_bridge.sql").joinpath("mssql_readonly_login.sql").read_text(encoding="utf-8")
    statements = sqlglot.parse(text, read="tsql", error_level=sqlglot.ErrorLevel.RAISE)
    assert len(statements) == 9
    spoken = " ".join(s.sql("tsql", comments=False) for s in statements)
    assert "db_datareader" in spoken and "db_denydatawriter" in spoken
    assert "DENY EXECUTE" in spoken
    # the only role granted is db_datareader: no db_datawriter, db_owner or GRANT
    assert "db_datawriter" not in spoken.replace("db_denydatawriter", "")
    assert "db_owner" not in spoken and "GRANT " not in spoken.upper()
    assert "Purpose:" in header("mssql_readonly_login")
