"""Shared fixtures: settings on a temporary data folder, and fresh databases on the real
PostgreSQL and MariaDB servers of this machine (one new database per use, dropped after).

Under CI=true a test whose server is missing fails; elsewhere it is skipped with the reason.
"""

from __future__ import annotations

import datetime as dt
import email
import hashlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from decimal import Decimal
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    create_engine,
    insert,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.engine import URL, make_url

from bpo2_bridge.bridge import Bridge
from bpo2_bridge.settings import Settings, load_settings
from bpo2_bridge.source.mapping import physical_table

from .helpers import sign_in

IN_CI = os.environ.get("CI", "").lower() == "true"
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
MARIADB_ADMIN = "mysql+pyodbc://root@127.0.0.1:3306/test?driver=MariaDB+Unicode&charset=utf8mb4"
PINNED_TODAY = "2026-11-22"

ENGINES = ("sqlite", "postgresql", "mariadb")


def unavailable(reason: str) -> None:
    """A real component is missing: fail in CI, skip elsewhere."""
    if IN_CI:
        pytest.fail(f"required service missing under CI=true: {reason}")
    pytest.skip(reason)


def _server_url(kind: str, database: str) -> URL:
    admin = make_url(PG_ADMIN if kind == "postgresql" else MARIADB_ADMIN)
    return admin.set(database=database)


def _create_database(kind: str) -> URL:
    name = f"bpo2_t_{secrets.token_hex(4)}"
    admin_url = PG_ADMIN if kind == "postgresql" else MARIADB_ADMIN
    try:
        engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {name}"))
        engine.dispose()
    except Exception as exc:  # server down or driver missing
        unavailable(f"{kind} server not usable: {str(exc).splitlines()[0]}")
    return _server_url(kind, name)


def _drop_database(kind: str, url: URL) -> None:
    admin_url = PG_ADMIN if kind == "postgresql" else MARIADB_ADMIN
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        if kind == "postgresql":
            conn.execute(text(f"DROP DATABASE IF EXISTS {url.database} WITH (FORCE)"))
        else:
            conn.execute(text(f"DROP DATABASE IF EXISTS {url.database}"))
    engine.dispose()


@pytest.fixture
def fresh_database(tmp_path) -> Iterator[Callable[[str], URL]]:
    """Factory: fresh_database("sqlite"|"postgresql"|"mariadb") -> URL of a new empty database."""
    made: list[tuple[str, URL]] = []

    def make(kind: str) -> URL:
        if kind == "sqlite":
            return make_url(f"sqlite:///{tmp_path / f'db_{secrets.token_hex(3)}.sqlite'}")
        if kind not in ("postgresql", "mariadb"):
            raise ValueError(kind)
        url = _create_database(kind)
        made.append((kind, url))
        return url

    yield make
    for kind, url in made:
        _drop_database(kind, url)


@pytest.fixture
def make_settings(tmp_path) -> Callable[..., Settings]:
    """Settings on a temporary data folder with today pinned; keyword overrides win."""

    def make(**overrides: object) -> Settings:
        base: dict[str, object] = {
            "data_dir": str(tmp_path / "data"),
            "today": PINNED_TODAY,
            "secret_key": "test-secret",
            "grid_count_seconds": COUNT_SECONDS,
        }
        base.update(overrides)
        return load_settings(config_file=None, overrides=base, environ={})

    return make


@pytest.fixture
def settings(make_settings) -> Settings:
    return make_settings()


def _fingerprint(url: URL) -> str:
    """What a source holds: the file's bytes on SQLite; table names, views and every table's
    rows in key order on a server (read through a separate writer connection)."""
    if url.get_backend_name() == "sqlite":
        return hashlib.sha256(Path(url.database or "").read_bytes()).hexdigest()
    engine = create_engine(url)
    digest = hashlib.sha256()
    try:
        with engine.connect() as conn:
            inspector = inspect(conn)
            digest.update(
                repr(sorted(inspector.get_table_names()) + sorted(inspector.get_view_names())).encode()
            )
            metadata = MetaData()
            metadata.reflect(conn)
            for name in sorted(metadata.tables):
                table = metadata.tables[name]
                order = list(table.primary_key.columns) or list(table.columns)
                digest.update(name.encode())
                for row in conn.execute(select(table).order_by(*order)):
                    digest.update(repr(tuple(row)).encode())
    finally:
        engine.dispose()
    return digest.hexdigest()


