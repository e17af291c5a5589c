"""Limits of ad-hoc SQL that hold end to end: the size and depth of the text (refused before it is
parsed), the time limit over executing and fetching together, memory per query (SQLite's value
length, the rows kept, the row cap written into the statement so no driver buffers more), the
cache target seeing only cache tables, and time limits that are real numbers of seconds."""

from __future__ import annotations

import datetime as dt
import tracemalloc

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text

from bpo2_bridge.bridge import Bridge
from bpo2_bridge.checks.adhoc import QueryFailed, run_adhoc, run_on_url
from bpo2_bridge.checks.guard import Policy, RefusedQuery, check_sql
from bpo2_bridge.cli import main
from bpo2_bridge.demo.generate import build_demo
from bpo2_bridge.settings import SettingsError
from bpo2_bridge.source.mapping import load_mapping
from bpo2_bridge.store.users import create_demo_users
from bpo2_bridge.sync.full import full_sync

DIALECTS = ("sqlite", "postgres", "mysql", "tsql")
LONG_SUM = "SELECT " + "+".join(["1"] * 200_000)  # 400 KB


def _cli(bridge: Bridge, *args: str, **env: str):  # type: ignore[no-untyped-def]
    settings = bridge.settings
    environ = {
        "BPO2_BRIDGE_DATA_DIR": str(settings.data_path),
        "BPO2_BRIDGE_TODAY": settings.today,
        "BPO2_BRIDGE_SOURCE_URL": "",
        "BPO2_BRIDGE_CACHE_URL": "",
        **{f"BPO2_BRIDGE_{k.upper()}": v for k, v in env.items()},
    }
    return CliRunner().invoke(main, ["sql", *args], env=environ, catch_exceptions=False)


def _demo_on(kind: str, fresh_database, settings, tmp_path):  # type: ignore[no-untyped-def]
    url = fresh_database(kind)
    build_demo(
        url,
        size="tiny",
        seed=5,
        today=dt.date(2026, 11, 22),
        mapping=load_mapping(settings.mapping_path),
        share_root=tmp_path / "share",
    )
    return url


# -- size and depth, before parsing --------------------------------------------------------------


@pytest.mark.parametrize("dialect", DIALECTS)
def test_oversized_sql_is_refused_before_the_parser_spends_memory_on_it(dialect: str) -> None:
    tracemalloc.start()
    try:
        with pytest.raises(RefusedQuery) as refused:
            check_sql(LONG_SUM, dialect)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "400,006 characters long; the limit is 20,000 (query_max_chars)" in str(refused.value)
    assert peak < 5_000_000  # parsing it took some 455 MB


@pytest.mark.parametrize("dialect", DIALECTS)
def test_deeply_nested_sql_is_refused_and_nesting_within_the_limit_passes(dialect: str) -> None:
    deep = "SELECT " + "(" * 33 + "1" + ")" * 33 + " AS v"
    with pytest.raises(RefusedQuery, match=r"more than 32 deep \(query_max_depth\)"):
        check_sql(deep, dialect)
    assert check_sql("SELECT " + "ABS(" * 31 + "1" + ")" * 31 + " AS v", dialect)
    # brackets inside a string literal or a comment are text, not nesting
    assert check_sql("SELECT '" + "(" * 100 + "' AS v /* " + "(" * 100 + " */", dialect)
    wider = Policy(max_chars=500_000, max_depth=40)
    assert check_sql(deep, dialect, wider)


def test_oversized_sql_through_the_cli_is_one_line(demo_bridge, tmp_path) -> None:
    path = tmp_path / "long.sql"
    path.write_text(LONG_SUM, encoding="utf-8")
    result = _cli(demo_bridge, "-f", str(path))
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.startswith("Error: Refused: the query is 400,006 characters long")
    assert result.stderr.count("\n") == 1
    within = "SELECT 1 AS x WHERE 1 IN (" + ", ".join(str(i) for i in range(3000)) + ")"  # 16 KB
    assert _cli(demo_bridge, within).exit_code == 0


