"""The built wheel carries templates, SQL and config, found from any directory; every command
has help and is documented."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import click
import pytest

from bpo2_bridge.cli import main

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(out),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (path,) = out.glob("bpo2_bridge-*.whl")
    return path


def test_wheel_contains_resources(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in (
        "bpo2_bridge/config/mapping.toml",
        "bpo2_bridge/config/bpo2-bridge.toml",
        "bpo2_bridge/sql/contract_windows.sql",
        "bpo2_bridge/templates/base.html",
        "bpo2_bridge/views/__init__.py",
    ):
        assert required in names, f"{required} missing from the wheel"
    for folder in ("sql", "templates"):
        on_disk = {
            p.relative_to(ROOT / folder).as_posix()
            for p in (ROOT / folder).rglob("*")
            if p.is_file()
            and "__pycache__" not in p.parts
            and p.suffix in {".sql", ".html", ".css", ".js", ".svg"}
        }
        packaged = {
            n.split(f"bpo2_bridge/{folder}/", 1)[1] for n in names if n.startswith(f"bpo2_bridge/{folder}/")
        }
        assert on_disk <= packaged, f"not packaged: {sorted(on_disk - packaged)}"


def test_installed_wheel_finds_its_files_from_any_directory(wheel, tmp_path):
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(wheel)],
        check=True,
        capture_output=True,
    )
    probe = (
        "import bpo2_bridge, pathlib;"
        "from bpo2_bridge.queries import sqlfiles;"
        "from bpo2_bridge.settings import load_settings;"
        "from bpo2_bridge.source.mapping import load_mapping;"
        "from importlib.resources import files;"
        "s = load_settings(environ={});"
        "print(bpo2_bridge.__file__);"
        "print(len(load_mapping(s.mapping_path).entities));"
        "print(len(sqlfiles.list_files()) > 0);"
        "print(files('bpo2_bridge.templates').joinpath('base.html').is_file())"
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, env=env, check=True, capture_output=True, text=True
    ).stdout.split()
    assert out[0].startswith(str(site)), "the wheel's copy must be the one imported"
    assert out[1:] == ["17", "True", "True"]


def _commands(group: click.Group, prefix: str = ""):
    for name, command in group.commands.items():
        yield f"{prefix}{name}", command
        if isinstance(command, click.Group):
            yield from _commands(command, f"{prefix}{name} ")


def test_every_command_has_help_and_is_documented():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = dict(_commands(main))
    assert {
        "demo",
        "demo-db",
        "serve",
        "sync",
        "status",
        "schema",
        "sql",
        "checks",
        "report",
        "users",
    } <= set(commands)
    for name, command in commands.items():
        assert (command.help or "").strip(), f"`bpo2-bridge {name}` has no help text"
        top = name.split()[0]
        assert f"bpo2-bridge {top}" in readme, f"`bpo2-bridge {top}` is not documented in README.md"
