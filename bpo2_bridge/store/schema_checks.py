"""Schema checks of BPO2 against the mapping, kept in the application store.

Whoever reaches BPO2 for the mapped tables records what it found: `bpo2-bridge schema check`,
every full sync as it starts (its reflection is the same check) and the hourly scheduled job.
The Status page reads the latest record and its age; it never reaches BPO2 itself.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, select

from ..source.engines import SourceError
from ..source.mapping import Mapping
from ..source.reflection import Problem, SchemaError, SourceSchema, check_schema, reflect_source
from .database import schema_checks

KEEP = 50  # records kept: the page shows the latest, the rest say how it went lately


@dataclass(frozen=True)
class SchemaCheck:
    checked_at: dt.datetime  # local wall-clock time, as sync history
    checked_by: str
    reachable: bool
    error: str | None = None  # why BPO2 could not be reached
    problems: tuple[Problem, ...] = ()

    @property
    def fits(self) -> bool:
        return self.reachable and not self.problems

    def as_dict(self) -> dict[str, object]:
        return {
            "checked_at": self.checked_at,
            "checked_by": self.checked_by,
            "reachable": self.reachable,
            "error": self.error,
            "problems": [_problem_dict(p) for p in self.problems],
        }


def _problem_dict(problem: Problem) -> dict[str, object]:
    return {
        "entity": problem.entity,
        "table": problem.table,
        "column": problem.column,
        "physical": problem.physical,
        "message": problem.message,
        "suggestions": list(problem.suggestions),
    }


def save(store: Engine, check: SchemaCheck) -> None:
    with store.begin() as conn:
        key = conn.execute(
            schema_checks.insert().values(
                checked_at=check.checked_at,
                checked_by=check.checked_by[:100],
                reachable=check.reachable,
                error=(check.error or "")[:2000] or None,
                problems_json=json.dumps([_problem_dict(p) for p in check.problems]),
            )
        ).inserted_primary_key
        assert key is not None  # an INSERT of one row always has it
        conn.execute(schema_checks.delete().where(schema_checks.c.id <= int(key[0]) - KEEP))


def latest(store: Engine) -> SchemaCheck | None:
    query = select(schema_checks).order_by(schema_checks.c.id.desc()).limit(1)
    with store.connect() as conn:
        row = conn.execute(query).first()
    if row is None:
        return None
    problems = tuple(
        Problem(
            p["entity"],
            p["table"],
            p["column"],
            p["physical"],
            p["message"],
            tuple(p["suggestions"]),
        )
        for p in json.loads(row.problems_json or "[]")
    )
    return SchemaCheck(row.checked_at, row.checked_by, bool(row.reachable), row.error, problems)


def outcome(
    now: dt.datetime, by: str, problems: Sequence[Problem] = (), error: str | None = None
) -> SchemaCheck:
    return SchemaCheck(now, by, error is None, error, tuple(problems))


def check_and_save(source: Engine, mapping: Mapping, store: Engine, now: dt.datetime, by: str) -> SchemaCheck:
    """Check BPO2 against the mapping and record the result (unreachable included)."""
    try:
        check = outcome(now, by, check_schema(source, mapping))
    except SourceError as exc:
        check = outcome(now, by, error=str(exc))
    save(store, check)
    return check


def reflect_and_save(
    source: Engine, mapping: Mapping, store: Engine, now: dt.datetime, by: str
) -> SourceSchema:
    """reflect_source, recording what it found as a schema check; raises as reflect_source does."""
    try:
        schema = reflect_source(source, mapping)
    except SchemaError as exc:
        save(store, outcome(now, by, exc.problems))
        raise
    except SourceError as exc:
        save(store, outcome(now, by, error=str(exc)))
        raise
    save(store, outcome(now, by))
    return schema
