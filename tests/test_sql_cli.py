"""`bpo2-bridge sql`: a query from the argument, a file or standard input; formats, row cap,
refusals and failures in one line (exit 2), and the time limit enforced on every engine."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import time

import pytest
from click.testing import CliRunner

from bpo2_bridge.checks.adhoc import QueryFailed, run_on_url
from bpo2_bridge.cli import main
from bpo2_bridge.demo.generate import build_demo
from bpo2_bridge.source.mapping import load_mapping

SLOW = (
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000) "
    "SELECT COUNT(*) AS c FROM n a CROSS JOIN n b CROSS JOIN n c"
)


@pytest.fixture
def run(demo_bridge, runner):  # type: ignore[no-untyped-def]
    """run(*args, input=None) -> click Result, with the settings of the shared tiny demo."""

    def invoke(*args: str, input: str | None = None):  # type: ignore[no-untyped-def]
        return runner.invoke("sql", *args, bridge=demo_bridge, input=input, catch_exceptions=False)

    return invoke


@pytest.fixture
def names(demo_bridge) -> dict[str, str]:
    mapping = demo_bridge.mapping
    return {"table": mapping["contract"].table, "no": mapping["contract"].physical("contract_no")}


def _source_hash(bridge) -> str:  # type: ignore[no-untyped-def]
    return hashlib.sha256(bridge.settings.demo_source_path.read_bytes()).hexdigest()


def test_query_argument_prints_a_table(run, names) -> None:
    result = run(f'SELECT "{names["no"]}" AS contract_no FROM "{names["table"]}" ORDER BY 1 LIMIT 3')
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].strip() == "contract_no"
    assert len(lines) == 5 and lines[2].startswith("CPC")
    assert "3 rows" in result.stderr


def test_query_from_file_and_from_standard_input(run, names, tmp_path) -> None:
    sql = f'SELECT COUNT(*) AS n FROM "{names["table"]}"'
    path = tmp_path / "q.sql"
    path.write_text(sql + ";\n", encoding="utf-8")
    from_file = run("-f", str(path), "--format", "json")
    from_stdin = run("-", "--format", "json", input=sql)
    assert from_file.exit_code == 0 and from_stdin.exit_code == 0
    assert json.loads(from_file.stdout) == json.loads(from_stdin.stdout)
    assert json.loads(from_file.stdout)[0]["n"] > 10


def test_csv_output_and_row_cap_notice(run, names) -> None:
    result = run(
        f'SELECT "{names["no"]}" AS contract_no FROM "{names["table"]}"', "--max-rows", "4", "--format", "csv"
    )
    assert result.exit_code == 0
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0] == ["contract_no"] and len(rows) == 5
    assert "first 4 rows" in result.stderr and "row cap" in result.stderr


def test_refused_query_exits_2_with_one_line(run, demo_bridge, names) -> None:
    before = _source_hash(demo_bridge)
    result = run(f'DELETE FROM "{names["table"]}"')
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("Error: Refused: DELETE")
    second = run(f'SELECT 1; DROP TABLE "{names["table"]}"')
    assert second.exit_code == 2 and "2 statements" in second.stderr
    assert _source_hash(demo_bridge) == before


def test_failed_query_exits_2_with_the_database_reason(run) -> None:
    result = run("SELECT no_such_column FROM no_such_table")
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: Failed:") and "no_such_table" in result.stderr
    assert result.stderr.count("\n") == 1


def test_bad_usage_exits_2(run, tmp_path) -> None:
    path = tmp_path / "q.sql"
    path.write_text("SELECT 1", encoding="utf-8")
    both = run("SELECT 1", "-f", str(path))
    assert both.exit_code == 2 and "not both" in both.stderr
    assert run("   ").exit_code == 2


def test_unreachable_source_exits_2_in_one_line(demo_bridge) -> None:
    env = {
        "BPO2_BRIDGE_DATA_DIR": str(demo_bridge.settings.data_path),
        "BPO2_BRIDGE_SOURCE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none",
    }
    result = CliRunner().invoke(main, ["sql", "SELECT 1"], env=env, catch_exceptions=False)
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: BPO2 source unreachable:") and result.stderr.count("\n") == 1


def test_target_cache_reads_the_logical_tables(run, demo_bridge) -> None:
    result = run("SELECT COUNT(*) AS n FROM contract", "--target", "cache", "--format", "json")
    assert result.exit_code == 0, result.output
    with demo_bridge.cache.connect() as conn:
        expected = conn.exec_driver_sql("SELECT COUNT(*) FROM contract").scalar()
    assert json.loads(result.stdout) == [{"n": expected}]
    refused = run("DELETE FROM contract", "--target", "cache")
    assert refused.exit_code == 2 and "Refused" in refused.stderr


def test_csv_output_is_what_a_spreadsheet_opens_safely(run, demo_bridge) -> None:
    """The command's CSV neutralises formulas as the web downloads do; amounts and dates stay
    as they are, and JSON carries amounts as numbers."""
    sql = (
        "SELECT contract_no, '=HYPERLINK(\"http://x\")' AS note, '-2+3' AS sum_text, -5 AS credit, "
        "start_date FROM contract ORDER BY contract_no LIMIT 2"
    )
    result = run(sql, "--target", "cache", "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(result.stdout)))
    with demo_bridge.cache.connect() as conn:
        first = conn.exec_driver_sql(
            "SELECT contract_no, start_date FROM contract ORDER BY contract_no LIMIT 1"
        ).one()
    assert rows[0] == ["contract_no", "note", "sum_text", "credit", "start_date"]
    assert rows[1] == [first[0], '\'=HYPERLINK("http://x")', "'-2+3", "-5", str(first[1])[:10]]
    assert len(rows) == 3
    amounts = run("SELECT 12.5 AS amount, 3 AS n", "--target", "cache", "--format", "json")
    assert json.loads(amounts.stdout) == [{"amount": 12.5, "n": 3}]


def test_timeout_through_the_cli(run) -> None:
    started = time.monotonic()
    result = run(SLOW, "--timeout", "1")
    elapsed = time.monotonic() - started
    assert result.exit_code == 2
    assert "ran longer than the 1 s time limit" in result.stderr
    assert elapsed < 5


@pytest.mark.parametrize("kind", ["sqlite", "postgresql", "mariadb"])
def test_slow_query_is_stopped_near_the_timeout_on_every_engine(
    kind, fresh_database, settings, tmp_path
) -> None:
    url = fresh_database(kind)
    build_demo(
        url,
        size="tiny",
        seed=2,
        today=dt.date(2026, 11, 22),
        mapping=load_mapping(settings.mapping_path),
        share_root=tmp_path / "share",
    )
    started = time.monotonic()
    with pytest.raises(QueryFailed) as stopped:
        run_on_url(url, SLOW, max_rows=10, timeout=1.5)
    elapsed = time.monotonic() - started
    assert "ran longer than the 1.5 s time limit" in str(stopped.value)
    assert 1.0 <= elapsed < 5, elapsed
    # the engine is usable again right after: a quick query on a new session works
    assert run_on_url(url, "SELECT 1 AS one", max_rows=1, timeout=5).rows == [(1,)]
