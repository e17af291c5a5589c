"""The BPO2 tables as they really are: checked against the mapping, reflected under logical names.

`check_schema` lists every mapped table or column the source lacks (with the closest existing
names) and every column whose type cannot serve its logical column. `reflect_source` reflects
only the mapped tables and columns, keyed by logical name, so `schema.table("contract").c.expiry_date`
is the physical expiry column. The sync's plans (sync/plan.py) build their statements on it; the
helpers here give the watermark query and one customer's rows. All are SQLAlchemy Core, so they
compile for every dialect, SQL Server included.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from sqlalchemy import (
    BindParameter,
    Column,
    ColumnElement,
    Engine,
    MetaData,
    Select,
    Table,
    bindparam,
    func,
    inspect,
    select,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy import types as sqltypes
from sqlalchemy.engine import Inspector
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeEngine

from .engines import SourceError, first_line, source_session
from .mapping import EntityMap, Mapping
from .model import Parent, entity

CHANGE_KEY = "_change"  # key of a change column that is not also a logical column (as in mapping.py)


@dataclass(frozen=True)
class Problem:
    """One way the source does not fit the mapping."""

    entity: str
    table: str  # physical table as the mapping names it (schema-qualified where mapped so)
    column: str | None  # logical column; None when the table itself is the problem
    physical: str | None  # physical column the mapping names
    message: str
    suggestions: tuple[str, ...] = ()


class SchemaError(RuntimeError):
    """The source is reachable but does not fit the mapping; `problems` says how."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        first = self.problems[0]
        more = f" (and {len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
        super().__init__(
            f"BPO2 schema does not fit the mapping: {first.entity}: {first.message}{more}; "
            "run `bpo2-bridge schema check` for the list"
        )


# -- finding names -----------------------------------------------------------------------------


def _norm(name: str) -> str:
    """Names compared for suggestions: case and separators do not count."""
    return re.sub(r"[^0-9a-z]", "", name.lower())


def suggest(wanted: str, candidates: Iterable[str], limit: int = 3) -> tuple[str, ...]:
    """The existing names closest to `wanted`, best first (case and underscores ignored)."""
    by_norm: dict[str, str] = {}
    for name in candidates:
        by_norm.setdefault(_norm(name), name)
    close = difflib.get_close_matches(_norm(wanted), list(by_norm), n=limit, cutoff=0.6)
    return tuple(by_norm[n] for n in close)


def _find(wanted: str, existing: Sequence[str], case_sensitive: bool) -> str | None:
    if wanted in existing:
        return wanted
    if case_sensitive:
        return None
    folded = [name for name in existing if name.lower() == wanted.lower()]
    return folded[0] if len(folded) == 1 else None


# -- types -------------------------------------------------------------------------------------

# kind of logical column -> (how it is spoken of, kinds of source column that can serve it)
_SERVES: MappingProxyType[str, tuple[str, frozenset[str]]] = MappingProxyType(
    {
        "integer": ("a whole number", frozenset({"integer"})),
        "numeric": ("a number", frozenset({"integer", "numeric"})),
        "boolean": ("a yes/no flag", frozenset({"boolean", "integer"})),  # BIT, or TINYINT(1) on MariaDB
        "date": ("a date", frozenset({"date", "datetime"})),  # many BPO2 dates are datetime columns
        "datetime": ("a date and time", frozenset({"datetime", "date"})),
        "text": ("text", frozenset({"text"})),
        "binary": ("binary data", frozenset({"binary"})),
    }
)
# checked in order: Boolean before Integer, DateTime before Date (subclass relations differ per dialect)
_KINDS: tuple[tuple[type | tuple[type, ...], str], ...] = (
    (sqltypes.Boolean, "boolean"),
    (sqltypes.Integer, "integer"),
    (sqltypes.Numeric, "numeric"),
    (sqltypes.DateTime, "datetime"),
    (sqltypes.Date, "date"),
    ((sqltypes._Binary, sqltypes.LargeBinary), "binary"),
    (sqltypes.String, "text"),
)


