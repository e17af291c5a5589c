"""The reflection layer and `bpo2-bridge schema check` on SQLite, PostgreSQL and MariaDB.

The demo source reflects and passes the check; a renamed table and a renamed column are
reported with the new names as suggestions; column types that cannot serve are reported; the
per-entity statements read the right rows. Every source is proved unchanged afterwards.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import shutil
import string
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import (
    String,
    create_engine,
    insert,
    select,
    text,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import URL

from bpo2_bridge.cli import main
from bpo2_bridge.source.engines import open_readonly, source_session
from bpo2_bridge.source.mapping import Mapping, load_mapping
from bpo2_bridge.source.model import ENTITIES, Parent
from bpo2_bridge.source.reflection import (
    SchemaError,
    SourceSchema,
    check_schema,
    mapped_counts,
    offline_schema,
    reflect_source,
    select_watermark,
    suggest,
)
from bpo2_bridge.sync.plan import EntityPlan, build_plans, changed_since


def plans_of(schema: SourceSchema) -> dict[str, EntityPlan]:
    """The sync's plans over ``schema``, by entity: their statements are what the sync sends."""
    return {plan.name: plan for plan in build_plans(schema, sqlite.dialect())}


ENGINES = ("sqlite", "postgresql", "mariadb")
TODAY = dt.date(2026, 11, 22)


# -- sources, written through a separate writer engine ------------------------------------------


def rename(url: URL, table: str, column: str | None = None, to: str = "") -> None:
    writer = create_engine(url)
    quote = writer.dialect.identifier_preparer.quote
    with writer.begin() as conn:
        if column is None:
            conn.execute(text(f"ALTER TABLE {quote(table)} RENAME TO {quote(to)}"))
        else:
            conn.execute(text(f"ALTER TABLE {quote(table)} RENAME COLUMN {quote(column)} TO {quote(to)}"))
    writer.dispose()


def run_cli(url: URL, tmp_path: Path, *args: str):
    env = {
        "BPO2_BRIDGE_SOURCE_URL": url.render_as_string(hide_password=False),
        "BPO2_BRIDGE_DATA_DIR": str(tmp_path / "data"),
        "BPO2_BRIDGE_MAPPING_FILE": "",
    }
    result = CliRunner().invoke(main, ["schema", "check", *args], env=env)
    # a crash would also exit 1: only a deliberate exit counts
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result


@pytest.fixture
def mapping(settings) -> Mapping:
    return load_mapping(settings.mapping_path)


@pytest.fixture(params=ENGINES)
def kind(request) -> str:
    return request.param


# -- the demo source ------------------------------------------------------------------------------


def test_demo_reflects_and_passes_schema_check(kind, fresh_database, mapping, tmp_path, source_fingerprint):
    from bpo2_bridge.demo.generate import build_demo

    url = fresh_database(kind)
    summary = build_demo(
        url, size="tiny", seed=1, today=TODAY, mapping=mapping, share_root=tmp_path / "share"
    )
    before = source_fingerprint(url)
    engine = open_readonly(url, 30)

    assert check_schema(engine, mapping) == []
    schema = reflect_source(engine, mapping)
    for em in mapping:
        table = schema.table(em.name)
        expected = [c.name for c in em.entity.columns if em.has(c.name)]
        assert [c.key for c in table.c if c.key != "_change"] == expected
    assert schema.table("contract").c.expiry_date.name == mapping["contract"].physical("expiry_date")

    plans = plans_of(schema)
    with source_session(engine) as conn:
        for em in mapping:
            rows = conn.execute(plans[em.name].select_rows()).mappings().all()
            assert len(rows) == summary.counts[em.name]
        contracts = conn.execute(plans["contract"].select_rows()).mappings().all()
    assert all(isinstance(r["expiry_date"], dt.date) for r in contracts if r["expiry_date"] is not None)
    assert {r["status"] for r in contracts} >= {"Active"}
    engine.dispose()

    result = run_cli(url, tmp_path)
    tables, columns = mapped_counts(mapping)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"All {tables} tables and {columns} columns found"
    assert source_fingerprint(url) == before


