"""The guard's allow list of functions: every listed function passes, anything else is refused
with its name, nested or not, and the functions that changed PostgreSQL's state behind the old
deny list change nothing any more (a real server: other backends, replication slots, statistics)."""

from __future__ import annotations

import datetime as dt
import itertools
import re
import sqlite3

import pytest
import sqlglot
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import create_engine, text
from sqlglot.dialects.dialect import Dialect
from sqlglot.parser import Parser
from sqlglot.tokens import TokenType

from bpo2_bridge.checks.adhoc import QueryFailed, run_on_url
from bpo2_bridge.checks.functions import ALLOWED, allowed_functions
from bpo2_bridge.checks.guard import Policy, RefusedQuery, check_sql
from bpo2_bridge.demo.generate import build_demo
from bpo2_bridge.settings import SettingsError
from bpo2_bridge.source.mapping import load_mapping

DIALECTS = ("sqlite", "postgres", "mysql", "tsql")
# argument lists tried for a function until one parses (functions differ in arity and form)
ARGUMENTS = (
    "",
    "1",
    "'a'",
    "'a', 2",
    "1, 2, 3",
    "1, 2, 3, 4",
    "x",
    "x, 1",
    "x AS INT",
    "YEAR FROM x",
    "day, 1, x",
    "INT, x",
    "x, INTERVAL 1 DAY",
)
NO_PARENS = {"current_date", "current_time", "current_timestamp", "localtime", "localtimestamp"}
# functions that change state, read files, reach other sessions or servers, or wait
HOSTILE = [
    "query_to_xml",
    "query_to_xml_and_xmlschema",
    "table_to_xml",
    "cursor_to_xml",
    "pg_read_file",
    "pg_read_binary_file",
    "pg_ls_dir",
    "pg_stat_file",
    "pg_create_physical_replication_slot",
    "pg_create_logical_replication_slot",
    "pg_drop_replication_slot",
    "pg_stat_reset",
    "pg_stat_reset_shared",
    "pg_logical_emit_message",
    "pg_terminate_backend",
    "pg_cancel_backend",
    "pg_reload_conf",
    "pg_rotate_logfile",
    "pg_switch_wal",
    "pg_sleep",
    "pg_advisory_lock",
    "nextval",
    "setval",
    "currval",
    "set_config",
    "lo_import",
    "lo_export",
    "dblink",
    "dblink_exec",
    "pg_notify",
    "txid_current",
    "fn_trace_gettable",
    "fn_dblog",
    "fn_get_audit_file",
    "openrowset",
    "opendatasource",
    "openquery",
    "sleep",
    "benchmark",
    "get_lock",
    "release_lock",
    "load_file",
    "master_pos_wait",
    "last_insert_id",
    "sys_exec",
    "load_extension",
    "readfile",
    "writefile",
    "edit",
    "fts3_tokenizer",
]


def _calls(name: str) -> list[str]:
    if name in NO_PARENS:
        return [f"SELECT {name} AS v"]
    if name == "case":
        return ["SELECT CASE WHEN 1 = 1 THEN 2 END AS v"]
    if name == "match":
        return ["SELECT MATCH(x) AGAINST ('a') AS v"]
    return [f"SELECT {name}({args}) AS v" for args in ARGUMENTS]


def _not_allowed(reason: str, name: str) -> bool:
    return f"function {name} is not allowed" in reason.lower()


@pytest.mark.parametrize("dialect", DIALECTS)
def test_every_function_on_the_allow_list_parses_and_is_accepted(dialect: str) -> None:
    failing = []
    for name in sorted(ALLOWED[dialect]):
        reasons = []
        for sql in _calls(name):
            try:
                check_sql(sql, dialect)
                break
            except RefusedQuery as exc:
                reasons.append(str(exc))
                assert not _not_allowed(str(exc), name), (dialect, sql, str(exc))
        else:
            failing.append((name, reasons[0]))
    assert not failing


@pytest.mark.parametrize("name", HOSTILE)
@pytest.mark.parametrize("dialect", DIALECTS)
def test_no_hostile_function_is_on_any_allow_list(dialect: str, name: str) -> None:
    assert name not in ALLOWED[dialect]
    for sql in _calls(name):
        with pytest.raises(RefusedQuery):
            check_sql(sql, dialect)


