"""The cache schema: one table per logical entity, its cached columns, the grids' indexes.

Table and column names are the logical ones, so SQL files in sql/ read the cache directly.
"""

from __future__ import annotations

from sqlalchemy import Column, Index, MetaData, Table

from .model import ENTITIES, Entity

MAX_NAME = 63


def _table(entity: Entity, metadata: MetaData) -> Table:
    cols = [Column(c.name, c.type, primary_key=c.pk, nullable=c.nullable) for c in entity.cached_columns]
    table = Table(entity.name, metadata, *cols)
    for i, columns in enumerate(entity.indexes):
        # entity and position make the name unique; 63 characters is PostgreSQL's limit
        name = f"ix_{entity.name}_{i}_{'_'.join(columns)}"[:MAX_NAME]
        Index(name, *(table.c[c] for c in columns))
    return table


def cache_metadata() -> MetaData:
    """A new MetaData holding every cache table (create_all on a fresh snapshot)."""
    metadata = MetaData()
    for entity in ENTITIES:
        _table(entity, metadata)
    return metadata


CACHE = cache_metadata()


def cache_table(name: str) -> Table:
    return CACHE.tables[name]