# -- renamed tables and columns ---------------------------------------------------------------------


def _renamed(physical: str) -> str:
    """How an install might rename a column: words split by underscores (or a suffix)."""
    split = re.sub(r"(?<=[a-z])(?=[A-Z])", "_", physical)
    return split if split != physical else f"{physical}_1"


def _copy_of_source(
    kind: str, fresh_database, mapping: Mapping, tmp_path: Path, seed_source
) -> tuple[URL, URL]:
    """(original, copy) with the same tables and rows."""
    original = fresh_database(kind)
    seed_source(original, mapping)
    if kind == "sqlite":
        copy = URL.create("sqlite", database=str(tmp_path / "copy.sqlite"))
        shutil.copyfile(original.database, copy.database)
    else:
        copy = fresh_database(kind)
        seed_source(copy, mapping)
    return original, copy


def test_renamed_table_and_column_are_reported_with_the_new_names(
    kind, fresh_database, mapping, tmp_path, source_fingerprint, seed_source
):
    original, copy = _copy_of_source(kind, fresh_database, mapping, tmp_path, seed_source)
    original_before = source_fingerprint(original)
    contract, customer = mapping["contract"], mapping["customer"]
    new_table = f"{contract.table}s"
    new_column = _renamed(customer.physical("account_no"))
    rename(copy, contract.table, to=new_table)
    rename(copy, customer.table, customer.physical("account_no"), to=new_column)
    copy_before = source_fingerprint(copy)

    engine = open_readonly(copy, 30)
    problems = check_schema(engine, mapping)
    assert [(p.entity, p.column) for p in problems] == [("customer", "account_no"), ("contract", None)]
    column_problem, table_problem = problems
    assert column_problem.suggestions[0] == new_column
    assert column_problem.physical == customer.physical("account_no")
    assert "not found" in column_problem.message
    assert table_problem.suggestions[0] == new_table
    assert f"table {contract.table} not found" in table_problem.message
    with pytest.raises(SchemaError) as caught:
        reflect_source(engine, mapping)
    assert len(caught.value.problems) == 2
    engine.dispose()

    result = run_cli(copy, tmp_path, "--format", "json")
    assert result.exit_code == 1, result.output
    rows = json.loads(result.stdout)
    assert [(r["entity"], r["column"], r["suggestions"][0]) for r in rows] == [
        ("customer", customer.physical("account_no"), new_column),
        ("contract", None, new_table),
    ]
    assert "Traceback" not in result.output
    assert source_fingerprint(copy) == copy_before
    assert source_fingerprint(original) == original_before


def test_a_text_expiry_date_cannot_serve(kind, fresh_database, mapping, tmp_path, seed_source):
    url = fresh_database(kind)
    metadata = mapping.physical_metadata()
    metadata.tables[mapping["contract"].qualified_table].c.expiry_date.type = String(10)
    seed_source(url, mapping, metadata=metadata)
    engine = open_readonly(url, 30)
    problems = check_schema(engine, mapping)
    engine.dispose()
    assert [(p.entity, p.column) for p in problems] == [("contract", "expiry_date")]
    assert "(text), which cannot serve as a date" in problems[0].message

    result = run_cli(url, tmp_path, "--format", "csv")
    assert result.exit_code == 1
    assert result.stdout.splitlines()[0] == "entity,table,column,problem,suggestions"
    assert "cannot serve as a date" in result.stdout


def test_a_date_change_column_cannot_serve_as_rowversion(tmp_path, mapping, seed_source):
    url = URL.create("sqlite", database=str(tmp_path / "src.sqlite"))
    seed_source(url, mapping)
    rowversion = dataclasses.replace(mapping["contract"], change_kind="rowversion")
    variant = Mapping(mapping.path, {**mapping.entities, "contract": rowversion})
    engine = open_readonly(url, 30)
    problems = check_schema(engine, variant)
    engine.dispose()
    assert [(p.entity, p.column) for p in problems] == [("contract", None)]
    assert "change column" in problems[0].message and "binary data" in problems[0].message