def _sample_value(col, i: int):  # type: ignore[no-untyped-def]
    t = col.type
    if isinstance(t, Boolean):
        return i % 2 == 0
    if isinstance(t, Integer):
        return i if col.pk else i % 2 + 1
    if isinstance(t, Numeric):
        return Decimal(f"{i}.25")
    if isinstance(t, DateTime):
        return dt.datetime(2026, 1, i, 8, 30)
    if isinstance(t, Date):
        return dt.date(2026, 1, i)
    if isinstance(t, LargeBinary):
        return bytes([i]) * 3
    return f"v{i}"


def _seed_source(url: URL, mapping, rows: int = 4, metadata: MetaData | None = None) -> dict:  # type: ignore[no-untyped-def]
    """The mapped tables with `rows` rows each (physical names through the mapping), written by a
    separate writer engine; returns the rows written per entity, keyed by logical names."""
    writer = create_engine(url)
    metadata = metadata or mapping.physical_metadata()
    metadata.create_all(writer)
    written = {}
    with writer.begin() as conn:
        for em in mapping:
            table = metadata.tables[em.qualified_table]
            written[em.name] = [
                {c.name: _sample_value(c, i) for c in em.entity.columns if em.has(c.name)}
                for i in range(1, rows + 1)
            ]
            conn.execute(insert(table), written[em.name])
    writer.dispose()
    return written


@pytest.fixture
def seed_source() -> Callable[..., dict]:
    """seed_source(url, mapping, rows=4, metadata=None): a small BPO2-like source."""
    return _seed_source


def _write_source_rows(bridge: Bridge, entity: str, *rows: dict) -> None:
    """Insert rows (logical column names) into the bridge's demo source, as BPO2 users would."""
    table = bridge.mapping.physical_metadata().tables[bridge.mapping[entity].qualified_table]
    engine = create_engine(f"sqlite:///{bridge.settings.demo_source_path}")
    with engine.begin() as conn:
        conn.execute(insert(table), list(rows))
    engine.dispose()


def _change_expiry_in_source(bridge: Bridge, contract_no: str, expiry: dt.date) -> None:
    """A writer in BPO2 changes a contract's expiry date, and its change column where the
    mapping names one (the demo source file; tests only)."""
    em = bridge.mapping["contract"]
    table = physical_table(em, MetaData())
    values: dict[str, Any] = {"expiry_date": expiry}
    values.update({c.key: bridge.settings.now() for c in table.c if c.name == em.change_column})
    writer = create_engine(f"sqlite:///{bridge.settings.demo_source_path}")
    with writer.begin() as conn:
        conn.execute(update(table).where(table.c.contract_no == contract_no).values(**values))
    writer.dispose()


@pytest.fixture
def change_expiry_in_source() -> Callable[[Bridge, str, dt.date], None]:
    """change_expiry_in_source(bridge, contract_no, expiry): a change made in BPO2 itself."""
    return _change_expiry_in_source


@pytest.fixture
def write_source_rows() -> Callable[..., None]:
    """write_source_rows(bridge, entity, *rows): a writer connection on the bridge's demo source."""
    return _write_source_rows


@pytest.fixture
def seed_expiry_before_start() -> Callable[[Bridge], None]:
    """seed_expiry_before_start(bridge): contract SEED-EXP-START on the demo source, expiring
    the day before it starts (what the contract_expiry_before_start check finds)."""

    def seed(bridge: Bridge) -> None:
        _write_source_rows(
            bridge,
            "contract",
            dict(
                contract_id=900001,
                contract_no="SEED-EXP-START",
                customer_id=1,
                contract_type_id=1,
                status="Active",
                start_date=dt.date(2026, 5, 1),
                expiry_date=dt.date(2026, 4, 30),
            ),
        )

    return seed


