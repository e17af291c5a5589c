"""The SQL files in sql/: loaded, rendered per dialect, for the cache or the source.

SQL files are written against the logical model (entity and column names of model.py) with
``:named`` parameters. A few Jinja helpers cover what dialects spell differently (date parts).
For the cache the logical names are the real ones. For the source, every entity the statement
reads becomes a derived table that renames the physical table and columns through the
mapping, so the same definition runs on BPO2 itself.

Reading and compiling a file costs milliseconds (tens for the derivations), so what renders
again and again holds the texts and templates in a `SqlFiles`: the Bridge's
(`bridge.sql_files`), or builds its statement once per cache connection
(queries/statements.py). The module functions are for one-off use (the CLI, checks, tests):
each reads and compiles afresh, and nothing is kept between calls.
"""

from __future__ import annotations

import re
from importlib.resources import files
from types import MappingProxyType

import jinja2
from sqlalchemy.engine import Dialect

from ..source.mapping import Mapping
from ..source.model import BY_NAME

_HEADER = re.compile(r"\A(\s*--[^\n]*\n)+")


class SqlFileError(LookupError):
    """A named SQL file does not exist."""


def _read(name: str) -> str:
    resource = files("bpo2_bridge.sql").joinpath(*f"{name}.sql".split("/"))
    if not resource.is_file():
        raise SqlFileError(f"no SQL file sql/{name}.sql")
    return resource.read_text(encoding="utf-8")


class SqlFiles:
    """The SQL files of one Bridge: each read and compiled on first use, then kept as long as
    the Bridge (the files do not change under a running process)."""

    def __init__(self) -> None:
        self._texts: dict[str, str] = {}
        self._templates: dict[str, jinja2.Template] = {}
        # files import macros from partials (sql/_name.sql) by name: `{% import '_name' as x %}`
        self.environment = jinja2.Environment(
            loader=jinja2.FunctionLoader(self._source),
            undefined=jinja2.StrictUndefined,
            autoescape=False,
            keep_trailing_newline=True,
        )

    def load(self, name: str) -> str:
        """The text of sql/<name>.sql (name may contain a folder, e.g. 'checks/x')."""
        text = self._texts.get(name)
        if text is None:
            text = self._texts[name] = _read(name)
        return text

    def header(self, name: str) -> str:
        """The leading comment block of a SQL file, without the comment markers."""
        match = _HEADER.match(self.load(name))
        if not match:
            return ""
        return "\n".join(line.strip()[2:].strip() for line in match.group(0).strip().splitlines())

    def render(self, name: str, dialect: Dialect | str, **context: object) -> str:
        """sql/<name>.sql rendered for `dialect`, against the logical (cache) names.

        Comment lines are dropped: headers name the `:parameters`, which text() would bind.
        """
        dname = _dialect_name(dialect)
        template = self._templates.get(name)
        if template is None:
            template = self._templates[name] = self.environment.from_string(self.load(name))
        return _strip_comments(template.render(**_helpers(dname), **context)).strip()

    def render_for_source(self, name: str, dialect: Dialect, mapping: Mapping, **context: object) -> str:
        """sql/<name>.sql rendered to run on BPO2: logical entities become renaming derived tables."""
        return wrap_for_source(self.render(name, dialect, **context), dialect, mapping)

    def _source(self, name: str) -> str | None:
        try:
            return self.load(name)
        except SqlFileError:
            return None


def load(name: str) -> str:
    """The text of sql/<name>.sql (name may contain a folder, e.g. 'checks/x')."""
    return _read(name)


def header(name: str) -> str:
    """The leading comment block of a SQL file, without the comment markers."""
    return SqlFiles().header(name)


def render(name: str, dialect: Dialect | str, **context: object) -> str:
    """sql/<name>.sql rendered for `dialect` (read and compiled afresh: see `SqlFiles`)."""
    return SqlFiles().render(name, dialect, **context)


def render_for_source(name: str, dialect: Dialect, mapping: Mapping, **context: object) -> str:
    """sql/<name>.sql rendered to run on BPO2 (read and compiled afresh: see `SqlFiles`)."""
    return SqlFiles().render_for_source(name, dialect, mapping, **context)


def list_files(folder: str = "") -> list[str]:
    """Names (without .sql) of the SQL files in sql/ or one of its folders."""
    base = files("bpo2_bridge.sql")
    root = base.joinpath(*folder.split("/")) if folder else base
    prefix = f"{folder}/" if folder else ""
    return sorted(
        prefix + item.name[:-4]
        for item in root.iterdir()
        if item.name.endswith(".sql") and not item.name.startswith("_")  # partials: macros only
    )


# -- dialect helpers available inside SQL files ---------------------------------------------