def type_kind(type_: TypeEngine[Any]) -> str:
    """The broad kind of a (logical or reflected) column type; 'unknown' when it cannot be told."""
    if type_.__visit_name__ in ("MONEY", "SMALLMONEY"):  # SQL Server money types
        return "numeric"
    if type_.__visit_name__ == "null":  # no declared type (SQLite) or not recognised
        return "unknown"
    for classes, kind in _KINDS:
        if isinstance(type_, classes):
            if kind == "numeric" and getattr(type_, "scale", None) == 0:
                return "integer"  # NUMERIC(10, 0) keys
            return kind
    return "other"


def _type_problem(reflected: TypeEngine[Any], needed: str) -> str | None:
    have = type_kind(reflected)
    if have == "unknown" or have in _SERVES[needed][1]:
        return None
    shown = _SERVES[have][0] if have in _SERVES else "of another kind"
    return f"is {_type_name(reflected)} ({shown}), which cannot serve as {_SERVES[needed][0]}"


def _type_name(type_: TypeEngine[Any]) -> str:
    try:
        return str(type_)
    except sa_exc.CompileError:
        return type_.__class__.__name__


# -- resolving the mapping against the live source ----------------------------------------------


@dataclass
class _Resolved:
    """Where one entity really lives: actual table, schema and column names."""

    table: str
    schema: str | None
    columns: dict[str, str] = field(default_factory=dict)  # logical -> actual physical name
    change: str | None = None
    reflected: dict[str, Any] = field(default_factory=dict)  # actual name -> reflected column info


def _resolve(insp: Inspector, mapping: Mapping) -> tuple[dict[str, _Resolved], list[Problem]]:
    # PostgreSQL compares quoted names exactly, and the mapping's mixed-case names are always
    # quoted; the other engines compare identifiers without regard to case.
    case_sensitive = insp.dialect.name == "postgresql"
    problems: list[Problem] = []
    schemas: list[str] | None = None
    tables_in: dict[str | None, list[str]] = {}
    located: list[tuple[EntityMap, str | None, str | None]] = []  # (entity, schema, table or None)

    for em in mapping:
        schema = em.schema
        if schema is not None:
            if schemas is None:
                schemas = insp.get_schema_names()
            schema = _find(em.schema or "", schemas, case_sensitive)
            if schema is None:
                message = f"schema {em.schema} not found"
                problems.append(
                    Problem(
                        em.name, em.qualified_table, None, None, message, suggest(em.schema or "", schemas)
                    )
                )
                continue
        if schema not in tables_in:
            tables_in[schema] = sorted(
                insp.get_table_names(schema=schema) + insp.get_view_names(schema=schema)
            )
        located.append((em, schema, _find(em.table, tables_in[schema], case_sensitive)))

    # a table another entity already uses is never the suggestion for a missing one
    claimed = {(schema, table) for _, schema, table in located if table is not None}
    resolved: dict[str, _Resolved] = {}
    for em, schema, table in located:
        if table is None:
            others = [t for t in tables_in[schema] if (schema, t) not in claimed]
            message = f"table {em.table} not found"
            problems.append(
                Problem(em.name, em.qualified_table, None, None, message, suggest(em.table, others))
            )
            continue
        resolved[em.name] = _resolve_columns(insp, em, table, schema, case_sensitive, problems)
    order = {em.name: i for i, em in enumerate(mapping)}
    problems.sort(key=lambda p: order[p.entity])
    return resolved, problems