def test_tables_in_a_named_schema(fresh_database, mapping, tmp_path, seed_source):
    url = fresh_database("postgresql")
    writer = create_engine(url)
    with writer.begin() as conn:
        conn.execute(text("CREATE SCHEMA erp"))
    writer.dispose()
    in_schema = Mapping(
        mapping.path, {n: dataclasses.replace(em, schema="erp") for n, em in mapping.entities.items()}
    )
    seed_source(url, in_schema)

    engine = open_readonly(url, 30)
    assert check_schema(engine, in_schema) == []
    schema = reflect_source(engine, in_schema)
    assert schema.table("contract").schema == "erp"
    with source_session(engine) as conn:
        assert len(conn.execute(plans_of(schema)["contract"].select_rows()).all()) == 4

    elsewhere = Mapping(
        mapping.path, {n: dataclasses.replace(em, schema="ERP") for n, em in mapping.entities.items()}
    )
    problems = check_schema(engine, elsewhere)
    engine.dispose()
    assert len(problems) == len(ENTITIES)
    assert all(p.message == "schema ERP not found" and p.suggestions == ("erp",) for p in problems)


# -- unreachable ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url, reason",
    [
        ("sqlite:///{tmp}/absent.sqlite", "unable to open database file"),
        ("postgresql+psycopg://reader@127.0.0.1:1/bpo2", "127.0.0.1"),
    ],
)
def test_unreachable_source_exits_2_with_the_reason(tmp_path, url, reason):
    env = {"BPO2_BRIDGE_SOURCE_URL": url.format(tmp=tmp_path), "BPO2_BRIDGE_DATA_DIR": str(tmp_path / "data")}
    result = CliRunner().invoke(main, ["schema", "check"], env=env)
    assert isinstance(result.exception, SystemExit)
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: BPO2 source unreachable: ")
    assert reason in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output
    assert not (tmp_path / "absent.sqlite").exists()


# -- the statements the sync runs --------------------------------------------------------------------


def _owned(written: dict, name: str, customer_id: int) -> list[dict]:
    """The rows of `name` belonging to one customer, followed through the model's links in Python."""
    link = next(e for e in ENTITIES if e.name == name).customer_link
    if isinstance(link, str):
        return [r for r in written[name] if r[link] == customer_id]
    assert isinstance(link, Parent)
    keys = {r[link.parent_column] for r in _owned(written, link.entity, customer_id)}
    return [r for r in written[name] if r[link.column] in keys]


def test_entity_statements_read_the_right_rows(
    kind, fresh_database, mapping, source_fingerprint, seed_source
):
    url = fresh_database(kind)
    written = seed_source(url, mapping, rows=5)
    before = source_fingerprint(url)
    engine = open_readonly(url, 30)
    schema = reflect_source(engine, mapping)
    plans = plans_of(schema)
    with source_session(engine) as conn:
        for ent in ENTITIES:
            plan, key = plans[ent.name], list(ent.pk)
            expected = sorted(tuple(r[k] for k in key) for r in written[ent.name])
            # every row once, in key order; the keys alone likewise
            rows = conn.execute(plan.select_rows(ordered=True)).mappings().all()
            assert [tuple(r[k] for k in key) for r in rows] == expected, ent.name
            assert [tuple(r) for r in conn.execute(plan.select_keys())] == expected, ent.name
            # the rows of some keys (an incremental sync reads changed keys so)
            some = expected[::2]
            picked = conn.execute(plan.select_rows(plan.key_filter(some))).mappings()
            assert sorted(tuple(r[k] for k in key) for r in picked) == some, ent.name
            if ent.customer_link is not None:
                rows = conn.execute(plan.select_rows(plan.customer_filter(2))).mappings()
                got = sorted(tuple(r[k] for k in key) for r in rows)
                assert got == sorted(tuple(r[k] for k in key) for r in _owned(written, ent.name, 2)), ent.name
        # from the watermark less the overlap for transactions still open when it was taken:
        # the rows changed at it and in the 15 minutes before are read again
        since = dt.datetime(2026, 1, 3, 8, 40)
        changed = conn.execute(plans["contract"].select_rows(changed_since(plans["contract"], since))).all()
        assert sorted(r.contract_id for r in changed) == [3, 4, 5]
        assert conn.execute(select_watermark(schema, "contract")).scalar() == dt.datetime(2026, 1, 5, 8, 30)
        # attachment bytes are not cached, but read from BPO2 by their column (attachments.py)
        content = schema.column("case_attachment", "content")
        assert conn.execute(select(content).where(content.is_not(None))).scalars().first() == b"\x01\x01\x01"
    engine.dispose()
    assert source_fingerprint(url) == before


