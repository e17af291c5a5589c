"""Build the demo BPO2 source: tables from the mapping, rows streamed in batches, indexes last.

Runs on SQLite, PostgreSQL and MariaDB (the DDL also compiles for SQL Server). The build uses
its own writable engine; the product itself only ever opens the source read-only.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Index,
    MetaData,
    Table,
    create_engine,
    event,
    inspect,
    make_url,
    text,
)
from sqlalchemy.engine import URL
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from ..source.mapping import Mapping
from ..source.model import ENTITIES
from . import content
from .share import DemoShare, demo_share
from .world import World, populate
from .writer import Progress, Writer

ENTITY_ORDER = tuple(e.name for e in ENTITIES)


class DemoError(RuntimeError):
    """The demo source cannot be built where asked; the message says why."""


@dataclass(frozen=True)
class DemoSummary:
    url: str  # without the password
    size: str
    seed: int
    today: dt.date
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    stale_files_removed: int = 0  # attachment files of the previous build, removed from the share


def _writable_engine(url: URL) -> Engine:
    backend = url.get_backend_name()
    engine = create_engine(url)
    if backend == "sqlite":

        @event.listens_for(engine, "connect")
        def _fast(dbapi_conn: Any, _record: Any) -> None:
            # a demo build can simply be redone: no journal, no fsync
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode = OFF")
            cur.execute("PRAGMA synchronous = OFF")
            cur.execute("PRAGMA cache_size = -65536")
            cur.close()

    return engine


def _index_name(table: Table, columns: tuple[str, ...]) -> str:
    return f"IX_{table.name}_" + "_".join(table.c[col].name for col in columns)


def demo_indexes(mapping: Mapping, metadata: MetaData) -> list[Index]:
    """The indexes BPO2 carries for the model's access paths (customer, contract, dates), and
    one on each change column (BPO2 indexes its ModifiedDate / rowversion columns: an
    incremental read of the changed rows is then a range scan, not a table scan)."""
    out = []
    for entity in ENTITIES:
        em = mapping[entity.name]
        table = metadata.tables[em.qualified_table]
        wanted = [columns for columns in entity.indexes if all(col in table.c for col in columns)]
        change = next((col.key for col in table.c if em.change_column and col.name == em.change_column), None)
        if change is not None and (change,) not in wanted:
            wanted.append((change,))
        for columns in wanted:
            out.append(Index(_index_name(table, columns), *(table.c[col] for col in columns)))
    return out


def _prepare(engine: Engine, metadata: MetaData, replace: bool, where: str) -> None:
    inspector = inspect(engine)
    existing = []
    for table in metadata.tables.values():
        if inspector.has_table(table.name, schema=table.schema):
            existing.append(table.name)
    if existing and not replace:
        raise DemoError(
            f"{where} already holds BPO2 tables ({', '.join(sorted(existing))}); "
            "choose an empty database or rebuild with --replace"
        )
    if existing:
        metadata.drop_all(engine, checkfirst=True)
    metadata.create_all(engine)


def _after_load(conn: Connection, mapping: Mapping, metadata: MetaData) -> None:
    for index in demo_indexes(mapping, metadata):
        index.create(conn)
    backend = conn.dialect.name
    if backend == "postgresql":
        # keep serial sequences past the demo ids, so writers can add rows without ids
        quote = conn.dialect.identifier_preparer
        for table in metadata.tables.values():
            pk = list(table.primary_key.columns)
            if len(pk) != 1:
                continue
            name = quote.format_table(table)
            sequence = conn.execute(
                text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": name, "c": pk[0].name}
            ).scalar()
            if sequence:
                top = f"SELECT coalesce(max({quote.quote(pk[0].name)}), 0) + 1 FROM {name}"
                conn.execute(text(f"SELECT setval(:s, ({top}), false)"), {"s": sequence})
    if backend == "sqlite":
        conn.execute(text("PRAGMA analysis_limit = 1000"))  # planner statistics from a sample
        conn.execute(text("ANALYZE"))
    conn.commit()


def build_demo(
    url: str | URL,
    *,
    size: str = "small",
    seed: int = 1,
    today: dt.date,
    mapping: Mapping,
    share_root: Path | None = None,
    share: DemoShare | None = None,
    progress: Progress | None = None,
    replace: bool = False,
    batch_size: int = 10_000,
) -> DemoSummary:
    """Build the deterministic demo BPO2 database at `url`; path-stored attachments go under
    `share_root`. Refuses a database that already has the tables unless `replace`.

    The files the previous build of this database wrote there, and this one did not, are
    removed when this build succeeds (demo/share.py). A caller that moves the database into
    place afterwards passes its own `share` and finishes it then."""
    if size not in content.PROFILES:
        raise DemoError(f"unknown demo size {size!r} (choose {', '.join(content.SIZES)})")
    try:
        parsed = make_url(url) if isinstance(url, str) else url
    except ArgumentError:
        raise DemoError(f"not a valid database URL: {url!r}") from None
    where = parsed.render_as_string(hide_password=True)
    if share is None and share_root is None:
        raise ValueError("build_demo needs share_root or share")
    files: AbstractContextManager[DemoShare] = (
        nullcontext(share) if share is not None else demo_share(Path(share_root or ""), where)
    )
    shown_share = share.root if share is not None else share_root
    started = time.monotonic()
    metadata = mapping.physical_metadata()
    tables = {em.name: metadata.tables[em.qualified_table] for em in mapping}
    engine = _writable_engine(parsed)
    try:
        _prepare(engine, metadata, replace, where)  # refuses before any file is touched
        with files as written, engine.connect() as conn:
            writer = Writer(conn, tables, batch_size, progress)
            world = World(content.PROFILES[size], seed, today, writer.add, written)
            populate(world, progress)
            writer.finish()
            if progress:
                progress("indexes", 0)
            _after_load(conn, mapping, metadata)
    except SQLAlchemyError as exc:
        orig = getattr(exc, "orig", None) or exc
        raise DemoError(f"building the demo in {where} failed: {str(orig).strip().splitlines()[0]}") from exc
    except OSError as exc:  # the share folder for path-stored attachments
        raise DemoError(f"writing demo attachments under {shown_share} failed: {exc}") from exc
    finally:
        engine.dispose()
    counts = {name: writer.counts[name] for name in ENTITY_ORDER}
    seconds = time.monotonic() - started
    return DemoSummary(where, size, seed, today, counts, seconds, len(written.removed))


def build_demo_file(path: Path, *, share_root: Path, replace: bool = False, **options: Any) -> DemoSummary:
    """Build a SQLite demo file next to `path` and move it into place only when complete,
    so a killed build never leaves a half-written source behind. The previous build's stale
    attachment files go only once the new file is in place."""
    path = Path(path)
    if path.exists() and not replace:
        raise DemoError(f"{path} already exists; rebuild it with --replace")
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.part")  # a killed build's leftover is overwritten next time
    partial.unlink(missing_ok=True)
    where = URL.create("sqlite", database=str(path)).render_as_string()
    key = URL.create("sqlite", database=str(path.resolve())).render_as_string()
    try:
        with demo_share(Path(share_root), key) as share:
            summary = build_demo(URL.create("sqlite", database=str(partial)), share=share, **options)
            os.replace(partial, path)
    except OSError as exc:  # the share folder's file list, or moving the file into place
        raise DemoError(f"finishing the demo at {path} failed: {exc}") from exc
    finally:
        partial.unlink(missing_ok=True)
    return DemoSummary(
        where, summary.size, summary.seed, summary.today, summary.counts, summary.seconds, len(share.removed)
    )
