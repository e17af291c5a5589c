"""The guard in front of ad-hoc SQL: exactly one read-only SELECT, or a one-line refusal.

The text is first measured (length, then nesting depth from its tokens), so oversized input is
refused before parsing costs anything; then it is parsed with sqlglot for the target's dialect
and every node of the tree is inspected: only functions on the dialect's allow list
(functions.py), and on the cache only the cache's own tables. What runs afterwards is the
statement regenerated from that tree without its comments, with the row cap as its outermost
LIMIT (TOP on SQL Server), so what the database executes is what the guard has seen (no comment
or quoting trick can smuggle a second statement past it). The guard is a second layer: the
source session is read-only and time-limited on its own.
"""

from __future__ import annotations

import logging

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel, ParseError, TokenError
from sqlglot.tokens import Token, TokenType

from .functions import FunctionCalls, allowed_functions
from .policy import DIALECTS, Policy, RefusedQuery

__all__ = ["DIALECTS", "Policy", "RefusedQuery", "check_sql", "sqlglot_dialect"]

# T-SQL table hints that take no locks (or fewer); every other hint is a locking request.
_READ_HINTS = frozenset({"NOLOCK", "READUNCOMMITTED", "NOEXPAND", "FORCESEEK", "FORCESCAN", "INDEX"})

# T-SQL lock hints, also in the old `FROM t (HOLDLOCK)` form that parses as a function call.
_LOCK_HINTS = frozenset(
    {
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
)

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


_OPENING = frozenset({TokenType.L_PAREN, TokenType.L_BRACKET, TokenType.L_BRACE})
_CLOSING = frozenset({TokenType.R_PAREN, TokenType.R_BRACKET, TokenType.R_BRACE})


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


def check_sql(sql: str, dialect: str, policy: Policy | None = None) -> str:
    """The single SELECT in `sql`, normalized for `dialect`; RefusedQuery when it is anything
    else or breaks the `policy` (defaults: Policy())."""
    policy = policy or Policy()
    read = sqlglot_dialect(dialect)
    if not sql or not sql.strip():
        raise RefusedQuery("the query is empty")
    _check_size(sql, read, policy)
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
    functions = FunctionCalls(read, allowed_functions(read, policy.functions))
    tables = None if policy.tables is None else {t.lower() for t in policy.tables}
    for node in root.walk():
        _check_node(node, read)
        if isinstance(node, exp.Func):
            functions.check(node)
        if tables is not None and isinstance(node, exp.Table) and not isinstance(node.this, exp.Func):
            _check_table(node, tables)
    if policy.max_rows is not None:
        root = _capped(root, policy.max_rows, read)
    try:
        statement = root.sql(dialect=read, comments=False, unsupported_level=ErrorLevel.RAISE)
    except Exception as exc:  # a construct the generator cannot write back: refuse, never guess
        raise RefusedQuery(f"the query uses a construct the guard cannot verify: {exc}") from None
    functions.check_statement(statement, root)
    return statement


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
    # (`:=` assigns wherever it stands, COALESCE(@v := x) too; T-SQL's `=` only in the projection)
    in_projection = isinstance(node.parent, exp.Select) and node.arg_key == "expressions"
    assigns = isinstance(node, exp.PropertyEQ) or (
        read == "tsql" and isinstance(node, exp.EQ) and in_projection
    )
    if assigns and isinstance(node.this, exp.Parameter):
        raise RefusedQuery("assigning variables in a SELECT is not allowed")
    for kind, words in _STATEMENTS:
        if isinstance(node, kind):
            where = "" if node.parent is None else " inside the query"
            raise RefusedQuery(f"{words}{where} is not allowed: the query must only read")
    for comment in node.comments or ():
        if comment.lstrip().startswith("!"):
            raise RefusedQuery("executable comments (/*! … */) are not allowed")


def _check_size(sql: str, read: str, policy: Policy) -> None:
    """Refuse input too long or too deeply nested before the parser spends time and memory on it."""
    if len(sql) > policy.max_chars:
        raise RefusedQuery(
            f"the query is {len(sql):,} characters long; the limit is {policy.max_chars:,} (query_max_chars)"
        )
    try:
        tokens: list[Token] = sqlglot.tokenize(sql, read=read)
    except TokenError as exc:
        raise RefusedQuery(f"not a single valid {read} SELECT: {_parse_message(exc)}") from None
    depth = deepest = 0
    for token in tokens:
        if token.token_type in _OPENING:
            depth += 1
            deepest = max(deepest, depth)
            if deepest > policy.max_depth:
                raise RefusedQuery(
                    f"the query nests brackets more than {policy.max_depth} deep (query_max_depth)"
                )
        elif token.token_type in _CLOSING:
            depth -= 1


def _check_table(node: exp.Table, tables: set[str]) -> None:
    """On the cache: only its own tables, unqualified (another schema may be the store's)."""
    if node.args.get("db") or node.args.get("catalog"):
        raise RefusedQuery(
            f"table {node.sql()} is not allowed: only the cache's own tables may be read, unqualified"
        )
    name = node.name.lower()
    if name not in tables and name not in _visible_ctes(node):
        raise RefusedQuery(f"table {node.name} is not a cache table: only the cache's own tables may be read")


def _visible_ctes(node: exp.Expr) -> set[str]:
    """Names of the WITH queries `node` can see: every enclosing WITH's earlier queries, all of
    them for a RECURSIVE one, all of them from its main query."""
    names: set[str] = set()
    cte: exp.Expr | None = None  # the WITH query the walk up came through last
    parent: exp.Expr | None = node
    while parent is not None:
        if isinstance(parent, exp.CTE):
            cte = parent
        with_ = parent.args.get("with_") or parent.args.get("with")
        if isinstance(with_, exp.With):
            ctes = list(with_.expressions)
            inside = next((i for i, c in enumerate(ctes) if c is cte), None)
            visible = ctes if inside is None or with_.args.get("recursive") else ctes[:inside]
            names.update(c.alias.lower() for c in visible)
            cte = None
        parent = parent.parent
    return names


def _capped(root: exp.Expr, cap: int, read: str) -> exp.Expr:
    """The query with at most `cap` rows: its outermost LIMIT (TOP in T-SQL) lowered or added,
    so the database never sends, and no driver buffers, more than the cap."""
    node = root.unnest() if isinstance(root, exp.Subquery) else root
    if node.args.get("fetch") is not None:
        return root  # FETCH FIRST n ROWS: left as written; rows are still read in batches
    limit = node.args.get("limit")
    if limit is None:
        if read == "tsql" and not isinstance(node, exp.Select):
            return root  # TOP over a UNION needs a derived table, which unnamed columns break
        node.set("limit", exp.Limit(expression=exp.Literal.number(cap)))
        return root
    count = limit.args.get("expression")
    options = limit.args.get("limit_options")
    plain = options is None or not (options.args.get("percent") or options.args.get("with_ties"))
    if isinstance(count, exp.Literal) and count.is_int and plain and int(count.this) > cap:
        limit.set("expression", exp.Literal.number(cap))
    return root


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
