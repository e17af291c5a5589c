"""Read-only source access on every engine: writes fail, slow statements stop at the limit,
sessions roll back, and the source's content is the same afterwards (file hash on SQLite,
per-table checksums on the servers)."""

from __future__ import annotations

import datetime as dt
import re
import time
from pathlib import Path

import pytest
from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    Table,
    create_engine,
    delete,
    event,
    insert,
    text,
    update,
)
from sqlalchemy.schema import CreateTable, DropTable

from bpo2_bridge.source.engines import (
    SourceError,
    first_line,
    is_timeout,
    open_readonly,
    open_source,
    source_session,
)
from bpo2_bridge.source.mapping import Mapping, load_mapping

ENGINES = ("sqlite", "postgresql", "mariadb")
REPO = Path(__file__).resolve().parent.parent


# -- a small BPO2-like source, written through a separate writer engine ----------------------


@pytest.fixture
def mapping(settings) -> Mapping:
    return load_mapping(settings.mapping_path)


@pytest.fixture(params=ENGINES)
def source(request, fresh_database, mapping, source_fingerprint, seed_source):
    """A seeded source; its content is proved unchanged when the test ends."""
    url = fresh_database(request.param)
    seed_source(url, mapping)
    before = source_fingerprint(url)
    yield url
    assert source_fingerprint(url) == before, "the source changed"


# -- writes -------------------------------------------------------------------------------------


def _hostile_statements(mapping: Mapping):
    metadata = mapping.physical_metadata()
    em = mapping["contract"]
    table = metadata.tables[em.qualified_table]
    row = {
        "contract_id": 9,
        "contract_no": "CPC-NEW",
        "customer_id": 1,
        "contract_type_id": 1,
        "status": "New",
        "start_date": dt.date(2026, 1, 9),
    }
    probe = Table("bpo2_bridge_probe", MetaData(), Column("x", Integer))
    return {
        "INSERT": insert(table).values(row),
        "UPDATE": update(table).values(status="Cancelled"),
        "DELETE": delete(table),
        "CREATE TABLE": CreateTable(probe),
        "DROP TABLE": DropTable(table),
    }


def test_every_write_fails(source, mapping):
    engine = open_readonly(source, 10)
    succeeded = []
    for _round in range(2):  # a pooled connection stays read-only after a refused write
        for kind, stmt in _hostile_statements(mapping).items():
            try:
                with source_session(engine) as conn:
                    conn.execute(stmt)
                    conn.commit()  # even an explicit commit cannot keep anything
            except Exception as exc:
                assert "unreachable" not in str(exc)
            else:
                succeeded.append(kind)
    engine.dispose()
    assert succeeded == []


def test_sessions_report_read_only(source):
    queries = {
        "sqlite": "PRAGMA query_only",
        "postgresql": "SHOW transaction_read_only",
        "mysql": "SELECT @@session.tx_read_only",
    }
    engine = open_readonly(source, 10)
    with source_session(engine) as conn:
        value = conn.execute(text(queries[engine.dialect.name])).scalar()
    engine.dispose()
    assert str(value).lower() in {"1", "on"}


def test_every_session_rolls_back(source):
    engine = open_readonly(source, 10)
    seen = []
    event.listen(engine, "commit", lambda conn: seen.append("commit"))
    event.listen(engine, "rollback", lambda conn: seen.append("rollback"))
    with source_session(engine) as conn:
        conn.execute(text("SELECT 1")).all()
    with pytest.raises(ZeroDivisionError), source_session(engine) as conn:
        conn.execute(text("SELECT 1")).all()
        1 / 0  # noqa: B018 - a failure inside the session
    engine.dispose()
    assert seen == ["rollback", "rollback"]


# -- time limits --------------------------------------------------------------------------------

SLOW = {
    "sqlite": "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000000000) "
    "SELECT COUNT(*) FROM n",
    "postgresql": "SELECT pg_sleep(20)",
    "mysql": "SELECT SLEEP(20)",
}


def test_slow_statement_stops_near_the_limit(source):
    limit = 1.0
    engine = open_readonly(source, limit)
    started = time.monotonic()
    with pytest.raises(Exception) as caught, source_session(engine) as conn:
        conn.execute(text(SLOW[engine.dialect.name])).all()
    elapsed = time.monotonic() - started
    assert is_timeout(caught.value), first_line(caught.value)
    assert limit * 0.8 <= elapsed < limit + 3
    # the engine keeps serving after a stopped statement
    with source_session(engine) as conn:
        assert conn.execute(text("SELECT 1")).scalar() == 1
    engine.dispose()