def _kill_when_stalled(script: str, overrides: dict) -> None:
    """Run `script` in a child Python with the settings overrides as argv[1]; once it prints
    STALLED, kill it outright (TerminateProcess on Windows, SIGKILL elsewhere): no clean-up runs."""
    child = subprocess.Popen(
        [sys.executable, "-c", script, json.dumps(overrides)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "STALLED"
    finally:
        child.kill()
        child.wait()


@pytest.fixture
def kill_when_stalled() -> Callable[[str, dict], None]:
    """kill_when_stalled(script, overrides): a process killed in the middle of its work."""
    return _kill_when_stalled


@pytest.fixture
def source_fingerprint() -> Callable[[URL], str]:
    """fingerprint(url) -> digest; equal digests before and after prove a source unchanged."""
    return _fingerprint


# --- web fixtures ---
# A tiny demo BPO2 built once per session and fully synced; tests that change the source or
# the cache get their own copy (copied_demo). `login(client, name)` signs a test client in.


REPO_ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"


# grids count without a time limit short enough for a busy machine to change what they say;
# the tests of that limit set their own
COUNT_SECONDS = 30


def _demo_settings(folder: Path, **overrides: object) -> Settings:
    base: dict[str, object] = {
        "data_dir": str(folder),
        "today": PINNED_TODAY,
        "secret_key": "test-secret",
        "grid_count_seconds": COUNT_SECONDS,
    }
    base.update(overrides)
    return load_settings(config_file=None, overrides=base, environ={})


def _full_sync(bridge: Bridge) -> None:
    from bpo2_bridge.sync.full import full_sync

    full_sync(bridge)


@pytest.fixture(scope="session")
def _demo_folder(tmp_path_factory) -> Path:
    from bpo2_bridge.demo.generate import build_demo_file
    from bpo2_bridge.store.users import create_demo_users

    folder = tmp_path_factory.mktemp("demo") / "data"
    settings = _demo_settings(folder)
    bridge = Bridge(settings)
    build_demo_file(
        settings.demo_source_path,
        size="tiny",
        today=dt.date.fromisoformat(PINNED_TODAY),
        mapping=bridge.mapping,
        share_root=settings.share_path,
    )
    _full_sync(bridge)
    create_demo_users(bridge.store)
    bridge.dispose()
    return folder


@pytest.fixture(scope="session")
def demo_bridge(_demo_folder) -> Iterator[Bridge]:
    """A Bridge on the shared tiny demo (source, synced cache, demo users). Do not change it."""
    bridge = Bridge(_demo_settings(_demo_folder))
    yield bridge
    bridge.dispose()


@pytest.fixture
def copied_demo(_demo_folder, tmp_path) -> Callable[..., Bridge]:
    """Factory: a Bridge on a private copy of the demo (free to change); settings overrides apply."""
    made: list[Bridge] = []

    def make(**overrides: object) -> Bridge:
        folder = tmp_path / f"demo{len(made)}"
        shutil.copytree(_demo_folder, folder)
        original = Bridge(_demo_settings(_demo_folder))
        snapshot = original.cache.current()
        original.dispose()
        bridge = Bridge(_demo_settings(folder, **overrides))
        # the cache pointer is keyed by the cache folder: point the copy at its snapshot
        with bridge.store.begin() as conn:
            bridge.cache.publish(conn, snapshot)
        made.append(bridge)
        return bridge

    yield make
    for bridge in made:
        bridge.dispose()


@pytest.fixture
def crowded_demo(copied_demo) -> Bridge:
    """A private demo with 6000 more contracts in BPO2 (statuses and types mixed), synced into a
    new snapshot: enough rows for SQLite's clock checks and for the grids' plans to differ.
    Counts are never cut short by time here (COUNT_SECONDS), as with every demo of these tests."""
    bridge: Bridge = copied_demo()
    statuses = ("Active", "Active", "Active", "Expired", "New", "Suspended")
    _write_source_rows(
        bridge,
        "contract",
        *(
            dict(
                contract_id=800_000 + i,
                contract_no=f"BULK-{i:05d}",
                customer_id=1 + i % 20,
                contract_type_id=1 + i % 4,
                status=statuses[i % len(statuses)],
                start_date=dt.date(2025, 1, 1) + dt.timedelta(days=i % 700),
                expiry_date=dt.date(2027, 1, 1) + dt.timedelta(days=i % 700),
            )
            for i in range(6000)
        ),
    )
    _full_sync(bridge)
    return bridge


@pytest.fixture
def make_app(copied_demo) -> Callable[..., Any]:
    """make_app(bridge=None, start_scheduler=False, **overrides) -> a Flask app on a private copy
    of the synced demo with those settings overrides, or on the bridge given (its settings as
    they are). The app's bridge is current_bridge() in a request, or app.extensions."""
    from bpo2_bridge.web.app import create_app

    def make(bridge: Bridge | None = None, *, start_scheduler: bool = False, **overrides: object) -> Any:
        if bridge is None:
            bridge = copied_demo(**overrides)
        elif overrides:
            raise TypeError("settings overrides make a new copy of the demo: pass them without a bridge")
        return create_app(bridge=bridge, start_scheduler=start_scheduler)

    return make


@pytest.fixture
def app(demo_bridge):
    """The app on the shared demo (read-only: tests that change anything use make_app)."""
    from bpo2_bridge.web.app import create_app

    return create_app(bridge=demo_bridge)


@pytest.fixture
def client(app):
    return app.test_client()


class Cli:
    """`bpo2-bridge ARGS` run in-process (click's CliRunner) on the test's settings: a config
    file with their data_dir and today (or a bridge's), plus keyword settings overrides."""

    def __init__(self, settings: Settings, folder: Path) -> None:
        self.settings, self.folder = settings, folder

    def config(self, bridge: Bridge | None = None, **overrides: Any) -> Path:
        settings = bridge.settings if bridge is not None else self.settings
        values = {"data_dir": str(settings.data_path), "today": settings.today, **overrides}
        path = self.folder / f"bpo2-bridge-{secrets.token_hex(3)}.toml"
        path.write_text("".join(f"{k} = {json.dumps(v)}\n" for k, v in values.items()), encoding="utf-8")
        return path

    def invoke(
        self,
        *args: str,
        bridge: Bridge | None = None,
        input: str | None = None,
        env: dict[str, str] | None = None,
        catch_exceptions: bool = True,
        **overrides: Any,
    ) -> Any:
        from click.testing import CliRunner

        from bpo2_bridge.cli import main

        config = self.config(bridge, **overrides)
        return CliRunner().invoke(
            main, ["--config", str(config), *args], input=input, env=env, catch_exceptions=catch_exceptions
        )


@pytest.fixture
def runner(settings, tmp_path) -> Cli:
    """runner.invoke(*args, bridge=None, input=None, env=None, catch_exceptions=True, **overrides)
    -> click Result of `bpo2-bridge --config <file> ARGS`, the file holding the test settings'
    (or the bridge's) data_dir and today, and the overrides."""
    return Cli(settings, tmp_path)


@pytest.fixture
def login() -> Callable[..., object]:
    """login(client, name, password=DEMO_PASSWORD) -> the response of the sign-in POST
    (helpers.sign_in, for tests that take it as a fixture)."""
    return sign_in


def _serve(app) -> tuple[str, Callable[[], None]]:  # type: ignore[no-untyped-def]
    from waitress.server import create_server
    from waitress.wasyncore import close_all

    server = create_server(app, host="127.0.0.1", port=0, threads=4)
    stopping = threading.Event()

    def run() -> None:
        # the loop's own thread closes the sockets once it stops polling them: closed from
        # another thread, one could vanish under a select() in progress (EBADF)
        while not stopping.is_set():
            server.asyncore.loop(timeout=0.1, map=server._map, count=1)
        server.task_dispatcher.shutdown()
        close_all(server._map)

    thread = threading.Thread(target=run, name="live-server", daemon=True)
    thread.start()

    def stop() -> None:
        stopping.set()
        thread.join(timeout=5)

    return f"http://127.0.0.1:{server.effective_port}", stop


@pytest.fixture
def live_server(app) -> Iterator[str]:
    """Base URL of the app served by waitress on 127.0.0.1 (a free port)."""
    url, stop = _serve(app)
    yield url
    stop()


@pytest.fixture
def serve() -> Iterator[Callable[..., str]]:
    """serve(app) -> base URL; for tests that build their own app (copied demo)."""
    stops: list[Callable[[], None]] = []

    def start(app) -> str:  # type: ignore[no-untyped-def]
        url, stop = _serve(app)
        stops.append(stop)
        return url

    yield start
    for stop in stops:
        stop()


@pytest.fixture(scope="session")
def _browser():  # type: ignore[no-untyped-def]
    if not os.path.exists(CHROMIUM):
        unavailable(f"chromium not installed at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def browser_page(_browser):  # type: ignore[no-untyped-def]
    """A fresh Playwright page (own cookies) in headless Debian chromium."""
    context = _browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """artifacts/screenshots/ at the repository root, where browser tests save screenshots."""
    folder = REPO_ROOT / "artifacts" / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# -- a real SMTP server on loopback (aiosmtpd): what reports and digests are sent to


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.envelopes: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 Message accepted"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp_server():  # type: ignore[no-untyped-def]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, inbox
    controller.stop()
