"""The ad-hoc SQL guard: a corpus of hostile and harmless statements across dialects.

Each statement is refused or accepted as it should be, first by the guard alone (all four
dialects, SQL Server included), then against a real demo source on every engine, after which
the source must be unchanged (file hash on SQLite, table checksums on the servers).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlglot
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from bpo2_bridge.checks.adhoc import QueryFailed, run_on_url
from bpo2_bridge.checks.guard import RefusedQuery, check_sql
from bpo2_bridge.demo.generate import build_demo
from bpo2_bridge.source.mapping import load_mapping

ALL = ("tsql", "postgres", "mysql", "sqlite")
OK = "ok"

# (dialects, statement, "ok" or a fragment of the refusal). {T}: the contract table, {N}: its
# contract number column, {C}: the customer table, {R}: the meter reading table (quoted for the
# dialect, names from the mapping).
CORPUS: list[tuple[tuple[str, ...], str, str]] = [
    # -- plain reads pass
    (ALL, "SELECT {N} FROM {T}", OK),
    (ALL, "select count(*) from {T} where {N} like 'CPC%'", OK),
    (ALL, "SELECT 'a;b' AS x", OK),
    (ALL, "SELECT 'DROP TABLE x; DELETE FROM y' AS harmless", OK),
    (ALL, "SELECT 'it''s; fine' AS x;", OK),
    (ALL, "SELECT 1 AS x; ", OK),
    (ALL, "SELECT 1 AS x -- ; DROP TABLE t", OK),
    (ALL, "SELECT /* ; DELETE FROM t; */ 1 AS x", OK),
    (ALL, "SELECT ':today' AS colon, '100%' AS pct", OK),
    (ALL, "WITH x AS (SELECT {N} AS n FROM {T}) SELECT COUNT(*) AS c FROM x", OK),
    (ALL, "SELECT 1 AS x UNION SELECT 2 UNION ALL SELECT 3", OK),
    (ALL, "SELECT * FROM (SELECT {N} AS n FROM {T}) sub WHERE sub.n IN (SELECT {N} FROM {T})", OK),
    (("postgres", "mysql", "tsql"), "(SELECT 1 AS x) UNION (SELECT 2)", OK),
    (ALL, "SeLeCt CoUnT(*) FrOm {C}", OK),
    (("postgres", "sqlite", "mysql"), "SELECT {N} FROM {T} ORDER BY 1 LIMIT 5", OK),
    (("postgres",), "SELECT $$a;b$$ AS dollar", OK),
    (("mysql",), "SELECT 'a\\'; DROP TABLE t; --' AS escaped", OK),
    (("mysql",), "SELECT 1 AS x # ; DROP TABLE t", OK),
    (("tsql",), "SELECT TOP 5 {N} FROM {T} WITH (NOLOCK) ORDER BY 1", OK),
    (
        ("sqlite", "postgres", "mysql"),
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5) SELECT SUM(i) AS s FROM n",
        OK,
    ),
    # -- more than one statement
    (ALL, "SELECT 1; DROP TABLE {T}", "2 statements"),
    (ALL, "SELECT 1;DELETE FROM {T}", "2 statements"),
    (ALL, "sElEcT 1 ; dElEtE fRoM {T}", "2 statements"),
    (ALL, "SELECT 1 /* */; UPDATE {T} SET {N} = 'x'", "2 statements"),
    (ALL, "SELECT 'a;b'; SELECT 2", "2 statements"),
    (ALL, "SELECT 1 -- comment\n; DELETE FROM {T}", "2 statements"),
    # -- DML, alone or hidden in a CTE
    (ALL, "DELETE FROM {T}", "DELETE"),
    (ALL, "delete from {T} where 1 = 1", "DELETE"),
    (ALL, "UPDATE {T} SET {N} = 'x'", "UPDATE"),
    (ALL, "INSERT INTO {T} ({N}) VALUES ('x')", "INSERT"),
    (ALL, "INSERT INTO {T} ({N}) SELECT {N} FROM {T}", "INSERT"),
    (("postgres",), "WITH gone AS (DELETE FROM {T} RETURNING *) SELECT * FROM gone", "DELETE inside"),
    (("postgres",), "WITH up AS (UPDATE {T} SET {N} = 'x' RETURNING *) SELECT * FROM up", "UPDATE inside"),
    (("postgres",), "WITH ins AS (INSERT INTO {T} ({N}) VALUES ('x') RETURNING *) SELECT 1", "INSERT inside"),
    (("tsql",), "MERGE {T} USING {C} ON 1 = 0 WHEN NOT MATCHED THEN INSERT ({N}) VALUES ('x');", "MERGE"),
    (("mysql", "sqlite"), "REPLACE INTO {T} ({N}) VALUES ('x')", "REPLACE"),
    (("sqlite",), "INSERT OR REPLACE INTO {T} ({N}) VALUES ('x')", "INSERT"),
    (("mysql",), "INSERT INTO {T} ({N}) VALUES ('x') ON DUPLICATE KEY UPDATE {N} = 'y'", "INSERT"),
    # -- DDL
    (ALL, "DROP TABLE {T}", "DROP"),
    (ALL, "CREATE TABLE evil (x INT)", "CREATE"),
    (ALL, "CREATE VIEW v AS SELECT 1 AS x", "CREATE"),
    (ALL, "ALTER TABLE {T} ADD evil INT", "ALTER"),
    (("postgres", "mysql", "tsql"), "TRUNCATE TABLE {T}", "TRUNCATE"),
    (("postgres",), "CREATE TEMP TABLE x AS SELECT 1", "CREATE"),
    (("sqlite",), "CREATE TRIGGER x AFTER INSERT ON {T} BEGIN DELETE FROM {T}; END", "2 statements"),
    (("mysql",), "RENAME TABLE {T} TO evil", "RENAME"),
    # -- SELECT ... INTO
    (("tsql", "postgres"), "SELECT * INTO evil FROM {T}", "INTO"),
    (("tsql",), "SELECT * INTO #evil FROM {T}", "INTO"),
    (("mysql",), "SELECT {N} INTO @v FROM {T} LIMIT 1", "INTO"),
    (("mysql",), "SELECT * FROM {T} INTO OUTFILE '/tmp/evil'", "not a single valid"),
    # -- locking clauses and hints
    (("postgres", "mysql"), "SELECT * FROM {T} FOR UPDATE", "FOR UPDATE"),
    (("postgres",), "SELECT * FROM {T} FOR UPDATE SKIP LOCKED", "FOR UPDATE"),
    (("postgres",), "SELECT * FROM {T} FOR NO KEY UPDATE", "FOR UPDATE"),
    (("postgres", "mysql"), "SELECT * FROM {T} FOR SHARE", "FOR SHARE"),
    (("postgres",), "SELECT * FROM {T} FOR KEY SHARE", "FOR SHARE"),
    (("mysql",), "SELECT * FROM {T} LOCK IN SHARE MODE", "SHARE"),
    (("tsql",), "SELECT * FROM {T} WITH (UPDLOCK)", "UPDLOCK"),
    (("tsql",), "SELECT * FROM {T} WITH (NOLOCK, XLOCK)", "XLOCK"),
    (("tsql",), "SELECT * FROM {T} WITH (TABLOCKX)", "TABLOCKX"),
    (("tsql",), "select * from {T} (holdlock)", "HOLDLOCK"),
    (("postgres",), "LOCK TABLE {T} IN ACCESS EXCLUSIVE MODE", "LOCK"),
    (("mysql",), "LOCK TABLES {T} WRITE", "LOCK"),
    (("postgres",), "SELECT pg_advisory_lock(1)", "pg_advisory_lock"),
    (("mysql",), "SELECT GET_LOCK('x', 10)", "get_lock"),
    # -- procedures and dynamic SQL
    (("tsql",), "EXEC sp_who", "EXEC"),
    (("tsql",), "EXECUTE('DELETE FROM {T}')", "EXEC"),
    (("tsql",), "exec xp_cmdshell 'dir'", "EXEC"),
    (("tsql",), "SELECT * FROM OPENQUERY(other, 'DELETE FROM t')", "openquery"),
    (("tsql",), "SELECT * FROM OPENROWSET('SQLNCLI', 'x', 'SELECT 1')", "openrowset"),
    (("postgres", "mysql"), "CALL evil()", "CALL"),
    (("postgres",), "DO $$ BEGIN DELETE FROM t; END $$", "DO"),
    (("postgres",), "EXPLAIN ANALYZE DELETE FROM {T}", "EXPLAIN"),
    (("postgres",), "PREPARE p AS DELETE FROM {T}", "PREPARE"),
    (("tsql",), "DECLARE @x INT", "DECLARE"),
    (("tsql",), "SELECT @x = {N} FROM {T}", "assigning variables"),
    (("mysql",), "SELECT @x := 1", "assigning variables"),
    (("mysql",), "SELECT COALESCE(@x := 1, 2) AS v", "assigning variables"),
    (("mysql",), "SELECT 1 AS v FROM {T} WHERE (@x := {N}) IS NOT NULL", "assigning variables"),
    (("tsql",), "WAITFOR DELAY '00:00:05'", "not a single valid"),
    (("mysql",), "DO SLEEP(1)", "not a single valid"),
    # -- session, transaction control, engine commands
    (ALL, "BEGIN TRANSACTION", "transaction control"),
    (("postgres", "mysql", "sqlite"), "COMMIT", "COMMIT"),
    (("postgres", "mysql", "sqlite"), "ROLLBACK", "ROLLBACK"),
    (("postgres",), "SET default_transaction_read_only = off", "SET"),
    (("postgres",), "SELECT set_config('default_transaction_read_only', 'off', false)", "set_config"),
    (("postgres",), "START TRANSACTION READ WRITE", "not a single valid"),
    (("mysql",), "SET SESSION TRANSACTION READ WRITE", "SET"),
    (("tsql",), "SET IDENTITY_INSERT {T} ON", "SET"),
    (("sqlite",), "PRAGMA query_only = 0", "PRAGMA"),
    (("sqlite",), "PRAGMA writable_schema = 1", "PRAGMA"),
    (("sqlite",), "ATTACH DATABASE '/tmp/evil.db' AS evil", "ATTACH"),
    (("sqlite",), "DETACH DATABASE evil", "DETACH"),
    (("sqlite",), "VACUUM INTO '/tmp/evil.db'", "VACUUM"),
    (("sqlite",), "SELECT load_extension('evil')", "load_extension"),
    (("postgres",), "VACUUM {T}", "VACUUM"),
    (("postgres",), "COPY {T} TO '/tmp/evil'", "COPY"),
    (("postgres",), "COPY (SELECT 1) TO PROGRAM 'rm -rf /'", "COPY"),
    (("postgres",), "SELECT pg_read_file('/etc/passwd')", "pg_read_file"),
    (("postgres",), "SELECT nextval('seq')", "nextval"),
    (("mysql",), "SELECT LOAD_FILE('/etc/passwd')", "load_file"),
    (("mysql",), "SELECT 1 /*!50000 , SLEEP(10) */", "executable comments"),
    (("mysql",), "SELECT 1 /*!; DROP TABLE t */", "executable comments"),
    (ALL, "GRANT SELECT ON {T} TO public", "GRANT"),
    # -- functions outside the allow list: state, files, other sessions, sequences, waiting
    (("postgres",), "SELECT query_to_xml('select pg_terminate_backend(1)', true, false, '')", "query_to_xml"),
    (("postgres",), "SELECT query_to_xml_and_xmlschema('select 1', true, false, '')", "query_to_xml_and"),
    (("postgres",), "SELECT table_to_xml('{T}', true, false, '')", "table_to_xml"),
    (("postgres",), "SELECT cursor_to_xml('c', 1, true, false, '')", "cursor_to_xml"),
    (("postgres",), "SELECT * FROM pg_create_physical_replication_slot('evil')", "pg_create_physical"),
    (("postgres",), "SELECT pg_stat_reset()", "pg_stat_reset"),
    (("postgres",), "SELECT pg_logical_emit_message(true, 'evil', 'x')", "pg_logical_emit_message"),
    (("postgres",), "SELECT pg_terminate_backend(1)", "pg_terminate_backend"),
    (("postgres",), "SELECT pg_catalog.pg_read_file('/etc/passwd')", "pg_catalog.pg_read_file"),
    (("postgres",), "SELECT * FROM pg_ls_dir('.')", "pg_ls_dir"),
    (("postgres",), "SELECT pg_sleep(30)", "pg_sleep"),
    (("postgres",), "SELECT evil.upper('x')", "evil.upper"),
    (("postgres",), "SELECT currval('seq')", "currval"),
    (("postgres",), "SELECT dblink('host=x', 'DELETE FROM t')", "dblink"),
    (("postgres",), "SELECT upper(query_to_xml('select 1', true, false, ''))", "query_to_xml"),
    (("tsql",), "SELECT NEXT VALUE FOR dbo.seq", "NEXT VALUE FOR"),
    (("tsql",), "SELECT * FROM fn_trace_gettable('c:\\x.trc', default)", "fn_trace_gettable"),
    (("tsql",), "SELECT * FROM sys.fn_trace_gettable('c:\\x.trc', default)", "fn_trace_gettable"),
    (("tsql",), "SELECT * FROM sys.fn_dblog(NULL, NULL)", "fn_dblog"),
    (("tsql",), "SELECT * FROM OPENDATASOURCE('SQLNCLI', 'x').db.dbo.t", "opendatasource"),
    (("mysql",), "SELECT SLEEP(30)", "sleep"),
    (("mysql",), "SELECT BENCHMARK(100000000, MD5('x'))", "benchmark"),
    (("mysql",), "SELECT NEXTVAL(seq)", "nextval"),
    (("mysql",), "SELECT LAST_INSERT_ID(5)", "last_insert_id"),
    (("mysql",), "SELECT MASTER_POS_WAIT('log', 4)", "master_pos_wait"),
    (("sqlite",), "SELECT readfile('/etc/passwd')", "readfile"),
    (("sqlite",), "SELECT * FROM pragma_table_info('x')", "pragma_table_info"),
    (ALL, "SELECT evil_function(1)", "evil_function"),
    # -- functions on the allow list pass, nested too
    (ALL, "SELECT UPPER(LOWER(TRIM({N}))) AS x, COUNT(*) AS n FROM {T} GROUP BY UPPER(LOWER(TRIM({N})))", OK),
    (ALL, "SELECT CAST(COALESCE(NULLIF(ABS(-1), 0), 2) AS INT) AS x", OK),
    (ALL, "SELECT CASE WHEN MAX({N}) IS NULL THEN 'none' ELSE MIN({N}) END AS x FROM {T}", OK),
    (ALL, "SELECT ROW_NUMBER() OVER (ORDER BY {N}) AS r, LAG({N}) OVER (ORDER BY {N}) AS p FROM {T}", OK),
    (("postgres",), "SELECT g, date_trunc('month', now()) AS m FROM generate_series(1, 3) AS g", OK),
    (("postgres",), "SELECT string_agg({N}, ',') AS x, to_char(now(), 'YYYY') AS y FROM {T}", OK),
    (("mysql",), "SELECT DATE_FORMAT(NOW(), '%Y') AS y, GROUP_CONCAT({N}) AS x FROM {T}", OK),
    (("sqlite",), "SELECT strftime('%Y', 'now') AS y, group_concat({N}) AS x, typeof(1) AS t FROM {T}", OK),
    (("sqlite",), "SELECT value FROM json_each('[1, 2]')", OK),
    (("tsql",), "SELECT DATEADD(day, 1, GETDATE()) AS d, LEN({N}) AS n, ISNULL({N}, '') AS x FROM {T}", OK),
    (("tsql",), "SELECT value FROM STRING_SPLIT('a,b', ',')", OK),
    (("tsql",), "SELECT CONVERT(VARCHAR(10), {N}) AS v, CAST({N} AS NVARCHAR(20)) AS w FROM {T}", OK),
    (("postgres",), "SELECT {N}::varchar(10) AS v, CAST(1 AS numeric(10, 2)) AS w FROM {T}", OK),
    (ALL, "", "empty"),
    (ALL, "   -- only a comment", "no statement"),
]


def _quote(dialect: str, name: str) -> str:
    if dialect == "tsql":
        return f"[{name}]"
    if dialect == "mysql":
        return f"`{name}`"
    return f'"{name}"'


def _names(dialect: str, mapping_path: Path) -> dict[str, str]:
    mapping = load_mapping(mapping_path)
    return {
        "T": _quote(dialect, mapping["contract"].table),
        "N": _quote(dialect, mapping["contract"].physical("contract_no")),
        "C": _quote(dialect, mapping["customer"].table),
        "R": _quote(dialect, mapping["meter_reading"].table),
    }


def _cases() -> list[tuple[str, str, str]]:
    return [(d, sql, expected) for dialects, sql, expected in CORPUS for d in dialects]


def test_the_corpus_is_large_and_mixed() -> None:
    cases = _cases()
    refused = [c for c in cases if c[2] != OK]
    assert len(cases) >= 60
    assert len(refused) >= 60
    assert len(cases) - len(refused) >= 20
    assert {d for d, _, _ in cases} == set(ALL)


@pytest.mark.parametrize(("dialect", "sql", "expected"), _cases())
def test_guard_refuses_or_accepts(dialect: str, sql: str, expected: str, settings) -> None:
    statement = sql.format(**_names(dialect, settings.mapping_path))
    if expected == OK:
        normalized = check_sql(statement, dialect)
        assert len([s for s in sqlglot.parse(normalized, read=dialect) if s is not None]) == 1
        comments = [n.comments for n in sqlglot.parse_one(normalized, read=dialect).walk() if n.comments]
        assert not comments  # comments never reach the engine
    else:
        with pytest.raises(RefusedQuery) as refused:
            check_sql(statement, dialect)
        reason = str(refused.value)
        assert expected.lower() in reason.lower()
        assert "\n" not in reason and len(reason) < 300


@pytest.mark.parametrize(
    ("engine_dialect", "guard_dialect"),
    [
        ("mssql", "tsql"),
        ("postgresql", "postgres"),
        ("mariadb", "mysql"),
        ("mysql", "mysql"),
        ("sqlite", "sqlite"),
    ],
)
def test_sqlalchemy_dialect_names_map_to_the_parser(engine_dialect: str, guard_dialect: str) -> None:
    assert check_sql("SELECT 1 AS x", engine_dialect) == check_sql("SELECT 1 AS x", guard_dialect)


def test_unknown_dialect_is_refused() -> None:
    with pytest.raises(RefusedQuery, match="oracle"):
        check_sql("SELECT 1 FROM dual", "oracle")


_harmless_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30)


@hsettings(max_examples=150, deadline=None)
@given(value=_harmless_text, dialect=st.sampled_from(ALL))
def test_any_string_literal_is_one_harmless_select(value: str, dialect: str) -> None:
    """Whatever a string literal holds (semicolons, comment markers, keywords), it stays one
    SELECT, and the normalized statement parses back to the same literal."""
    literal = "'" + value.replace("'", "''") + "'"
    if dialect == "mysql":
        literal = "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"
    normalized = check_sql(f"SELECT {literal} AS v", dialect)
    read = sqlglot.parse_one(normalized, read=dialect)
    assert read.expressions[0].this.this == value


@hsettings(max_examples=100, deadline=None)
@given(
    first=st.sampled_from(["SELECT 1", "SELECT 'x;y'", "WITH a AS (SELECT 1 AS v) SELECT v FROM a"]),
    second=st.sampled_from(["DELETE FROM t", "DROP TABLE t", "UPDATE t SET a = 1", "SELECT 2", "PRAGMA x"]),
    glue=st.sampled_from([";", "; ", ";\n", " ;", "/* c */;", ";-- c\n", ";;"]),
    dialect=st.sampled_from(ALL),
)
def test_a_second_statement_is_always_refused(first: str, second: str, glue: str, dialect: str) -> None:
    with pytest.raises(RefusedQuery):
        check_sql(first + glue + second, dialect)


_SQLISH = st.lists(
    st.sampled_from(
        [
            "SELECT",
            "1",
            "*",
            "FROM",
            "t",
            "WHERE",
            "x",
            "=",
            "'a;b'",
            ";",
            "(",
            ")",
            ",",
            "--",
            "/*",
            "*/",
            "DELETE",
            "UPDATE",
            "SET",
            "INTO",
            "WITH",
            "AS",
            "UNION",
            "FOR",
            "EXEC",
            "\n",
            "@v",
            ":=",
            "'",
            '"',
            "`",
        ]
    ),
    max_size=14,
).map(" ".join)


@hsettings(max_examples=300, deadline=None)
@given(sql=st.one_of(_SQLISH, st.text(max_size=60)), dialect=st.sampled_from(ALL))
def test_the_guard_fails_closed(sql: str, dialect: str) -> None:
    """Whatever the text, the guard answers a refusal or exactly one SELECT, nothing else."""
    try:
        normalized = check_sql(sql, dialect)
    except RefusedQuery as refused:
        assert "\n" not in str(refused)
        return
    statements = [s for s in sqlglot.parse(normalized, read=dialect) if s is not None]
    assert len(statements) == 1
    root = statements[0].unnest() if isinstance(statements[0], sqlglot.exp.Subquery) else statements[0]
    assert isinstance(root, (sqlglot.exp.Select, sqlglot.exp.SetOperation))


# -- against real engines ------------------------------------------------------------------------

ENGINE_DIALECT = {"sqlite": "sqlite", "postgresql": "postgres", "mariadb": "mysql"}


@pytest.mark.parametrize("kind", ["sqlite", "postgresql", "mariadb"])
def test_corpus_on_every_engine_leaves_the_source_unchanged(
    kind: str, fresh_database, settings, tmp_path, source_fingerprint
) -> None:
    url = fresh_database(kind)
    mapping = load_mapping(settings.mapping_path)
    build_demo(
        url, size="tiny", seed=3, today=dt.date(2026, 11, 22), mapping=mapping, share_root=tmp_path / "share"
    )
    before = source_fingerprint(url)
    own = ENGINE_DIALECT[kind]
    names = _names(own, settings.mapping_path)
    ran = refused = failed = own_ran = own_refused = 0
    cases = _cases()
    for dialect, sql, expected in cases:
        statement = sql.format(**names)
        try:
            result = run_on_url(url, statement, max_rows=5, timeout=10)
        except QueryFailed as exc:
            message = str(exc)
            assert "\n" not in message
            if dialect == own and expected == OK:
                pytest.fail(f"accepted statement failed on {kind}: {statement!r}: {message}")
            if dialect == own and expected != OK:
                assert message.startswith("Refused:"), (statement, message)
            refused += message.startswith("Refused:")
            failed += not message.startswith("Refused:")
            own_refused += dialect == own
        else:
            ran += 1
            own_ran += dialect == own
            assert not (dialect == own and expected != OK), f"hostile statement ran on {kind}: {statement!r}"
            assert len(result.rows) <= 5
    assert ran >= 15 and refused >= 60
    assert source_fingerprint(url) == before
    # the numbers, for whoever runs this with -s
    print(
        f"\ncorpus on {kind}: {len(cases)} statements: {refused} refused by the guard, {ran} ran, "
        f"{failed} failed in the engine; of the {own_ran + own_refused} written for {own}: "
        f"{own_refused} refused, {own_ran} ran"
    )


def test_corpus_parsed_as_tsql() -> None:
    """SQL Server has no server here: the T-SQL part of the corpus, by parsing, with the numbers."""
    names = {"T": "[Contract]", "N": "[ContractNo]", "C": "[Customer]", "R": "[MeterReading]"}
    tsql = [(sql.format(**names), expected) for dialect, sql, expected in _cases() if dialect == "tsql"]
    accepted = refused = 0
    for statement, expected in tsql:
        try:
            check_sql(statement, "tsql")
        except RefusedQuery:
            refused += 1
            assert expected != OK, statement
        else:
            accepted += 1
            assert expected == OK, statement
    assert refused >= 40
    print(f"\ncorpus as T-SQL: {len(tsql)} statements: {refused} refused, {accepted} accepted")