def test_sqlite_deadline_also_bounds_fetching(tmp_path):
    """SQLite computes rows while they are fetched; the limit covers that too."""
    path = tmp_path / "big.sqlite"
    writer = create_engine(f"sqlite:///{path}")
    with writer.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    writer.dispose()
    engine = open_readonly(f"sqlite:///{path}", 1.0)
    # the first row comes at once, the later ones only after much work
    slow_rows = (
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000000000) "
        "SELECT i FROM n WHERE i = 1 OR i % 50000000 = 0"
    )
    started = time.monotonic()
    with pytest.raises(Exception) as caught, source_session(engine) as conn:
        result = conn.execute(text(slow_rows))
        assert result.fetchone() == (1,)
        result.fetchall()
    assert is_timeout(caught.value)
    assert time.monotonic() - started < 4
    engine.dispose()


# -- reaching the source ------------------------------------------------------------------------


def test_missing_sqlite_file_is_unreachable_not_created(tmp_path):
    path = tmp_path / "absent.sqlite"
    engine = open_readonly(f"sqlite:///{path}", 5)
    with (
        pytest.raises(SourceError, match="unreachable: unable to open database file"),
        source_session(engine),
    ):
        pass
    assert not path.exists()


def test_in_memory_sqlite_is_refused():
    with pytest.raises(SourceError, match="must be a file"):
        open_readonly("sqlite://", 5)


def test_unsupported_backend_is_refused():
    with pytest.raises(SourceError, match="unsupported source database 'oracle'"):
        open_readonly("oracle://scott@db/orcl", 5)


def test_closed_postgresql_port_is_one_line(make_settings):
    settings = make_settings(source_url="postgresql+psycopg://reader@127.0.0.1:1/bpo2")
    engine = open_source(settings)
    with pytest.raises(SourceError) as caught, source_session(engine):
        pass
    message = str(caught.value)
    assert message.startswith("BPO2 source unreachable:") and "\n" not in message
    assert "Connection refused" in message or "connection failed" in message


def test_pyodbc_errors_lose_their_driver_tags(fresh_database):
    url = fresh_database("mariadb").set(database="bpo2_no_such_database")
    engine = open_readonly(url, 5)
    with pytest.raises(SourceError) as caught, source_session(engine):
        pass
    message = str(caught.value)
    assert message.startswith("BPO2 source unreachable: Unknown database 'bpo2_no_such_database'")
    assert "[ma-" not in message and "SQLDriverConnect" not in message and "('" not in message


# -- SQL Server URLs (the documented examples; building the ODBC string needs no server) -------


def _documented_urls() -> list[str]:
    doc = (REPO / "docs" / "sql-server.md").read_text(encoding="utf-8")
    return re.findall(r'source_url = "(mssql\+pyodbc://[^"]+)"', doc)


def _odbc_string(url: str) -> str:
    engine = open_readonly(url, 30)
    args, _kwargs = engine.dialect.create_connect_args(engine.url)
    engine.dispose()
    return args[0]


def test_documented_sql_server_urls_connect_with_read_only_intent():
    urls = _documented_urls()
    assert {"ODBC Driver 18 for SQL Server", "FreeTDS"} <= {
        d
        for u in urls
        for d in ("ODBC Driver 18 for SQL Server", "FreeTDS")
        if d.replace(" ", "+") in u or d in u
    }
    assert len(urls) >= 5
    for url in urls:
        odbc = _odbc_string(url)
        assert odbc.count("ApplicationIntent=ReadOnly") == 1, odbc
        assert re.search(r"DRIVER=\{?(ODBC Driver 18 for SQL Server|FreeTDS)", odbc, re.IGNORECASE), odbc


def test_read_only_intent_is_not_doubled_when_given():
    odbc = _odbc_string("mssql+pyodbc://reader@sqlhost/BPO2?driver=FreeTDS&ApplicationIntent=ReadOnly")
    assert odbc.count("ApplicationIntent") == 1
    raw = "mssql+pyodbc:///?odbc_connect=DRIVER%3DFreeTDS%3BSERVER%3Dh%3BApplicationIntent%3DReadOnly"
    assert _odbc_string(raw).count("ApplicationIntent") == 1
