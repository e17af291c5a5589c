"""The application store: what must survive a cache rebuild.

Users and their own options (digest, calendar feed), sync history, the email log, check
results, schema checks, full syncs requested from the Status page, login throttling, the
scheduler lock and small key/value state live here, apart from the disposable cache.
"""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    make_url,
)
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from ..settings import Settings, SettingsError

metadata = MetaData()

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("login", String(100), nullable=False, unique=True),
    Column("password_hash", String(255)),  # empty in header auth mode
    Column("role", String(10), nullable=False),  # user | admin | ops
    Column("employee_login", String(100)),  # BPO2 employee login the user maps to
    Column("created_at", DateTime, nullable=False),
    Column("session_version", Integer, nullable=False, default=0),  # generation; moved on to end sessions
)

sync_runs = Table(
    "sync_runs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", String(20), nullable=False),  # full | incremental | customer
    Column("target", String(40)),  # account no for a customer refresh
    Column("started_at", DateTime, nullable=False),
    Column("finished_at", DateTime),
    Column("status", String(10), nullable=False, index=True),  # running | ok | failed
    Column("error", Text),
    Column("rows_json", Text),  # {"entity": rows, ...}
    Column("changes_json", Text),  # {"entity": {"added": n, "changed": n, "removed": n}}
    Column("snapshot", String(200)),
    Column("host", String(100)),
    # Every grid request asks when the snapshot it reads was last synced (cache_state.py, as
    # Cache.as_of does): the newest ok full or incremental run of that snapshot. This index
    # answers it from the index alone, however many runs there are (runs writing now are few:
    # the status index finds them). Pruning (retention.py) keeps the table itself bounded.
    Index("ix_sync_runs_snapshot_state", "snapshot", "status", "kind", "finished_at"),
)

email_log = Table(
    "email_log",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("sent_at", DateTime, nullable=False, index=True),
    Column("user_login", String(100), nullable=False, index=True),
    Column("contract_no", String(40), nullable=False),
    Column("to_addr", Text, nullable=False),
    Column("cc_addr", Text),
    Column("subject", Text),
    Column("outcome", String(10), nullable=False),  # sent | failed | refused
    Column("error", Text),
)

check_runs = Table(
    "check_runs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("check_name", String(100), nullable=False, index=True),
    Column("ran_at", DateTime, nullable=False),
    Column("duration_ms", Integer),
    Column("row_count", Integer),
    Column("status", String(10), nullable=False),  # pass | fail | error
    Column("error", Text),
    Column("sample_json", Text),  # first rows found, for the page
    Column("triggered_by", String(100)),
)

login_attempts = Table(
    "login_attempts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("login", String(100), nullable=False),
    Column("address", String(64), nullable=False),
    Column("at", DateTime, nullable=False, index=True),
    Column("succeeded", Boolean, nullable=False),
)

locks = Table(
    "locks",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("holder", String(200), nullable=False),
    Column("expires_at", DateTime, nullable=False),
)

# What each user chose for themselves, apart from the accounts table so stores made before it
# get it by create_all: the digest opt-out, when their last digest went out (what "since the
# last digest" counts from, whatever happens to the cache), and the hash of their calendar
# feed token (the token itself is shown once and never stored).
user_options = Table(
    "user_options",
    metadata,
    Column("login", String(100), primary_key=True),  # users.login in lower case
    Column("digest_opt_out", Boolean, nullable=False, default=False),
    Column("digest_sent_at", DateTime),
    Column("calendar_token_hash", String(64), unique=True),
    Column("calendar_token_at", DateTime),
)

# The last checks of BPO2 against the mapping (`schema check`, the full sync's start, the hourly
# job), so the Status page says what was found and when without reaching BPO2 itself.
schema_checks = Table(
    "schema_checks",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("checked_at", DateTime, nullable=False),
    Column("checked_by", String(100), nullable=False),  # schema check command | full sync | scheduler
    Column("reachable", Boolean, nullable=False),
    Column("error", Text),  # why BPO2 could not be reached
    Column("problems_json", Text),  # [{"entity", "table", "column", "physical", "message", "suggestions"}]
)

# Full syncs asked for on the Status page: the process holding the scheduler lease picks them
# up (picked_at) and runs them on its job thread, never the web process.
sync_requests = Table(
    "sync_requests",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", String(20), nullable=False),  # full
    Column("requested_by", String(100), nullable=False),
    Column("requested_at", DateTime, nullable=False),
    Column("picked_at", DateTime),
    Index("ix_sync_requests_pending", "kind", "picked_at"),
)

state = Table(
    "state",
    metadata,
    Column("key", String(100), primary_key=True),
    Column("value", Text),
    Column("updated_at", DateTime),
)


def store_url(settings: Settings) -> str:
    return settings.store_url or f"sqlite:///{settings.data_path / 'store.sqlite'}"


def open_store(settings: Settings) -> Engine:
    """The store engine, with its tables created when missing."""
    url = make_url(store_url(settings))
    if url.get_backend_name() == "sqlite" and url.database:
        folder = Path(url.database).parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            key = "store_url" if settings.store_url else "data_dir"
            raise SettingsError(
                f"setting {key!r}: cannot create the folder {folder}: {exc.strerror}"
            ) from None
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            dbapi_conn.execute("PRAGMA journal_mode=WAL")
            dbapi_conn.execute("PRAGMA busy_timeout=30000")
    else:
        engine = create_engine(url, pool_pre_ping=True)
    _create_tables(engine)
    return engine


def _create_tables(engine: Engine, attempts: int = 5) -> None:
    """create_all, tolerating another process creating the same tables at the same moment.

    create_all leaves existing tables alone, indexes included: an index added in a later
    release is created here on stores made before it."""
    for attempt in range(attempts):
        try:
            metadata.create_all(engine)
            for table in metadata.sorted_tables:
                for index in sorted(table.indexes, key=lambda i: str(i.name)):
                    index.create(engine, checkfirst=True)
            return
        except (OperationalError, ProgrammingError, IntegrityError):
            if attempt == attempts - 1:
                raise
            time.sleep(0.2 * (attempt + 1))