def _called_names(sql: str, dialect: str) -> set[str]:
    """Every word the normalized statement calls (a word right before "(" that is not a data
    type such as VARCHAR(MAX)), found from its tokens alone, independently of the guard's tree."""
    tokens = sqlglot.tokenize(sql, read=dialect)
    return {
        a.text.lower()
        for a, b in itertools.pairwise(tokens)
        if b.token_type is TokenType.L_PAREN
        and a.token_type not in Parser.TYPE_TOKENS
        and re.fullmatch(r"[A-Za-z_][\w$]*", a.text)
    }


# words that take brackets without calling anything
_STRUCTURE = {
    "in",
    "over",
    "as",
    "and",
    "or",
    "not",
    "then",
    "else",
    "when",
    "select",
    "filter",
    "from",
    "group",
    "columns",
}


def _sqlglot_names(dialect: str) -> list[str]:
    """The functions sqlglot knows for the dialect: its parser's function list."""
    parser = Dialect.get_or_raise(dialect).parser_class
    return sorted({n.lower() for n in parser.FUNCTIONS} | {n.lower() for n in parser.FUNCTION_PARSERS})


NAMES = {d: _sqlglot_names(d) + sorted(ALLOWED[d]) + HOSTILE for d in DIALECTS}
_identifiers = st.from_regex(r"[a-z_][a-z0-9_]{0,20}", fullmatch=True)
_wrappers = st.lists(
    st.sampled_from(
        ["UPPER({})", "COALESCE({}, NULL)", "ABS({})", "MAX({})", "({})", "CASE WHEN 1 = 1 THEN {} END"]
    ),
    max_size=4,
)


@st.composite
def _calls_in(draw: st.DrawFn) -> tuple[str, str, str]:
    dialect = draw(st.sampled_from(DIALECTS))
    name = draw(st.one_of(st.sampled_from(NAMES[dialect]), _identifiers))
    args = draw(st.sampled_from(ARGUMENTS[:8]))
    inner = draw(st.sampled_from(["", "1", "LOWER('a')"]))
    expression = f"{name}({args or inner})"
    for wrapper in draw(_wrappers):
        expression = wrapper.format(expression)
    return dialect, name, f"SELECT {expression} AS v"


def _assert_sound(dialect: str, name: str, sql: str) -> None:
    """The property: a name off the list is refused (or rewritten by the parser into a name
    on it); whatever is accepted calls only names on the list; a listed name is never refused
    as such."""
    allowed = ALLOWED[dialect]
    try:
        normalized = check_sql(sql, dialect)
    except RefusedQuery as exc:
        assert "\n" not in str(exc)
        if name in allowed:
            assert not _not_allowed(str(exc), name), (sql, str(exc))
        return
    called = _called_names(normalized, dialect) - _STRUCTURE
    assert called <= allowed, (sql, normalized, called - allowed)
    if name not in allowed:
        assert name not in called, (sql, normalized)


@hsettings(max_examples=600, deadline=None)
@given(case=_calls_in())
def test_fuzz_only_functions_on_the_allow_list_run(case: tuple[str, str, str]) -> None:
    """Random names from each dialect's function list (and made-up ones), nested in allowed
    functions."""
    _assert_sound(*case)


def _sqlite_catalog() -> list[str]:
    with sqlite3.connect(":memory:") as conn:
        return sorted({row[0].lower() for row in conn.execute("SELECT name FROM pragma_function_list")})


def test_every_function_sqlite_has_is_refused_unless_listed() -> None:
    """The engine's own catalog of functions, every one of them, called as a query would."""
    names = _sqlite_catalog()
    assert len(names) > 100 and "load_extension" in names
    for name in names:
        for args in ARGUMENTS[:4]:
            _assert_sound("sqlite", name, f"SELECT {name}({args}) AS v")


