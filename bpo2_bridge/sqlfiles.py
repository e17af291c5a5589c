"""The SQL files in sql/: loaded once, rendered per dialect, for the cache or the source.

SQL files are written against the logical model (entity and column names of model.py) with
``:named`` parameters. A few Jinja helpers cover what dialects spell differently (date parts).
For the cache the logical names are the real ones. For the source, every entity the statement
reads becomes a CTE that renames the physical table and columns through the mapping, so the
same definition runs on BPO2 itself.
"""

from __future__ import annotations

import re
from functools import cache
from importlib.resources import files

import jinja2
from sqlalchemy.engine import Dialect

from .mapping import Mapping
from .model import BY_NAME

_HEADER = re.compile(r"\A(\s*--[^\n]*\n)+")
_FROM_JOIN = re.compile(r"\b(?:FROM|JOIN)\s+([A-Za-z_][A-Za-z0-9_]*)", re.IGNORECASE)


class SqlFileError(LookupError):
    """A named SQL file does not exist."""


@cache
def load(name: str) -> str:
    """The text of sql/<name>.sql (name may contain a folder, e.g. 'checks/x')."""
    resource = files("bpo2_bridge.sql").joinpath(*f"{name}.sql".split("/"))
    if not resource.is_file():
        raise SqlFileError(f"no SQL file sql/{name}.sql")
    return resource.read_text(encoding="utf-8")


def list_files(folder: str = "") -> list[str]:
    """Names (without .sql) of the SQL files in sql/ or one of its folders."""
    base = files("bpo2_bridge.sql")
    root = base.joinpath(*folder.split("/")) if folder else base
    prefix = f"{folder}/" if folder else ""
    return sorted(prefix + item.name[:-4] for item in root.iterdir() if item.name.endswith(".sql"))


def header(name: str) -> str:
    """The leading comment block of a SQL file, without the comment markers."""
    match = _HEADER.match(load(name))
    if not match:
        return ""
    return "\n".join(line.strip()[2:].strip() for line in match.group(0).strip().splitlines())


# -- dialect helpers available inside SQL files ---------------------------------------------

_DATE_PARTS: dict[str, dict[str, str]] = {
    "sqlite": {
        "year": "CAST(strftime('%Y', {x}) AS INTEGER)",
        "month": "CAST(strftime('%m', {x}) AS INTEGER)",
        "day": "CAST(strftime('%d', {x}) AS INTEGER)",
        "is_month_end": "(strftime('%d', date({x}, '+1 day')) = '01')",
        "month_start": "date({x}, 'start of month')",
    },
    "postgresql": {
        "year": "CAST(EXTRACT(YEAR FROM {x}) AS INTEGER)",
        "month": "CAST(EXTRACT(MONTH FROM {x}) AS INTEGER)",
        "day": "CAST(EXTRACT(DAY FROM {x}) AS INTEGER)",
        "is_month_end": "(EXTRACT(DAY FROM {x} + INTERVAL '1 day') = 1)",
        "month_start": "CAST(date_trunc('month', {x}) AS DATE)",
    },
    "mysql": {
        "year": "YEAR({x})",
        "month": "MONTH({x})",
        "day": "DAY({x})",
        "is_month_end": "({x} = LAST_DAY({x}))",
        "month_start": "CAST(DATE_FORMAT({x}, '%Y-%m-01') AS DATE)",
    },
    "mssql": {
        "year": "YEAR({x})",
        "month": "MONTH({x})",
        "day": "DAY({x})",
        "is_month_end": "(CAST({x} AS DATE) = EOMONTH({x}))",
        "month_start": "DATEFROMPARTS(YEAR({x}), MONTH({x}), 1)",
    },
}
_DATE_PARTS["mariadb"] = _DATE_PARTS["mysql"]


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


_ENV = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True)


def render(name: str, dialect: Dialect | str, **context: object) -> str:
    """sql/<name>.sql rendered for `dialect`, against the logical (cache) names."""
    dname = _dialect_name(dialect)
    return _ENV.from_string(load(name)).render(**_helpers(dname), **context)


def render_for_source(name: str, dialect: Dialect, mapping: Mapping, **context: object) -> str:
    """sql/<name>.sql rendered to run on BPO2: logical entities become renaming CTEs."""
    return wrap_for_source(render(name, dialect, **context), dialect, mapping)


def wrap_for_source(sql: str, dialect: Dialect, mapping: Mapping) -> str:
    quote = dialect.identifier_preparer.quote
    body = _strip_comments(sql).strip().rstrip(";")
    used = []
    for word in _FROM_JOIN.findall(body):
        if word in BY_NAME and word not in used:
            used.append(word)
    ctes = []
    for name in used:
        em = mapping[name]
        cols = ", ".join(
            f"{quote(em.physical(c.name))} AS {quote(c.name)}" for c in em.entity.columns if em.has(c.name)
        )
        table = quote(em.table) if not em.schema else f"{quote(em.schema)}.{quote(em.table)}"
        ctes.append(f"{quote(name)} AS (SELECT {cols} FROM {table})")
    if not ctes:
        return body
    prefix = ",\n".join(ctes)
    if re.match(r"WITH\b", body, re.IGNORECASE):
        return f"WITH {prefix},\n{body[4:].lstrip()}"
    return f"WITH {prefix}\n{body}"


def _strip_comments(sql: str) -> str:
    return "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
