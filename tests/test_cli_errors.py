"""Bad usage, bad files and bad configuration on the command line: one line on standard error
saying why, exit 2, never a traceback, and nothing done or recorded."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from bpo2_bridge.cli import main
from bpo2_bridge.store.database import sync_runs


def _one_line(result: Any) -> str:
    """The single 'Error: ...' line of a refused command (and that nothing else was said)."""
    assert result.exit_code == 2, (result.exit_code, result.output)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ") and "Traceback" not in result.output
    return lines[0]


@pytest.fixture
def cli(copied_demo, runner):  # type: ignore[no-untyped-def]
    """run(*args, env=None, **settings): the command on a private copy of the synced demo."""
    bridge = copied_demo()

    def run(*args: str, env: dict[str, str] | None = None, **overrides: Any) -> Any:
        return runner.invoke(*args, bridge=bridge, env=env, catch_exceptions=False, **overrides)

    run.bridge = bridge  # type: ignore[attr-defined]
    return run


def _runs(bridge) -> int:  # type: ignore[no-untyped-def]
    with bridge.store.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(sync_runs)).scalar_one())


# -- click usage errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, says",
    [
        (["--nope"], "No such option '--nope'"),
        (["nosuch"], "No such command 'nosuch'"),
        (["sql", "--nope"], "No such option '--nope'"),
        (["sql", "--max-rows", "many", "SELECT 1"], "'--max-rows'"),
        (["sync", "--format", "xml"], "'--format'"),
        (["report"], "Missing argument 'CONTRACT_NO'"),
        (["users", "add", "x", "--role", "boss"], "'--role'"),
        (["checks", "run", "--bogus"], "No such option '--bogus'"),
        (["sql", "-f", "/no/such/file.sql"], "No such file"),
    ],
)
def test_usage_errors_are_one_line(tmp_path, args: list[str], says: str) -> None:
    result = CliRunner().invoke(main, args, env={"BPO2_BRIDGE_DATA_DIR": str(tmp_path)})
    line = _one_line(result)
    assert says in line
    assert "--help" in line  # where to look, on the same line
    assert "Usage:" not in result.output


def test_help_is_still_help() -> None:
    result = CliRunner().invoke(main, ["sync", "--help"])
    assert result.exit_code == 0 and "Usage:" in result.output
    bare = CliRunner().invoke(main, ["users"])
    assert "Usage:" in bare.output and "Error" not in bare.output


@pytest.mark.parametrize(
    "args",
    [
        ["sync", "--full", "--incremental"],
        ["sync", "--incremental", "--full"],
        ["sync", "--full", "--customer", "ACC00001"],
        ["sync", "--incremental", "--customer", "ACC00001"],
    ],
)
def test_sync_modes_cannot_be_combined(cli, args: list[str]) -> None:
    before = _runs(cli.bridge)
    line = _one_line(cli(*args))
    assert "cannot be combined" in line
    assert _runs(cli.bridge) == before  # no sync ran


# -- files -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content, says",
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe", "is not UTF-8 text"),
        (b"SELECT 1\x00\x00\x00", "NUL bytes"),
    ],
)
def test_sql_from_a_binary_file_is_refused(cli, tmp_path, content: bytes, says: str) -> None:
    path = tmp_path / "query.sql"
    path.write_bytes(content)
    line = _one_line(cli("sql", "-f", str(path)))
    assert says in line and "query.sql" in line


@pytest.mark.parametrize("option", ["--pdf", "--html"])
def test_report_into_a_missing_folder_is_refused_before_work(cli, tmp_path, option: str) -> None:
    target = tmp_path / "missing" / "dir" / "x.out"
    with cli.bridge.cache.connect() as conn:
        from sqlalchemy import text

        contract_no = conn.execute(text("SELECT MIN(contract_no) FROM contract")).scalar_one()
    line = _one_line(cli("report", contract_no, option, str(target)))
    assert "does not exist" in line and str(target.parent) in line
    assert not target.parent.exists()


def test_report_write_failure_leaves_no_half_file(cli, tmp_path) -> None:
    folder = tmp_path / "locked"
    folder.mkdir()
    target = folder / "x.html"
    target.mkdir()  # a folder where the file should go: the write fails
    with cli.bridge.cache.connect() as conn:
        from sqlalchemy import text

        contract_no = conn.execute(text("SELECT MIN(contract_no) FROM contract")).scalar_one()
    line = _one_line(cli("report", contract_no, "--html", str(target)))
    assert "x.html" in line
    assert sorted(p.name for p in folder.iterdir()) == ["x.html"]  # no partial file left behind


# -- bad configuration under status and sql ----------------------------------------------------------


# (key, value); {file} is a file where a folder is expected
BAD_VALUES = {
    "source_url not a URL": ("source_url", "notaurl"),
    "source_url unknown driver": ("source_url", "postgresql+nodriver://x@h/db"),
    "cache_url not a URL": ("cache_url", "garbage"),
    "cache_url unsupported engine": ("cache_url", "mysql+pyodbc://root@127.0.0.1/db?driver=MariaDB"),
    "store_url not a URL": ("store_url", "::::"),
    "data_dir is a file": ("data_dir", "{file}"),
    "data_dir under a file": ("data_dir", "{file}/data"),
}


@pytest.mark.parametrize("command", [["status"], ["sql", "--target", "cache", "SELECT 1"]])
@pytest.mark.parametrize("case", list(BAD_VALUES))
def test_bad_urls_and_data_dir_stop_in_one_line(tmp_path, command: list[str], case: str) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    key, value = BAD_VALUES[case]
    env = {
        "BPO2_BRIDGE_DATA_DIR": str(tmp_path / "data"),
        f"BPO2_BRIDGE_{key.upper()}": value.format(file=a_file),
    }
    line = _one_line(CliRunner().invoke(main, command, env=env))
    assert f"'{key}'" in line


def test_bad_data_dir_under_sql_on_the_source_is_one_line(tmp_path) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    result = CliRunner().invoke(main, ["sql", "SELECT 1"], env={"BPO2_BRIDGE_DATA_DIR": str(a_file)})
    assert "a-file" in _one_line(result)


# -- the mapping file --------------------------------------------------------------------------------

NEEDS_MAPPING = [
    ["sync"],
    ["sync", "--full"],
    ["cache", "rebuild"],
    ["checks", "run"],
    ["schema", "check"],
    ["report", "X", "--source"],
]  # serve and scheduler run until stopped: tested in a child process below


@pytest.mark.parametrize("command", [*NEEDS_MAPPING, ["status"], ["sql", "SELECT 1"]])
def test_a_mapping_file_pointing_nowhere_stops_every_command_at_start(cli, tmp_path, command) -> None:
    before = _runs(cli.bridge)
    line = _one_line(cli(*command, mapping_file=str(tmp_path / "nowhere.toml")))
    assert "'mapping_file'" in line and "nowhere.toml" in line
    assert _runs(cli.bridge) == before


@pytest.mark.parametrize("command", NEEDS_MAPPING)
def test_a_broken_mapping_file_stops_each_command_needing_it_at_start(cli, tmp_path, command) -> None:
    broken = tmp_path / "mapping.toml"
    broken.write_text("[entities.customer]\ntable = \n", encoding="utf-8")
    before = _runs(cli.bridge)
    line = _one_line(cli(*command, mapping_file=str(broken)))
    assert "mapping.toml" in line
    assert _runs(cli.bridge) == before  # refused before a failed sync could be recorded


@pytest.mark.parametrize("command", [["serve", "--no-scheduler"], ["scheduler"]])
@pytest.mark.parametrize("mapping", ["broken", "nowhere"])
def test_long_running_commands_with_a_bad_mapping_file_stop_at_start(
    copied_demo, tmp_path, command: list[str], mapping: str
) -> None:
    bridge = copied_demo()
    broken = tmp_path / "mapping.toml"
    if mapping == "broken":
        broken.write_text("[entities.customer]\ntable = \n", encoding="utf-8")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        **os.environ,
        "BPO2_BRIDGE_DATA_DIR": str(bridge.settings.data_path),
        "BPO2_BRIDGE_MAPPING_FILE": str(broken),
        "BPO2_BRIDGE_SECRET_KEY": "test",
        "PYTHONWARNINGS": "ignore",
    }
    # a child process: were the mapping noticed late, it would serve (or wait for jobs) until killed
    done = subprocess.run(
        [sys.executable, "-c", "from bpo2_bridge.cli import main; main()", *command]
        + (["--port", str(port)] if command[0] == "serve" else []),
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and "mapping.toml" in done.stderr
