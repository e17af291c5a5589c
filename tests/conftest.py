"""Shared fixtures: settings on a temporary data folder, and fresh databases on the real
PostgreSQL and MariaDB servers of this machine (one new database per use, dropped after).

Under CI=true a test whose server is missing fails; elsewhere it is skipped with the reason.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url

from bpo2_bridge.settings import Settings, load_settings

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
        }
        base.update(overrides)
        return load_settings(config_file=None, overrides=base, environ={})

    return make


@pytest.fixture
def settings(make_settings) -> Settings:
    return make_settings()
