"""Canned SQL checks: one file each in sql/checks/, run against BPO2 through the mapping.

A check fails when it finds rows. Each file's header says what it finds and why it matters;
dates come from the settings' today (`:today`), never the database clock, so a check gives
the same answer in a test as on the day it is pinned to.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from sqlalchemy import Date, Engine, bindparam, desc, func, select, text
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.elements import TextClause

from ..queries import sqlfiles
from ..queries.windows import add_months
from ..source.mapping import Mapping
from ..store.database import check_runs
from ..values import json_value
from .adhoc import QueryFailed, run_statement

if TYPE_CHECKING:
    from ..bridge import Bridge

log = logging.getLogger(__name__)

FOLDER = "checks"
SAMPLE_ROWS = 200  # rows kept with a run by default; run_checks keeps query_max_rows
_KEY = re.compile(r"^([A-Z][A-Za-z -]+):\s*(.*)$")


@dataclass(frozen=True)
class Check:
    name: str
    title: str  # first line of the header: what it finds
    why: str  # why it matters
    parameters: str
    post: str | None  # a check finishing in Python (file existence), or None

    @property
    def sql_name(self) -> str:
        return f"{FOLDER}/{self.name}"


@dataclass
class CheckResult:
    name: str
    title: str
    status: str  # pass | fail | error
    row_count: int
    columns: list[str] = field(default_factory=list)
    rows: list[tuple[Any, ...]] = field(default_factory=list)  # the first SAMPLE_ROWS
    error: str | None = None
    duration_ms: int = 0
    ran_at: dt.datetime | None = None
    triggered_by: str = ""

    @property
    def failed(self) -> bool:
        return self.status != "pass"


class UnknownCheck(LookupError):
    """No canned check of that name; the message lists the known ones."""


def _parse_header(name: str) -> Check:
    lines = sqlfiles.header(f"{FOLDER}/{name}").splitlines()
    title = lines[0].strip() if lines else name
    sections: dict[str, list[str]] = {}
    current = None
    for line in lines[1:]:
        match = _KEY.match(line.strip())
        if match:
            current = match.group(1).lower()
            sections[current] = [match.group(2)]
        elif current:
            sections[current].append(line.strip())
    joined = {k: " ".join(p for p in v if p).strip() for k, v in sections.items()}
    post = joined.get("post-check", "").split(" ")[0] or None
    return Check(name, title, joined.get("why it matters", ""), joined.get("parameters", ""), post)


def list_checks() -> list[Check]:
    return [_parse_header(path.split("/", 1)[1]) for path in sqlfiles.list_files(FOLDER)]


def get_check(name: str) -> Check:
    for check in list_checks():
        if check.name == name:
            return check
    known = ", ".join(c.name for c in list_checks())
    raise UnknownCheck(f"no check named {name!r} (known: {known})")


def check_params(today: dt.date) -> dict[str, dt.date]:
    """The dates every check may use: today and two months before it."""
    return {"today": today, "since": add_months(today, -2)}


def render_check(
    check: Check, dialect: Dialect, mapping: Mapping, sql_files: sqlfiles.SqlFiles | None = None
) -> str:
    """The check's SQL for a source of `dialect`, every logical table read through the mapping
    (``sql_files``: the Bridge's, which keeps each file compiled)."""
    logical = (sql_files or sqlfiles.SqlFiles()).render(
        check.sql_name,
        dialect,
        mapped=lambda entity, column: mapping[entity].has(column),
    )
    return sqlfiles.wrap_for_source(logical, dialect, mapping)


def check_clause(sql: str, today: dt.date) -> tuple[TextClause, dict[str, Any]]:
    """The statement with its date parameters typed (SQLite stores dates as text)."""
    params = {k: v for k, v in check_params(today).items() if f":{k}" in sql}
    clause = text(sql).bindparams(*(bindparam(k, type_=Date()) for k in params))
    return clause, params


def run_check(
    check: Check,
    engine: Engine,
    mapping: Mapping,
    *,
    today: dt.date,
    share_root: Path,
    timeout: float,
    max_rows: int = SAMPLE_ROWS,
    sql_files: sqlfiles.SqlFiles | None = None,
) -> CheckResult:
    """Run one check on the source; an error is a result (status error), not an exception."""
    started = time.monotonic()
    try:
        clause, params = check_clause(render_check(check, engine.dialect, mapping, sql_files), today)
        keep = _POST_CHECKS[check.post](share_root) if check.post else None
        result = run_statement(
            engine, clause, params=params, max_rows=max_rows, timeout=timeout, keep=keep, count_all=True
        )
    except (QueryFailed, sqlfiles.SqlFileError, KeyError) as exc:
        elapsed = int((time.monotonic() - started) * 1000)
        return CheckResult(check.name, check.title, "error", 0, error=str(exc), duration_ms=elapsed)
    except Exception as exc:
        # anything else (a BPO2 row no code expected, e.g. a file path holding a NUL) fails this
        # check alone, with its reason; the other checks still run
        log.warning("check %s could not run", check.name, exc_info=True, extra={"check": check.name})
        elapsed = int((time.monotonic() - started) * 1000)
        reason = f"{type(exc).__name__}: {exc}"
        return CheckResult(check.name, check.title, "error", 0, error=reason, duration_ms=elapsed)
    status = "fail" if result.total else "pass"
    return CheckResult(
        check.name,
        check.title,
        status,
        result.total,
        result.columns,
        result.rows,
        duration_ms=result.elapsed_ms,
    )


def run_checks(
    bridge: Bridge, names: Sequence[str] | None = None, triggered_by: str = "scheduler"
) -> list[CheckResult]:
    """Run the named checks (all when None) on BPO2 and record each result in the store."""
    checks = [get_check(n) for n in names] if names else list_checks()
    settings = bridge.settings
    results = []
    for check in checks:
        result = run_check(
            check,
            bridge.source,
            bridge.mapping,
            today=bridge.today(),
            share_root=settings.share_path,
            timeout=settings.statement_timeout,
            max_rows=settings.query_max_rows,
            sql_files=bridge.sql_files,
        )
        result.ran_at = settings.now()
        result.triggered_by = triggered_by
        record(bridge.store, result)
        results.append(result)
    return results


# -- history in the application store -------------------------------------------------------


def record(store: Engine, result: CheckResult) -> None:
    sample = {"columns": result.columns, "rows": [[json_value(v) for v in r] for r in result.rows]}
    with store.begin() as conn:
        conn.execute(
            check_runs.insert().values(
                check_name=result.name,
                ran_at=result.ran_at or dt.datetime.now(),
                duration_ms=result.duration_ms,
                row_count=result.row_count,
                status=result.status,
                error=result.error,
                sample_json=json.dumps(sample),
                triggered_by=result.triggered_by,
            )
        )


def last_results(store: Engine) -> dict[str, CheckResult]:
    """The latest recorded result of every check that has run, by check name."""
    latest = (
        select(check_runs.c.check_name, func.max(check_runs.c.id).label("id"))
        .group_by(check_runs.c.check_name)
        .subquery()
    )
    query = select(check_runs).join(latest, latest.c.id == check_runs.c.id)
    with store.connect() as conn:
        return {row.check_name: _from_row(row) for row in conn.execute(query)}


def history(store: Engine, name: str, limit: int = 20) -> list[CheckResult]:
    query = (
        select(check_runs).where(check_runs.c.check_name == name).order_by(desc(check_runs.c.id)).limit(limit)
    )
    with store.connect() as conn:
        return [_from_row(row) for row in conn.execute(query)]


def _from_row(row: Any) -> CheckResult:
    sample = json.loads(row.sample_json or "{}")
    titles = {c.name: c.title for c in list_checks()}
    return CheckResult(
        row.check_name,
        titles.get(row.check_name, row.check_name),
        row.status,
        row.row_count or 0,
        sample.get("columns", []),
        [tuple(r) for r in sample.get("rows", [])],
        error=row.error,
        duration_ms=row.duration_ms or 0,
        ran_at=row.ran_at,
        triggered_by=row.triggered_by or "",
    )


# -- checks finished in Python ---------------------------------------------------------------


def _missing_share_file(share_root: Path) -> Callable[[dict[str, Any]], bool]:
    """Keep a row (no bytes in BPO2) when its file_path names no readable file on the share."""
    root = share_root.resolve()

    def keep(row: dict[str, Any]) -> bool:
        relative = (row.get("file_path") or "").strip()
        if not relative:
            return True
        target = root.joinpath(*[p for p in re.split(r"[\\/]+", relative) if p]).resolve()
        if not target.is_relative_to(root):
            return True  # a path leading out of the share is as good as missing
        return not target.is_file()

    return keep


_POST_CHECKS: MappingProxyType[str, Callable[[Path], Callable[[dict[str, Any]], bool]]] = MappingProxyType(
    {
        "share_file": _missing_share_file,
    }
)
