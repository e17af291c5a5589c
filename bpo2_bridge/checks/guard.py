"""The guard in front of ad-hoc SQL: exactly one read-only SELECT, or a one-line refusal.

The text is parsed with sqlglot for the target's dialect and every node of the tree is
inspected. What runs afterwards is the statement regenerated from that tree without its
comments, so what the database executes is what the guard has seen (no comment or quoting
trick can smuggle a second statement past it). The guard is a second layer: the source
session is read-only and time-limited on its own.
"""

from __future__ import annotations

import logging

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import TokenType

# SQLAlchemy dialect names (and sqlglot's own) -> sqlglot dialect
DIALECTS = {
    "mssql": "tsql",
    "tsql": "tsql",
    "postgresql": "postgres",
    "postgres": "postgres",
    "mysql": "mysql",
    "mariadb": "mysql",
    "sqlite": "sqlite",
}

# T-SQL table hints that take no locks (or fewer); every other hint is a locking request.
_READ_HINTS = {"NOLOCK", "READUNCOMMITTED", "NOEXPAND", "FORCESEEK", "FORCESCAN", "INDEX"}

# Functions that change state, take locks, or reach outside the database (files, other servers).
_DENIED_FUNCTIONS = {
    # PostgreSQL
    "nextval",
    "setval",
    "set_config",
    "pg_terminate_backend",
    "pg_cancel_backend",
    "pg_reload_conf",
    "pg_rotate_logfile",
    "pg_switch_wal",
    "pg_create_restore_point",
    "pg_promote",
    "pg_read_file",
    "pg_read_binary_file",
    "pg_ls_dir",
    "pg_stat_file",
    "pg_notify",
    "lo_import",
    "lo_export",
    "lo_unlink",
    "lo_create",
    "lo_from_bytea",
    "lo_put",
    "dblink",
    "dblink_exec",
    "dblink_connect",
    "dblink_send_query",
    "txid_current",
    "pg_current_xact_id",
    # MySQL / MariaDB
    "load_file",
    "get_lock",
    "release_lock",
    "release_all_locks",
    "sys_exec",
    "sys_eval",
    "master_pos_wait",
    # SQLite
    "load_extension",
    "writefile",
    "readfile",
    "edit",
    "fts3_tokenizer",
    # SQL Server
    "openrowset",
    "opendatasource",
    "openquery",
}
_DENIED_PREFIXES = ("pg_advisory", "pg_try_advisory", "xp_", "sp_")

# T-SQL lock hints, also in the old `FROM t (HOLDLOCK)` form that parses as a function call.
_LOCK_HINTS = {
    "HOLDLOCK",
    "UPDLOCK",
    "XLOCK",
    "TABLOCK",
    "TABLOCKX",
    "PAGLOCK",
    "ROWLOCK",
    "SERIALIZABLE",
    "REPEATABLEREAD",
    "READCOMMITTEDLOCK",
}

# Statements that are not queries, with the words used to refuse them.
_STATEMENTS: tuple[tuple[type[exp.Expr], str], ...] = (
    (exp.Insert, "INSERT"),
    (exp.Update, "UPDATE"),
    (exp.Delete, "DELETE"),
    (exp.Merge, "MERGE"),
    (exp.Copy, "COPY"),
    (exp.Create, "CREATE"),
    (exp.Drop, "DROP"),
    (exp.Alter, "ALTER"),
    (exp.TruncateTable, "TRUNCATE"),
    (exp.LoadData, "LOAD DATA"),
    (exp.Pragma, "PRAGMA"),
    (exp.Attach, "ATTACH"),
    (exp.Detach, "DETACH"),
    (exp.Set, "SET"),
    (exp.Transaction, "transaction control (BEGIN)"),
    (exp.Commit, "transaction control (COMMIT)"),
    (exp.Rollback, "transaction control (ROLLBACK)"),
    (exp.Use, "USE"),
    (exp.Execute, "EXEC (procedure call)"),
    (exp.ExecuteSql, "EXEC (procedure call)"),
    (exp.Declare, "DECLARE"),
    (exp.Grant, "GRANT"),
    (exp.Revoke, "REVOKE"),
    (exp.Analyze, "ANALYZE"),
    (exp.Kill, "KILL"),
    (exp.Describe, "DESCRIBE"),
    (exp.Show, "SHOW"),
    (exp.Summarize, "SUMMARIZE"),
    (exp.DDL, "DDL"),
    (exp.DML, "DML"),
)


class RefusedQuery(ValueError):
    """The SQL is not exactly one read-only SELECT; the message says why, on one line."""

    def __init__(self, reason: str) -> None:
        text = " ".join(reason.split())
        super().__init__(text if len(text) <= 240 else text[:239] + "…")


