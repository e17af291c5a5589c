"""The mapping file covers the logical model; mistakes in it are reported clearly."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from sqlalchemy.dialects import mssql
from sqlalchemy.schema import CreateTable

from bpo2_bridge.source.mapping import MappingError, load_mapping
from bpo2_bridge.source.model import ENTITIES

ROOT = Path(__file__).resolve().parent.parent


def _write(tmp_path, data: str) -> Path:
    path = tmp_path / "m.toml"
    path.write_text(data)
    return path


def test_default_mapping_covers_every_entity(settings):
    mapping = load_mapping(settings.mapping_path)
    assert {em.name for em in mapping} == {e.name for e in ENTITIES}
    for em in mapping:
        assert em.table and em.table[0].isupper(), "legacy PascalCase naming"
    ddl = [
        str(CreateTable(t).compile(dialect=mssql.dialect()))
        for t in mapping.physical_metadata().sorted_tables
    ]
    assert len(ddl) == len(ENTITIES)


def test_missing_column_and_unknown_entity_are_named(settings, tmp_path):
    text = settings.mapping_path.read_text()
    broken = text.replace('expiry_date = "EndDate"\n', "")
    with pytest.raises(MappingError, match=r"contract.*expiry_date"):
        load_mapping(_write(tmp_path, broken))
    with pytest.raises(MappingError, match="unknown entities widget"):
        load_mapping(_write(tmp_path, text + '\n[entities.widget]\ntable = "W"\n'))
    with pytest.raises(MappingError, match="not valid TOML"):
        load_mapping(_write(tmp_path, "[entities\n"))


def test_physical_names_appear_only_in_mapping_and_demo(settings):
    """No code or SQL outside the mapping file and the demo generator spells a BPO2 name."""
    data = tomllib.loads(settings.mapping_path.read_text())
    names = set()
    for section in data["entities"].values():
        names.add(section["table"])
        names.update(section["columns"].values())
        if section.get("change_column"):
            names.add(section["change_column"])
    # Single generic words (Name, Status, ...) are ordinary English; look for the distinctive ones.
    distinctive = {n for n in names if re.search(r"[a-z][A-Z]|ID$", n)}
    pattern = re.compile(r"\b(" + "|".join(sorted(map(re.escape, distinctive))) + r")\b")
    offenders = []
    for folder in ("bpo2_bridge", "views", "templates", "sql"):
        for path in (ROOT / folder).rglob("*"):
            if not path.is_file() or path.suffix not in {".py", ".sql", ".html", ".js"}:
                continue
            if "demo" in path.relative_to(ROOT).parts:
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if pattern.search(line):
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not offenders, "\n".join(offenders)
