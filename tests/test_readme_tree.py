"""The README's "How it is built" table is the house as it stands: every path it names exists,
and every package and root module of bpo2_bridge is in it."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "bpo2_bridge"


def _table() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## How it is built", 1)[1].split("\n## ", 1)[0]
    return "\n".join(line for line in section.splitlines() if line.startswith("|"))


def _named(table: str) -> set[str]:
    return set(re.findall(r"`((?:bpo2_bridge|sql|views|templates|tests|bench|config)/[^`]*)`", table))


def test_every_path_the_table_names_exists() -> None:
    named = _named(_table())
    assert len(named) > 20
    missing = sorted(p for p in named if "*" not in p and not (ROOT / p).exists())
    assert missing == [], f"README names paths that are gone: {missing}"


def test_every_package_and_root_module_is_in_the_table() -> None:
    named = _named(_table())
    packages = {
        f"{p.parent.relative_to(ROOT).as_posix()}/"
        for p in PACKAGE.rglob("__init__.py")
        if p.parent != PACKAGE and not p.parent.is_symlink() and not any(x.is_symlink() for x in p.parents)
    }
    modules = {f"bpo2_bridge/{p.name}" for p in PACKAGE.glob("*.py") if p.name != "__init__.py"}
    left_out = sorted((packages | modules) - named)
    assert left_out == [], f"README's 'How it is built' table leaves out: {left_out}"