_Parts = MappingProxyType[str, str]
_MYSQL: _Parts = MappingProxyType(
    {
        "date_of": "DATE({x})",
        "year": "YEAR({x})",
        "month": "MONTH({x})",
        "day": "DAY({x})",
        "is_month_end": "({x} = LAST_DAY({x}))",
        "month_start": "CAST(DATE_FORMAT({x}, '%Y-%m-01') AS DATE)",
    }
)
_DATE_PARTS: MappingProxyType[str, _Parts] = MappingProxyType(
    {
        "sqlite": MappingProxyType(
            {
                "date_of": "date({x})",
                "year": "CAST(strftime('%Y', {x}) AS INTEGER)",
                "month": "CAST(strftime('%m', {x}) AS INTEGER)",
                "day": "CAST(strftime('%d', {x}) AS INTEGER)",
                "is_month_end": "(strftime('%d', date({x}, '+1 day')) = '01')",
                "month_start": "date({x}, 'start of month')",
            }
        ),
        "postgresql": MappingProxyType(
            {
                "date_of": "CAST({x} AS DATE)",
                "year": "CAST(EXTRACT(YEAR FROM {x}) AS INTEGER)",
                "month": "CAST(EXTRACT(MONTH FROM {x}) AS INTEGER)",
                "day": "CAST(EXTRACT(DAY FROM {x}) AS INTEGER)",
                "is_month_end": "(EXTRACT(DAY FROM {x} + INTERVAL '1 day') = 1)",
                "month_start": "CAST(date_trunc('month', {x}) AS DATE)",
            }
        ),
        "mysql": _MYSQL,
        "mariadb": _MYSQL,
        "mssql": MappingProxyType(
            {
                "date_of": "CAST({x} AS DATE)",
                "year": "YEAR({x})",
                "month": "MONTH({x})",
                "day": "DAY({x})",
                "is_month_end": "(CAST({x} AS DATE) = EOMONTH({x}))",
                "month_start": "DATEFROMPARTS(YEAR({x}), MONTH({x}), 1)",
            }
        ),
    }
)


def _dialect_name(dialect: Dialect | str) -> str:
    name = dialect if isinstance(dialect, str) else dialect.name
    if name not in _DATE_PARTS:
        raise ValueError(f"no SQL helpers for dialect {name!r}")
    return name


def _helpers(dialect: str) -> dict[str, object]:
    parts = _DATE_PARTS[dialect]
    helpers: dict[str, object] = {key: (lambda x, _tpl=tpl: _tpl.format(x=x)) for key, tpl in parts.items()}
    # `CASE WHEN cond THEN 1 ELSE 0 END` for boolean-valued helpers where a number is needed
    helpers["as_int"] = lambda cond: f"(CASE WHEN {cond} THEN 1 ELSE 0 END)"
    helpers["dialect"] = dialect
    return helpers


_ENTITY_REF = re.compile(
    r"(?P<kw>\b(?:FROM|JOIN)\s+)(?P<entity>" + "|".join(sorted(BY_NAME, key=len, reverse=True)) + r")\b"
    r"(?:(?P<gap>\s+(?:AS\s+)?)(?P<alias>[A-Za-z_][A-Za-z0-9_]*))?",
    re.IGNORECASE,
)
_NOT_ALIASES = frozenset({
    "WHERE", "ON", "JOIN", "LEFT", "RIGHT", "INNER", "OUTER", "FULL", "CROSS", "GROUP", "ORDER",
    "HAVING", "UNION", "EXCEPT", "INTERSECT", "LIMIT", "WINDOW", "USING", "NATURAL",
})  # fmt: skip


def wrap_for_source(sql: str, dialect: Dialect, mapping: Mapping) -> str:
    """Replace each `FROM|JOIN <entity> [alias]` by a derived table that renames BPO2's physical
    table and columns to the logical ones.

    Derived tables rather than CTEs named after the entities: a CTE `contract` over a table
    `Contract` is a circular reference on SQLite and a recursive CTE on SQL Server, whose names
    compare case-insensitively.
    """
    quote = dialect.identifier_preparer.quote

    def derived(match: re.Match[str]) -> str:
        name = match.group("entity").lower()
        em = mapping[name]
        cols = ", ".join(
            f"{quote(em.physical(c.name))} AS {quote(c.name)}" for c in em.entity.columns if em.has(c.name)
        )
        table = quote(em.table) if not em.schema else f"{quote(em.schema)}.{quote(em.table)}"
        kw, gap, alias = match.group("kw"), match.group("gap") or "", match.group("alias")
        if alias is None or alias.upper() in _NOT_ALIASES:
            return f"{kw}(SELECT {cols} FROM {table}) {quote(name)}{gap}{alias or ''}"
        return f"{kw}(SELECT {cols} FROM {table}){gap}{alias}"

    return _ENTITY_REF.sub(derived, _strip_comments(sql)).strip().rstrip(";")


def _strip_comments(sql: str) -> str:
    return "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