def test_every_function_postgresql_has_is_refused_unless_listed(fresh_database) -> None:
    engine = create_engine(fresh_database("postgresql"))
    with engine.connect() as conn:
        names = sorted(conn.execute(text("SELECT DISTINCT lower(proname) FROM pg_proc")).scalars())
    engine.dispose()
    assert len(names) > 1000 and "query_to_xml" in names
    refused = 0
    for name in names:
        for args in ARGUMENTS[:2]:
            _assert_sound("postgres", name, f"SELECT {name}({args}) AS v")
        if name not in ALLOWED["postgres"]:
            refused += 1
    assert refused > len(names) * 0.8


def test_the_setting_adds_functions_per_engine_or_for_all(make_settings) -> None:
    extra = ("postgresql:pg_sleep", "dbo.fn_contract_value", "my_udf")
    policy = Policy(functions=extra)
    assert check_sql("SELECT pg_sleep(0.1)", "postgres", policy)
    with pytest.raises(RefusedQuery, match="pg_sleep"):
        check_sql("SELECT pg_sleep(0.1)", "mysql", policy)
    assert check_sql("SELECT dbo.fn_contract_value(1) AS v", "tsql", policy)
    with pytest.raises(RefusedQuery, match=r"other\.fn_contract_value"):
        check_sql("SELECT other.fn_contract_value(1) AS v", "tsql", policy)
    for dialect in DIALECTS:
        assert "my_udf" in allowed_functions(dialect, extra)
        assert check_sql("SELECT my_udf(1) AS v", dialect, policy)
    settings = make_settings(query_allowed_functions="mssql:fn_a, B")
    assert settings.query_allowed_functions == ["mssql:fn_a", "b"]
    for bad in ("drop table x", "oracle:f", "a.b.c", "f()"):
        with pytest.raises(SettingsError, match="query_allowed_functions"):
            make_settings(query_allowed_functions=[bad])


# -- on a real PostgreSQL ------------------------------------------------------------------------

PG_HOSTILE = (
    "SELECT query_to_xml('select pg_terminate_backend({victim})', true, false, '') AS x",
    "SELECT query_to_xml_and_xmlschema('select pg_terminate_backend({victim})', true, false, '') AS x",
    "SELECT pg_read_file('/etc/passwd') AS x",
    "SELECT table_to_xml('pg_catalog.pg_class', true, false, '') AS x",
    "SELECT cursor_to_xml('c', 1, true, false, '') AS x",
    "SELECT * FROM pg_create_physical_replication_slot('bpo2_evil_slot')",
    "SELECT pg_stat_reset() AS x",
    "SELECT pg_logical_emit_message(true, 'evil', 'x') AS x",
    "SELECT pg_terminate_backend({victim}) AS x",
    "SELECT upper(query_to_xml('select 1', true, false, '')::text) AS x",
)


def test_hostile_functions_on_postgresql_are_refused_and_change_nothing(
    fresh_database, settings, tmp_path, source_fingerprint
) -> None:
    url = fresh_database("postgresql")
    build_demo(
        url,
        size="tiny",
        seed=4,
        today=dt.date(2026, 11, 22),
        mapping=load_mapping(settings.mapping_path),
        share_root=tmp_path / "share",
    )
    before = source_fingerprint(url)
    observer = create_engine(url)
    with observer.connect() as victim:
        pid = victim.execute(text("SELECT pg_backend_pid()")).scalar()
        slots = victim.execute(text("SELECT COUNT(*) FROM pg_replication_slots")).scalar()
        reset = victim.execute(
            text("SELECT stats_reset FROM pg_stat_database WHERE datname = current_database()")
        ).scalar()
        for sql in PG_HOSTILE:
            statement = sql.format(victim=pid)
            with pytest.raises(QueryFailed) as refused:
                run_on_url(url, statement, max_rows=5, timeout=10)
            message = str(refused.value)
            assert message.startswith("Refused: function ") and "not allowed" in message, message
            assert "\n" not in message
        # the victim backend lives on, no slot was made, the statistics were not reset
        assert victim.execute(text("SELECT 1")).scalar() == 1
        assert victim.execute(text("SELECT COUNT(*) FROM pg_replication_slots")).scalar() == slots
        assert (
            victim.execute(
                text("SELECT stats_reset FROM pg_stat_database WHERE datname = current_database()")
            ).scalar()
            == reset
        )
    observer.dispose()
    assert source_fingerprint(url) == before