class _QuietFallback(logging.Filter):
    """sqlglot logs a warning when it falls back to an unparsed Command; the guard refuses those."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Falling back to parsing as a 'Command'" not in record.getMessage()


logging.getLogger("sqlglot").addFilter(_QuietFallback())


def sqlglot_dialect(dialect: str) -> str:
    try:
        return DIALECTS[dialect.lower()]
    except KeyError:
        raise RefusedQuery(f"no SQL guard for database dialect {dialect!r}") from None


def check_sql(sql: str, dialect: str) -> str:
    """The single SELECT in `sql`, normalized for `dialect`; RefusedQuery when it is anything else."""
    read = sqlglot_dialect(dialect)
    if not sql or not sql.strip():
        raise RefusedQuery("the query is empty")
    try:
        parsed = sqlglot.parse(sql, read=read)
    except (ParseError, TokenError) as exc:
        raise RefusedQuery(f"not a single valid {read} SELECT: {_parse_message(exc)}") from None
    except RecursionError:
        raise RefusedQuery("the query is nested too deeply to be checked") from None
    except Exception as exc:  # the parser failed in some other way: refuse, never let it through
        raise RefusedQuery(f"the query could not be parsed ({type(exc).__name__})") from None
    statements = [s for s in parsed if s is not None and not isinstance(s, exp.Semicolon)]
    if not statements:
        raise RefusedQuery("the query has no statement (only comments?)")
    if len(statements) > 1:
        raise RefusedQuery(f"{len(statements)} statements found; exactly one SELECT is allowed")
    root = statements[0]
    _check_root(root, sql, read)
    if read == "tsql":
        _check_lock_hints(sql)
    for node in root.walk():
        _check_node(node, read)
    try:
        return root.sql(dialect=read, comments=False)
    except Exception as exc:  # a construct the generator cannot write back: refuse, never guess
        raise RefusedQuery(f"the query uses a construct the guard cannot verify: {exc}") from None


def _check_root(root: exp.Expr, sql: str, read: str) -> None:
    node = root.unnest() if isinstance(root, exp.Subquery) else root
    if isinstance(node, (exp.Select, exp.SetOperation)):
        return
    raise RefusedQuery(
        f"{_describe(root, sql, read)} is not allowed; only a single SELECT (WITH and UNION allowed)"
    )


def _check_lock_hints(sql: str) -> None:
    for token in sqlglot.tokenize(sql, read="tsql"):
        if token.token_type is TokenType.VAR and token.text.upper() in _LOCK_HINTS:
            raise RefusedQuery(f"table hint {token.text.upper()} is not allowed: it takes locks")


def _check_node(node: exp.Expr, read: str) -> None:
    if isinstance(node, exp.Into):
        raise RefusedQuery("SELECT … INTO is not allowed: it writes a table, a variable or a file")
    if isinstance(node, exp.Lock):
        raise RefusedQuery(f"locking clause {_lock_words(node)} is not allowed in a read-only query")
    if isinstance(node, exp.WithTableHint):
        for hint in node.expressions:
            word = (hint.name or hint.sql()).upper()
            if word not in _READ_HINTS:
                raise RefusedQuery(f"table hint WITH ({word}) is not allowed: it takes locks")
    if isinstance(node, exp.Command):
        raise RefusedQuery(f"{_describe(node)} inside the query is not allowed: the query must only read")
    # MySQL `SELECT @v := x`, T-SQL `SELECT @v = x`: the statement writes a variable, not rows
    assigns = exp.PropertyEQ if read != "tsql" else (exp.PropertyEQ, exp.EQ)
    in_projection = isinstance(node.parent, exp.Select) and node.arg_key == "expressions"
    if isinstance(node, assigns) and isinstance(node.this, exp.Parameter) and in_projection:
        raise RefusedQuery("assigning variables in a SELECT is not allowed")
    for kind, words in _STATEMENTS:
        if isinstance(node, kind):
            where = "" if node.parent is None else " inside the query"
            raise RefusedQuery(f"{words}{where} is not allowed: the query must only read")
    if isinstance(node, exp.Func):
        name = (node.name if isinstance(node, exp.Anonymous) else node.sql_name()).lower()
        if name in _DENIED_FUNCTIONS or name.startswith(_DENIED_PREFIXES):
            raise RefusedQuery(f"function {name}() is not allowed: it changes state or reaches outside")
    for comment in node.comments or ():
        if comment.lstrip().startswith("!"):
            raise RefusedQuery("executable comments (/*! … */) are not allowed")


def _describe(node: exp.Expr, sql: str = "", read: str = "sqlite") -> str:
    if isinstance(node, exp.Command):
        return str(node.this or "").strip().split(" ")[0].upper() or "this statement"
    for kind, words in _STATEMENTS:
        if isinstance(node, kind):
            return words
    tokens = sqlglot.tokenize(sql, read=read) if sql else []
    first = next((t.text for t in tokens if t.token_type is not TokenType.L_PAREN), "")
    return first.upper() or "this statement"


def _lock_words(lock: exp.Lock) -> str:
    return "FOR UPDATE" if lock.args.get("update") else "FOR SHARE / LOCK IN SHARE MODE"


def _parse_message(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)
    if errors:
        first = errors[0]
        where = f" at line {first.get('line')}, column {first.get('col')}"
        near = (first.get("highlight") or "").strip()
        text = f"{first.get('description', 'syntax error')}{where}"
        return f"{text} near {near!r}" if near else text
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