def _resolve_columns(
    insp: Inspector,
    em: EntityMap,
    table: str,
    schema: str | None,
    case_sensitive: bool,
    problems: list[Problem],
) -> _Resolved:
    reflected = {c["name"]: c for c in insp.get_columns(table, schema=schema)}
    names = list(reflected)
    found = _Resolved(table, schema, reflected=reflected)
    wanted = [(c.name, em.physical(c.name), type_kind(c.type)) for c in em.entity.columns if em.has(c.name)]
    if em.change_column:
        wanted.append(
            (CHANGE_KEY, em.change_column, "binary" if em.change_kind == "rowversion" else "datetime")
        )
    hits = {physical: _find(physical, names, case_sensitive) for _, physical, _ in wanted}
    taken = {hit for hit in hits.values() if hit is not None}
    for logical, physical, kind in wanted:
        hit = hits[physical]
        label = f"{em.name}.{logical}" if logical != CHANGE_KEY else f"{em.name} change column"
        column = logical if logical != CHANGE_KEY else None
        trouble = None if hit is None else _type_problem(reflected[hit]["type"], kind)
        if hit is None:
            others = [n for n in names if n not in taken]
            message = f"column {physical} ({label}) not found in {table}"
            problems.append(
                Problem(em.name, em.qualified_table, column, physical, message, suggest(physical, others))
            )
        elif trouble:
            problems.append(
                Problem(em.name, em.qualified_table, column, physical, f"column {hit} ({label}) {trouble}")
            )
        elif column is None:
            found.change = hit
        else:
            found.columns[logical] = hit
    return found


def check_schema(engine: Engine, mapping: Mapping) -> list[Problem]:
    """Every way the live source fails the mapping; empty when it fits.

    Raises SourceError when the source cannot be reached or refuses the catalogue queries.
    """
    with source_session(engine) as conn:
        try:
            _, problems = _resolve(inspect(conn), mapping)
        except sa_exc.DBAPIError as exc:
            raise SourceError(f"BPO2 source unreachable: {first_line(exc)}") from exc
    return problems


def mapped_counts(mapping: Mapping) -> tuple[int, int]:
    """(tables, physical columns) the mapping names, for the all-clear message."""
    tables = {(em.schema, em.table) for em in mapping}
    columns = {(em.schema, em.table, name) for em in mapping for name in em.columns.values()}
    columns |= {(em.schema, em.table, em.change_column) for em in mapping if em.change_column}
    return len(tables), len(columns)


# -- the reflected schema ------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceSchema:
    """The mapped BPO2 tables, each column keyed by its logical name."""

    mapping: Mapping
    metadata: MetaData
    tables: dict[str, Table]

    def table(self, entity_name: str) -> Table:
        try:
            return self.tables[entity_name]
        except KeyError:
            raise KeyError(f"unknown entity {entity_name!r}") from None

    def column(self, entity_name: str, logical: str) -> Column[Any]:
        table = self.table(entity_name)
        em = self.mapping[entity_name]
        if logical not in table.c and em.has(logical):
            # two logical columns mapped to one physical column share its key
            for other, physical in em.columns.items():
                if physical == em.physical(logical) and other in table.c:
                    return table.c[other]
        return table.c[logical]

    def change_column(self, entity_name: str) -> Column[Any] | None:
        em = self.mapping[entity_name]
        if not em.change_column:
            return None
        table = self.table(entity_name)
        for logical, physical in em.columns.items():
            if physical == em.change_column and logical in table.c:
                return table.c[logical]
        return table.c[CHANGE_KEY]


def offline_schema(mapping: Mapping) -> SourceSchema:
    """The schema as the mapping describes it, without a database (for compiling statements)."""
    metadata = mapping.physical_metadata()
    tables = {em.name: metadata.tables[em.qualified_table] for em in mapping}
    return SourceSchema(mapping, metadata, tables)


def reflect_source(engine: Engine, mapping: Mapping) -> SourceSchema:
    """Reflect the mapped tables and columns only (in the source's column order), keyed by
    logical names.

    Raises SchemaError when the source does not fit the mapping, SourceError when unreachable.
    """
    metadata = MetaData()
    tables: dict[str, Table] = {}
    with source_session(engine) as conn:
        try:
            resolved, problems = _resolve(inspect(conn), mapping)
        except sa_exc.DBAPIError as exc:
            raise SourceError(f"BPO2 source unreachable: {first_line(exc)}") from exc
    if problems:
        raise SchemaError(problems)
    for em in mapping:
        tables[em.name] = _reflect_table(metadata, resolved[em.name])
    return SourceSchema(mapping, metadata, tables)