@pytest.fixture(scope="module")
def pair_source(tmp_path_factory):
    path = tmp_path_factory.mktemp("keys") / "pairs.sqlite"
    return URL.create("sqlite", database=str(path))


@hsettings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    keys=st.sets(st.tuples(st.integers(-3, 6), st.integers(-3, 6)), max_size=30),
    data=st.data(),
)
def test_a_key_filter_on_a_composite_key_reads_exactly_those_rows(pair_source, mapping, keys, data):
    """Whatever the keys and the subset asked for, the rows read are exactly that subset: the
    filter spells the key out column by column (SQL Server has no row values)."""
    name = next(e.name for e in ENTITIES if len(e.pk) == 2)
    em = mapping[name]
    metadata = mapping.physical_metadata()
    table = metadata.tables[em.qualified_table]
    writer = create_engine(pair_source)
    metadata.create_all(writer, tables=[table])
    with writer.begin() as conn:
        conn.execute(table.delete())
        if keys:
            a, b = em.entity.pk
            flag = next(c.name for c in em.entity.columns if not c.pk)
            conn.execute(insert(table), [{a: x, b: y, flag: True} for x, y in keys])
    writer.dispose()
    wanted = data.draw(
        st.sets(st.sampled_from(sorted(keys)) if keys else st.nothing(), min_size=1 if keys else 0)
    )
    asked = sorted(wanted | {(99, 99)})  # and a key that is not there

    engine = open_readonly(pair_source, 30)
    plan = plans_of(offline_schema(mapping))[name]  # the file holds only this table
    with source_session(engine) as conn:
        rows = conn.execute(plan.select_rows(plan.key_filter(asked))).mappings().all()
    engine.dispose()
    assert sorted(tuple(r[k] for k in em.entity.pk) for r in rows) == sorted(wanted)


# -- suggestions ----------------------------------------------------------------------------------

_word = st.text(string.ascii_lowercase, min_size=3, max_size=8)


def _restyle(words: list[str], style: int) -> str:
    if style == 0:
        return "".join(w.capitalize() for w in words)  # PascalCase
    if style == 1:
        return "_".join(words)  # snake_case
    return "_".join(words).upper()  # UPPER_SNAKE


@given(
    words=st.lists(_word, min_size=1, max_size=3),
    others=st.lists(st.lists(_word, min_size=1, max_size=3), max_size=12),
    style=st.integers(0, 2),
)
def test_a_restyled_name_is_the_first_suggestion(words, others, style):
    """Renaming by case or underscores only never hides the real name behind another."""
    wanted = _restyle(words, 0)
    real = _restyle(words, style)
    candidates = [_restyle(o, 0) for o in others if "".join(o) != "".join(words)] + [real]
    assert suggest(wanted, candidates)[0] == real


def test_suggestions_are_close_names_only():
    assert suggest("EndDate", ["StartDate", "End_Dt", "Notes"])[0] == "End_Dt"
    assert suggest("EndDate", ["Notes", "Amount"]) == ()