# -- memory per query --------------------------------------------------------------------------


def test_sqlite_refuses_a_gigabyte_value_at_once(demo_bridge) -> None:
    result = _cli(demo_bridge, "SELECT length(randomblob(999999999)) AS n")
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: Stopped: a value grew past 64 MB")
    assert "query_max_mb" in result.stderr and result.stderr.count("\n") == 1
    small = _cli(demo_bridge, "SELECT length(randomblob(1000000)) AS n", "--format", "csv")
    assert small.exit_code == 0 and small.stdout.splitlines()[1] == "1000000"
    tighter = _cli(demo_bridge, "SELECT length(zeroblob(2000000)) AS n", query_max_mb="1")
    assert tighter.exit_code == 2 and "grew past 1 MB" in tighter.stderr


def test_rows_together_are_bounded_too(demo_bridge) -> None:
    many = (
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50) "
        "SELECT i, randomblob(100000) AS b FROM n"
    )
    result = _cli(demo_bridge, many, "--format", "csv", query_max_mb="2")
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: Stopped: the rows came to more than 2 MB (query_max_mb)")


@pytest.mark.parametrize(
    ("dialect", "sql", "ran"),
    [
        ("sqlite", "SELECT a FROM t", "SELECT a FROM t LIMIT 11"),
        (
            "postgres",
            "SELECT a FROM t UNION SELECT b FROM u",
            "SELECT a FROM t UNION SELECT b FROM u LIMIT 11",
        ),
        ("mysql", "SELECT a FROM t ORDER BY a", "SELECT a FROM t ORDER BY a LIMIT 11"),
        ("mysql", "SELECT a FROM t LIMIT 2, 500", "SELECT a FROM t LIMIT 11 OFFSET 2"),
        ("mysql", "SELECT a FROM t LIMIT 3", "SELECT a FROM t LIMIT 3"),
        ("tsql", "SELECT a FROM t ORDER BY a", "SELECT TOP 11 a FROM t ORDER BY a"),
        ("tsql", "SELECT TOP 500 a FROM t", "SELECT TOP 11 a FROM t"),
        ("tsql", "SELECT TOP 5 a FROM t", "SELECT TOP 5 a FROM t"),
        (
            "postgres",
            "WITH x AS (SELECT 1 AS a) SELECT a FROM x",
            "WITH x AS (SELECT 1 AS a) SELECT a FROM x LIMIT 11",
        ),
    ],
)
def test_the_row_cap_is_written_into_the_statement(dialect: str, sql: str, ran: str) -> None:
    assert check_sql(sql, dialect, Policy(max_rows=11)) == ran


def test_mariadb_returns_the_first_rows_of_a_huge_result_without_buffering_it(fresh_database) -> None:
    """Through pyodbc the MariaDB driver buffers a whole result before the first fetch: three
    million padded rows took 8 s and 750 MB for a five-row answer. The cap in the statement
    has the server send six rows, well within the time limit."""
    url = fresh_database("mariadb")
    huge = "SELECT seq, REPEAT('x', 200) AS pad FROM seq_1_to_3000000"
    result = run_on_url(url, huge, max_rows=5, timeout=5)
    assert [row[0] for row in result.rows] == [1, 2, 3, 4, 5]
    assert result.truncated and result.sql.endswith("LIMIT 6")


# -- the time limit covers fetching ------------------------------------------------------------