def _reflect_table(metadata: MetaData, found: _Resolved) -> Table:
    """The table from the columns already reflected while resolving: no further catalogue
    queries (Table autoload would also read indexes, constraints and comments, unused here)."""
    keys: dict[str, str] = {}  # actual physical name -> logical key (first logical name wins)
    for logical, physical in found.columns.items():
        keys.setdefault(physical, logical)
    if found.change:
        keys.setdefault(found.change, CHANGE_KEY)
    columns = [
        Column(info["name"], info["type"], key=keys[info["name"]], nullable=info.get("nullable", True))
        for info in found.reflected.values()
        if info["name"] in keys
    ]
    return Table(found.table, metadata, *columns, schema=found.schema)


# -- source statements the sync plans build on ----------------------------------------------------


class SourceUtcNow(FunctionElement[Any]):
    """The source server's own current time in UTC (each engine spells it differently)."""

    type = sqltypes.DateTime()
    inherit_cache = True


@compiles(SourceUtcNow)
def _utc_now_default(element: SourceUtcNow, compiler: Any, **kw: Any) -> str:
    return "CURRENT_TIMESTAMP"  # PostgreSQL: a timestamp with time zone


@compiles(SourceUtcNow, "mssql")
def _utc_now_mssql(element: SourceUtcNow, compiler: Any, **kw: Any) -> str:
    return "SYSUTCDATETIME()"


@compiles(SourceUtcNow, "mysql")
@compiles(SourceUtcNow, "mariadb")
def _utc_now_mysql(element: SourceUtcNow, compiler: Any, **kw: Any) -> str:
    return "UTC_TIMESTAMP(6)"


@compiles(SourceUtcNow, "sqlite")
def _utc_now_sqlite(element: SourceUtcNow, compiler: Any, **kw: Any) -> str:
    return "STRFTIME('%Y-%m-%d %H:%M:%f', 'now')"  # CURRENT_TIMESTAMP drops the fraction


def select_watermark(schema: SourceSchema, entity_name: str) -> Select[Any]:
    """The value to remember for the next incremental read of the entity; take it before reading.

    A SQL Server rowversion uses MIN_ACTIVE_ROWVERSION(): everything below it is committed, so no
    row still in flight can later appear under the watermark (@@DBTS does not promise that).
    A date-time column comes with the source's own clock (column ``source_now``, UTC), so a
    change value stamped in the future cannot carry the watermark past it.
    """
    col = schema.change_column(entity_name)
    if col is None:
        raise ValueError(f"{entity_name} has no change column in the mapping")
    em = schema.mapping[entity_name]
    if em.change_kind == "rowversion":
        return select(func.MIN_ACTIVE_ROWVERSION().label("watermark"))
    return select(func.max(col).label("watermark"), SourceUtcNow().label("source_now")).select_from(
        schema.table(entity_name)
    )


def for_customer(schema: SourceSchema, entity_name: str, customer_id: Any) -> ColumnElement[bool]:
    """Rows of one customer (parameter :customer_id), following the entity's owner links."""
    param = bindparam("customer_id", customer_id, type_=sqltypes.Integer())
    return _owned_by(schema, entity_name, param)


def _owned_by(schema: SourceSchema, entity_name: str, param: BindParameter[Any]) -> ColumnElement[bool]:
    link = entity(entity_name).customer_link
    if link is None:
        raise ValueError(f"{entity_name} is reference data, not owned by a customer")
    if isinstance(link, str):
        return schema.column(entity_name, link) == param
    assert isinstance(link, Parent)
    parent_keys = select(schema.column(link.entity, link.parent_column)).where(
        _owned_by(schema, link.entity, param)
    )
    return schema.column(entity_name, link.column).in_(parent_keys)
