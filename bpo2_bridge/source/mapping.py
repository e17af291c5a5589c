"""The mapping file: logical entities and columns -> physical BPO2 tables and columns."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Column, MetaData, Table

from .model import ENTITIES, Entity

# Columns an install may leave unmapped (attachment storage: bytes and/or share path).
OPTIONAL_COLUMNS = frozenset({("case_attachment", "content"), ("case_attachment", "file_path")})
CHANGE_KINDS = ("rowversion", "datetime")


class MappingError(ValueError):
    """The mapping file is unreadable or does not cover the logical model."""


@dataclass(frozen=True)
class EntityMap:
    entity: Entity
    table: str
    schema: str | None
    columns: dict[str, str]  # logical -> physical, only mapped columns
    change_column: str | None
    change_kind: str | None

    @property
    def name(self) -> str:
        return self.entity.name

    def physical(self, logical: str) -> str:
        return self.columns[logical]

    def has(self, logical: str) -> bool:
        return logical in self.columns

    @property
    def qualified_table(self) -> str:
        return f"{self.schema}.{self.table}" if self.schema else self.table


@dataclass(frozen=True)
class Mapping:
    path: Path
    entities: dict[str, EntityMap]

    def __getitem__(self, name: str) -> EntityMap:
        return self.entities[name]

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.entities.values())

    def physical_metadata(self) -> MetaData:
        """Tables with physical names and logical column keys, typed from the model (for DDL)."""
        md = MetaData()
        for em in self:
            physical_table(em, md)
        return md


def physical_table(em: EntityMap, metadata: MetaData) -> Table:
    cols = []
    for col in em.entity.columns:
        if not em.has(col.name):
            continue
        cols.append(
            Column(em.physical(col.name), col.type, key=col.name, primary_key=col.pk, nullable=col.nullable)
        )
    change = em.change_column
    if change and change not in em.columns.values():
        # the change column is not a logical column: keep it physical-only
        from sqlalchemy import DateTime, LargeBinary

        cols.append(
            Column(change, LargeBinary(8) if em.change_kind == "rowversion" else DateTime(), key="_change")
        )
    return Table(em.table, metadata, *cols, schema=em.schema)


def load_mapping(path: str | Path) -> Mapping:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MappingError(f"mapping file {path} not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise MappingError(f"mapping file {path}: not valid TOML: {exc}") from None
    raw = data.get("entities")
    if not isinstance(raw, dict):
        raise MappingError(f"{path}: no [entities.*] sections")
    unknown = sorted(set(raw) - {e.name for e in ENTITIES})
    if unknown:
        raise MappingError(f"{path}: unknown entities {', '.join(unknown)}")
    out: dict[str, EntityMap] = {}
    for ent in ENTITIES:
        section = raw.get(ent.name)
        if not isinstance(section, dict):
            raise MappingError(f"{path}: entity {ent.name!r} is not mapped ([entities.{ent.name}])")
        where = f"{path}: [entities.{ent.name}]"
        table = section.get("table")
        if not isinstance(table, str) or not table:
            raise MappingError(f"{where}: 'table' must name the physical table")
        columns = section.get("columns", {})
        if not isinstance(columns, dict) or not all(isinstance(v, str) and v for v in columns.values()):
            raise MappingError(f"{where}.columns: every value must be a physical column name")
        extra = sorted(set(columns) - {c.name for c in ent.columns})
        if extra:
            raise MappingError(f"{where}.columns: unknown logical columns {', '.join(extra)}")
        missing = [
            c.name
            for c in ent.columns
            if c.name not in columns and (ent.name, c.name) not in OPTIONAL_COLUMNS
        ]
        if missing:
            raise MappingError(f"{where}.columns: logical columns not mapped: {', '.join(missing)}")
        if ent.name == "case_attachment" and not ({"content", "file_path"} & set(columns)):
            raise MappingError(f"{where}.columns: map 'content' (bytes) and/or 'file_path' (share path)")
        change = section.get("change_column")
        kind = section.get("change_kind", "datetime" if change else None)
        if change is not None and (not isinstance(change, str) or not change):
            raise MappingError(f"{where}: 'change_column' must be a column name")
        if change and kind not in CHANGE_KINDS:
            raise MappingError(f"{where}: 'change_kind' must be one of {', '.join(CHANGE_KINDS)}")
        schema = section.get("schema")
        out[ent.name] = EntityMap(ent, table, schema or None, dict(columns), change, kind if change else None)
    return Mapping(path, out)
