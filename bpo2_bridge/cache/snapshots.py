"""The cache: snapshots of the cached entities, and the pointer that says which one serves.

A full sync writes a new snapshot (a SQLite file under data_dir/cache, or a PostgreSQL schema)
and then moves the pointer, held in the application store, in one store transaction. Readers
look the pointer up on every `connect()`, so they switch to a new snapshot at once (it serves
at full speed from its first request: everything the grids read is stored and indexed in it)
and never see a snapshot being written. Incremental sync and per-customer refresh change the current snapshot in place, one
transaction each. The previous snapshot is kept for readers still on it; older
ones are deleted lazily (an open SQLite file cannot be deleted on Windows).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event, func, make_url, or_, select, text
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from ..settings import Settings
from ..store import database as app_store
from . import search as search_index
from .engines import builder_engine, pool_sizes, reader_engine, writer_engine
from .schema import CACHE
from .time_limit import pg_statement_timeout, raising_query_timeout

# key of Connection.info holding the snapshot a cache connection reads
SNAPSHOT_INFO = "bpo2_snapshot"
META_TABLE = "_bridge_meta"  # key/value inside each snapshot: watermarks, schema fingerprint
PG_SCHEMA_PREFIX = "bpo2_cache_"
RUN_KINDS = ("full", "incremental")  # syncs that speak for the whole cache


class CacheMissing(RuntimeError):
    """No snapshot is serving yet (or its file was deleted): a full sync builds one."""


class CacheBusy(RuntimeError):
    """Another writer held the serving snapshot for longer than a write waits (engines.WRITE_WAIT_SECONDS)."""

    def __init__(self) -> None:
        super().__init__("Another update is writing the cache; try again in a minute.")


def schema_fingerprint() -> str:
    """Changes whenever the cached tables, columns or indexes change, so old snapshots get
    rebuilt (an index a grid's plan counts on would otherwise be missing until a full sync)."""
    parts = [f"{t.name}:{c.name}:{c.type!r}:{c.primary_key}" for t in CACHE.sorted_tables for c in t.columns]
    parts += sorted(f"{i.name}:{[c.name for c in i.columns]}" for t in CACHE.sorted_tables for i in t.indexes)
    parts += [statement for searched in search_index.SEARCHED for statement in searched.sqlite_ddl()]
    return hashlib.sha1("\n".join(parts).encode()).hexdigest()[:16]


class Cache:
    def __init__(self, settings: Settings, store_engine: Engine) -> None:
        self.settings = settings
        self.store = store_engine
        raw = settings.cache_url
        url = make_url(raw) if raw else None
        backend = url.get_backend_name() if url is not None else "sqlite"
        if backend == "sqlite":
            self.kind = "sqlite"
            path = Path(url.database) if url is not None and url.database else None
            self.folder = path.parent if path else settings.data_path / "cache"
            self.stem = path.stem if path else "cache"
            identity = f"sqlite:{self.folder.resolve()}/{self.stem}"
            self._dialect: Dialect = create_engine("sqlite://").dialect
            self._pg: Engine | None = None
        elif backend == "postgresql":
            self.kind = "postgresql"
            assert url is not None
            identity = url.render_as_string(hide_password=True)
            # as with SQLite, connections kept for the web threads rather than one opened per request
            self._pg = create_engine(url, pool_pre_ping=True, **pool_sizes(settings.threads))
            self._dialect = self._pg.dialect
        else:
            raise ValueError(f"cache_url: unsupported database {backend!r} (use sqlite or postgresql)")
        self._key = "cache.current." + hashlib.sha1(identity.encode()).hexdigest()[:16]
        self._readers: dict[str, Engine] = {}
        self._lock = threading.Lock()
        # the pointer reads of the unit of work (a web request) each thread is serving
        self._unit = threading.local()

    # -- one unit of work --------------------------------------------------------------------

    def remember_pointers(self) -> None:
        """From now on in this thread, read each snapshot pointer once and share one cache
        connection (until `forget_pointers`).

        A web request calls it first, so its several `connect()` calls (sign-in's employee, the
        view, the layout) cost one store query and one connection, and read one snapshot; the
        next request reads the pointer again and sees a snapshot another process published
        meanwhile."""
        self._unit.pointers = {}

    def forget_pointers(self) -> None:
        """The unit of work is over: its shared connection goes back to the pool."""
        self._unit.pointers = None
        self.release()

    def release(self) -> None:
        """Give the unit of work's shared connection back now, before long work that reads no
        more (a PDF drawn, an email sent): a thread waiting holds no connection or transaction."""
        held: ExitStack | None = getattr(self._unit, "held", None)
        self._unit.conn = self._unit.held = None
        if held is not None:
            held.close()

    def _pointers(self) -> dict[str, str | None] | None:
        memo: dict[str, str | None] | None = getattr(self._unit, "pointers", None)
        return memo

    # -- what readers use --------------------------------------------------------------------

    @property
    def dialect(self) -> Dialect:
        return self._dialect

    def current(self) -> str | None:
        """Name of the snapshot serving now (None before the first full sync)."""
        memo = self._pointers()
        if memo is None:
            return self._state(self._key)
        if self._key not in memo:
            memo[self._key] = self._state(self._key)
        return memo[self._key]

    def previous(self) -> str | None:
        return self._state(self._key + ".previous")

    def exists(self) -> bool:
        name = self.current()
        return name is not None and self._snapshot_exists(name)

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """A read-only connection on the current snapshot; tables are named as the entities.

        A request reads one snapshot throughout, even when a sync publishes another meanwhile.
        Within a unit of work (`remember_pointers`) every call hands out the unit's one
        connection, opened at the first; a block that raises gives it up, so the next one starts
        on a fresh connection (a PostgreSQL transaction an error ended takes no more statements)."""
        shared: Connection | None = getattr(self._unit, "conn", None)
        if shared is None:
            memo = self._pointers()
            name = memo.get(self._key + ".read") if memo is not None else None
            if name is None:
                name = self.current()
                if name is None:
                    raise CacheMissing("the cache is empty: run `bpo2-bridge sync --full`")
                if memo is not None:
                    memo[self._key + ".read"] = name
                self._retire_others(name)
            if memo is None:  # no unit of work: a connection for this block alone
                with self._open(name) as conn, raising_query_timeout(self.settings.screen_query_timeout):
                    yield conn
                return
            held = ExitStack()
            shared = held.enter_context(self._open(name))
            self._unit.conn, self._unit.held = shared, held
        try:
            with raising_query_timeout(self.settings.screen_query_timeout):
                yield shared
        except BaseException:
            self.release()
            raise

    @contextmanager
    def _open(self, name: str) -> Iterator[Connection]:
        """A read-only connection on snapshot ``name``."""
        if self._pg is not None:
            with self._pg.connect() as conn:
                # one round trip for all; the name is kept for readers (cache_state.snapshot_name)
                conn.exec_driver_sql(
                    f"SET TRANSACTION READ ONLY; SET LOCAL search_path TO {self._quote(name)}; "
                    + pg_statement_timeout(self.settings.screen_query_timeout)
                )
                conn.info[SNAPSHOT_INFO] = name
                try:
                    yield conn
                finally:  # the pooled connection reads another snapshot next time
                    conn.info.pop(SNAPSHOT_INFO, None)
            return
        try:
            engine = self._reader(name)
            conn = engine.connect()
        except Exception as exc:
            if not self._snapshot_exists(name):
                raise CacheMissing(
                    f"cache snapshot {name} is missing: run `bpo2-bridge sync --full`"
                ) from exc
            raise
        try:
            yield conn
        finally:
            with self._lock:
                retired = self._readers.get(name) is not engine
            if retired:
                # a newer snapshot serves and this engine's pool is gone: closed now, the
                # connection would wait for the garbage collector, holding its page cache and
                # keeping the retired file open (its disk space not freed; on Windows, the file
                # not deletable)
                conn.invalidate()
            conn.close()

    def check(self) -> None:
        """Read one small row of the serving snapshot; raises CacheMissing (no snapshot, or its
        file or schema is gone) or the driver's error (a damaged file). For /healthz: a host
        whose snapshot cannot be read must leave the load balancer's rotation."""
        name = self.current()
        # a pooled SQLite connection keeps reading a deleted file: the next start would not
        if name is not None and self._pg is None and not self._snapshot_exists(name):
            raise CacheMissing(f"cache snapshot {name} is missing: run `bpo2-bridge sync --full`")
        with self.connect() as conn:
            try:
                conn.exec_driver_sql(f"SELECT value FROM {META_TABLE} WHERE key = 'fingerprint'").all()
            except Exception as exc:
                if name is not None and self._pg is not None and not self._snapshot_exists(name):
                    raise CacheMissing(
                        f"cache snapshot {name} is missing: run `bpo2-bridge sync --full`"
                    ) from exc
                raise

    def as_of(self) -> dt.datetime | None:
        """When the last successful sync that produced or updated the current snapshot finished."""
        name = self.current()
        if name is None:
            return None
        runs = app_store.sync_runs
        with self.store.connect() as conn:
            return conn.execute(
                select(func.max(runs.c.finished_at)).where(
                    runs.c.status == "ok", runs.c.kind.in_(RUN_KINDS), runs.c.snapshot == name
                )
            ).scalar()

    def last_failure(self) -> tuple[dt.datetime, str] | None:
        """The latest failed sync since the last successful one, with its reason."""
        with self.store.connect() as conn:  # one query: every page's freshness line asks
            row = conn.execute(_LAST_FAILURE).first()
        if row is None:
            return None
        return (row.finished_at or row.started_at, row.error or "unknown error")

    def size_bytes(self) -> int | None:
        """Disk space of the current snapshot."""
        name = self.current()
        if name is None:
            return None
        if self._pg is not None:
            with self._pg.connect() as conn:
                # SUM of bigint is numeric in PostgreSQL: a Decimal, made a whole int here
                return int(
                    conn.execute(
                        text(
                            "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0) FROM pg_class c"
                            " JOIN pg_namespace n ON n.oid = c.relnamespace"
                            " WHERE n.nspname = :schema AND c.relkind = 'r'"
                        ),
                        {"schema": name},
                    ).scalar_one()
                )
        files = [self.path(name), Path(f"{self.path(name)}-wal")]
        return sum(f.stat().st_size for f in files if f.exists())

    # -- what sync uses ----------------------------------------------------------------------

    def path(self, name: str) -> Path:
        return self.folder / f"{name}.sqlite"

    def new_name(self) -> str:
        stamp = dt.datetime.now().strftime("%Y%m%dT%H%M%S")
        if self.kind == "sqlite":
            return f"{self.stem}-{stamp}-{secrets.token_hex(3)}"
        return f"{PG_SCHEMA_PREFIX}{stamp.lower()}_{secrets.token_hex(3)}"

    def open_builder(self, name: str) -> Engine:
        """Engine writing a new, unpublished snapshot (created empty); tables unqualified."""
        if self._pg is not None:
            with self._pg.begin() as conn:
                conn.exec_driver_sql(f"CREATE SCHEMA {self._quote(name)}")
            engine = create_engine(self._pg.url, poolclass=NullPool)
            schema = self._quote(name)

            @event.listens_for(engine, "connect")
            def _search_path(dbapi_conn, _record):  # type: ignore[no-untyped-def]
                with dbapi_conn.cursor() as cur:
                    cur.execute(f"SET search_path TO {schema}")
                dbapi_conn.commit()

            return engine
        self.folder.mkdir(parents=True, exist_ok=True)
        return builder_engine(self.path(name))

    def finish_builder(self, name: str, engine: Engine) -> None:
        """Make a written snapshot durable and ready for concurrent readers (on PostgreSQL:
        vacuumed and analysed)."""
        if self._pg is not None:
            # VACUUM runs outside a transaction. It marks the freshly loaded pages all-visible,
            # so index-only scans skip the heap from the first request on; before autovacuum
            # comes round, a cold Customers list sorted by active contracts took 1.4 s, 0.34 s
            # after. Only this snapshot's tables: the serving one is none of its business.
            names = ", ".join(self._quote(t) for t in (*(t.name for t in CACHE.sorted_tables), META_TABLE))
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql(f"VACUUM (ANALYZE) {names}")
        else:
            raw = engine.raw_connection()  # outside any transaction: the journal mode can change
            try:
                raw.driver_connection.execute("PRAGMA journal_mode=WAL")  # type: ignore[union-attr]
            finally:
                raw.close()
        engine.dispose()

    def discard(self, name: str) -> None:
        """Delete an unpublished or retired snapshot; failures are left for the next clean."""
        with self._lock:
            engine = self._readers.pop(name, None)
        if engine is not None:
            engine.dispose()
        if self._pg is not None:
            try:
                with self._pg.begin() as conn:
                    conn.exec_driver_sql("SET LOCAL lock_timeout = '2s'")
                    conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {self._quote(name)} CASCADE")
            except Exception:
                pass  # readers still on it: dropped at a later clean
            return
        for suffix in ("", "-wal", "-shm", "-journal"):
            try:
                Path(f"{self.path(name)}{suffix}").unlink(missing_ok=True)
            except OSError:
                pass  # open elsewhere (Windows): deleted at a later clean

    def publish(self, conn: Connection, name: str) -> None:
        """Point readers at `name`, inside the caller's store transaction."""
        memo = self._pointers()
        if memo is not None:  # a publish inside a remembering context: read the pointer again
            memo.pop(self._key, None)
        current = self.current_in(conn)
        if current and current != name:
            _put_state(conn, self._key + ".previous", current)
        _put_state(conn, self._key, name)

    def current_in(self, conn: Connection) -> str | None:
        return conn.execute(
            select(app_store.state.c.value).where(app_store.state.c.key == self._key)
        ).scalar()

    def clean(self, keep_previous: bool = True) -> list[str]:
        """Delete snapshots that neither serve nor may still have readers; returns those tried."""
        keep = {self.current()}
        if keep_previous:
            keep.add(self.previous())
        gone = [name for name in self.list_snapshots() if name not in keep]
        for name in gone:
            self.discard(name)
        return gone

    def list_snapshots(self) -> list[str]:
        if self._pg is not None:
            with self._pg.connect() as conn:
                rows = conn.execute(
                    text("SELECT nspname FROM pg_namespace WHERE nspname LIKE :p"),
                    {"p": PG_SCHEMA_PREFIX + "%"},
                ).scalars()
                return sorted(rows)
        if not self.folder.exists():
            return []
        return sorted(p.name[: -len(".sqlite")] for p in self.folder.glob(f"{self.stem}-*.sqlite"))

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One write transaction on the current snapshot (incremental sync, refresh).

        The unit of work's shared connection is given up after it: its transaction began before
        the write, and what the unit reads next (Refresh's list of changes) must include it."""
        name = self.current()
        if name is None or not self._snapshot_exists(name):
            raise CacheMissing("the cache is empty: run `bpo2-bridge sync --full`")
        try:
            if self._pg is not None:
                with self._pg.begin() as conn:
                    conn.exec_driver_sql(f"SET LOCAL search_path TO {self._quote(name)}")
                    yield conn
                return
            engine = self._writer(name)
            try:
                with _began(engine) as conn:
                    yield conn
            finally:
                engine.dispose()
        finally:
            self.release()

    def read_meta(self, conn: Connection) -> dict[str, str]:
        rows = conn.exec_driver_sql(f"SELECT key, value FROM {META_TABLE}").all()
        return {k: v for k, v in rows}

    def write_meta(self, conn: Connection, values: dict[str, str]) -> None:
        mark = "?" if self.kind == "sqlite" else "%s"
        conn.exec_driver_sql(
            f"DELETE FROM {META_TABLE} WHERE key IN ({', '.join(mark for _ in values)})", tuple(values)
        )
        conn.exec_driver_sql(
            f"INSERT INTO {META_TABLE} (key, value) VALUES ({mark}, {mark})", list(values.items())
        )

    def dispose(self) -> None:
        with self._lock:
            engines = list(self._readers.values())
            self._readers.clear()
        for engine in engines:
            engine.dispose()
        if self._pg is not None:
            self._pg.dispose()

    # -- internals ---------------------------------------------------------------------------

    def _quote(self, name: str) -> str:
        return self._dialect.identifier_preparer.quote_identifier(name)

    def _state(self, key: str) -> str | None:
        with self.store.connect() as conn:
            return conn.execute(select(app_store.state.c.value).where(app_store.state.c.key == key)).scalar()

    def _snapshot_exists(self, name: str) -> bool:
        if self._pg is not None:
            with self._pg.connect() as conn:
                found = conn.execute(
                    text("SELECT 1 FROM pg_namespace WHERE nspname = :n"), {"n": name}
                ).scalar()
                return found is not None
        return self.path(name).exists()

    def _reader(self, name: str) -> Engine:
        with self._lock:
            engine = self._readers.get(name)
            if engine is None:
                engine = self._readers[name] = reader_engine(
                    self.path(name), self.settings.threads, timeout=self.settings.screen_query_timeout
                )
            return engine

    def _retire_others(self, serving: str) -> None:
        """Close the pools of snapshots other than ``serving``; requests still reading one keep
        their connection until it comes back (closed then, see _open)."""
        with self._lock:
            old = [self._readers.pop(n) for n in list(self._readers) if n != serving]
        for engine in old:
            engine.dispose()

    def _writer(self, name: str) -> Engine:
        return writer_engine(self.path(name))


@contextmanager
def _began(engine: Engine) -> Iterator[Connection]:
    """``engine.begin()``, its write lock not had in time raised as CacheBusy."""
    with engine.connect() as conn:
        try:
            transaction = conn.begin()
        except OperationalError as exc:
            if getattr(exc.orig, "sqlite_errorcode", None) == sqlite3.SQLITE_BUSY:
                raise CacheBusy() from exc
            raise
        with transaction:
            yield conn


def _last_failure_query():  # type: ignore[no-untyped-def]
    runs = app_store.sync_runs
    last_ok = (
        select(func.max(runs.c.finished_at))
        .where(runs.c.status == "ok", runs.c.kind.in_(RUN_KINDS))
        .scalar_subquery()
    )
    return (
        select(runs.c.finished_at, runs.c.started_at, runs.c.error)
        .where(
            runs.c.status == "failed",
            runs.c.kind.in_(RUN_KINDS),
            or_(last_ok.is_(None), runs.c.started_at >= last_ok),
        )
        .order_by(runs.c.id.desc())
        .limit(1)
    )


_LAST_FAILURE = _last_failure_query()


def _put_state(conn: Connection, key: str, value: str) -> None:
    state = app_store.state
    now = dt.datetime.now()
    updated = conn.execute(state.update().where(state.c.key == key).values(value=value, updated_at=now))
    if updated.rowcount == 0:
        conn.execute(state.insert().values(key=key, value=value, updated_at=now))