def test_postgresql_limit_covers_the_whole_fetch_loop(fresh_database, settings, tmp_path) -> None:
    """statement_timeout stops each FETCH alone: 500 rows of 1 ms each stay under 1 s per FETCH,
    while 8000 of them take 8 s. The wall clock stops the query at its 1 s limit."""
    url = _demo_on("postgresql", fresh_database, settings, tmp_path)
    slow = "SELECT g, pg_sleep(0.001) AS s FROM generate_series(1, 8000) AS g"
    policy = Policy(functions=("postgresql:pg_sleep",), max_rows=10_001)
    with pytest.raises(QueryFailed) as stopped:
        run_on_url(url, slow, max_rows=10_000, timeout=1, policy=policy)
    assert str(stopped.value) == "Stopped: the query ran longer than the 1 s time limit"
    assert run_on_url(url, "SELECT 1 AS one", max_rows=1, timeout=5).rows == [(1,)]


# -- the cache target sees the cache alone -----------------------------------------------------


def test_cache_target_on_a_shared_postgresql_database_cannot_read_the_store(
    copied_demo, fresh_database
) -> None:
    url = fresh_database("postgresql").render_as_string(hide_password=False)
    bridge: Bridge = copied_demo(cache_url=url, store_url=url)
    create_demo_users(bridge.store)
    full_sync(bridge)
    writer = create_engine(url)
    with writer.connect() as conn:  # the store's users, password hashes and all, are right there
        assert conn.execute(text("SELECT COUNT(*) FROM public.users")).scalar() > 0
    writer.dispose()
    for sql in (
        "SELECT * FROM public.users",
        'SELECT * FROM "public"."users"',
        "SELECT * FROM users",
        "SELECT login FROM contract, public.users",
        "WITH u AS (SELECT * FROM public.users) SELECT * FROM u",
        "SELECT * FROM pg_catalog.pg_tables",
        "SELECT * FROM information_schema.tables",
        "SELECT (SELECT COUNT(*) FROM public.sync_runs) AS n",
    ):
        with pytest.raises(QueryFailed) as refused:
            run_adhoc(bridge, sql, target="cache")
        message = str(refused.value)
        assert message.startswith("Refused: table ") and "cache" in message, (sql, message)
    counted = run_adhoc(bridge, "SELECT COUNT(*) AS n FROM contract", target="cache")
    assert counted.rows[0][0] > 0
    mine = run_adhoc(bridge, "WITH c AS (SELECT * FROM contract) SELECT COUNT(*) AS n FROM c", target="cache")
    assert mine.rows == counted.rows
    bridge.cache.dispose()


def test_cache_target_on_sqlite_reads_only_cache_tables(demo_bridge) -> None:
    for sql in ("SELECT * FROM sqlite_master", "SELECT * FROM main.contract", "SELECT * FROM _bridge_meta"):
        result = _cli(demo_bridge, sql, "--target", "cache")
        assert result.exit_code == 2 and result.stderr.startswith("Error: Refused: table "), result.stderr
    assert _cli(demo_bridge, "SELECT COUNT(*) AS n FROM contract_row", "--target", "cache").exit_code == 0


# -- time limits are real numbers of seconds ---------------------------------------------------


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf", "1e308", "-5", "0", "3601", "soon"])
def test_absurd_timeouts_are_refused_on_the_cli(demo_bridge, value: str) -> None:
    result = _cli(demo_bridge, "SELECT 1 AS x", "--timeout", value)
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.startswith("Error: --timeout ") and result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr


def test_a_fractional_timeout_runs(demo_bridge) -> None:
    assert _cli(demo_bridge, "SELECT 1 AS x", "--timeout", "2.5").exit_code == 0


@pytest.mark.parametrize("value", ["nan", "inf", "1e308", "-1", "0", "x"])
def test_absurd_timeouts_are_refused_by_the_library_and_the_setting(
    demo_bridge, make_settings, value
) -> None:
    with pytest.raises(QueryFailed, match=r"^timeout "):
        run_adhoc(demo_bridge, "SELECT 1 AS x", timeout=float(value) if value != "x" else value)  # type: ignore[arg-type]
    with pytest.raises(SettingsError, match="query_timeout"):
        make_settings(query_timeout=value)
