"""The Create Filter builder's expressions, parsed, rendered and written as SQL.

**Create Filter** (parameter ``filter``): conditions ``column operator value`` joined with
``AND`` / ``OR`` and parentheses (AND binds tighter), e.g.
``status = "Active" AND (months_remaining < 0 OR contract_type = "Rental")``. Operators
``= != < <= > >= contains startswith``; values are "quoted text" (``\\"`` and ``\\\\`` escape),
numbers, dates (``2026-01-01``) or yes/no.
Conditions are checked as the Filter Row's are (:mod:`.filters`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, or_
from sqlalchemy.sql.elements import ColumnElement

from .filters import OPERATORS, TEXT_ONLY, GridError, parse_value, render_value

MAX_CONDITIONS = 40
MAX_DEPTH = 12


@dataclass(frozen=True)
class Condition:
    column: str
    op: str
    value: Any


@dataclass(frozen=True)
class Junction:
    op: str  # "AND" | "OR"
    parts: tuple[Node, ...]


Node = Condition | Junction

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<paren>[()])
      | (?P<op><=|>=|!=|<>|=|<|>)
      | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
      | (?P<word>[\w.:+-]+)
    )""",
    re.VERBOSE,
)


def _tokens(text: str, param: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            rest = text[pos:].strip()
            what = "an unclosed quote" if rest[:1] in "\"'" else f"unexpected {rest[:20]!r}"
            raise GridError(param, f"{what} at character {len(text) - len(rest) + 1}")
        kind = match.lastgroup or ""
        value = match.group(kind)
        if kind == "string":
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        out.append((kind, value))
        pos = match.end()
    return out


class _Parser:
    def __init__(self, text: str, kinds: Mapping[str, str], param: str) -> None:
        self.tokens = _tokens(text, param)
        self.pos = 0
        self.kinds = kinds
        self.param = param
        self.count = 0

    def fail(self, message: str) -> GridError:
        return GridError(self.param, message)

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise self.fail("the filter ends too early")
        self.pos += 1
        return token

    def keyword(self, word: str) -> bool:
        token = self.peek()
        if token and token[0] == "word" and token[1].upper() == word:
            self.pos += 1
            return True
        return False

    def parse(self) -> Node:
        node = self.expression(0)
        if self.peek() is not None:
            raise self.fail(f"expected AND or OR before {self.peek()[1]!r}")  # type: ignore[index]
        return node

    def expression(self, depth: int) -> Node:
        parts = [self.conjunction(depth)]
        while self.keyword("OR"):
            parts.append(self.conjunction(depth))
        return junction("OR", parts)

    def conjunction(self, depth: int) -> Node:
        parts = [self.atom(depth)]
        while self.keyword("AND"):
            parts.append(self.atom(depth))
        return junction("AND", parts)

    def atom(self, depth: int) -> Node:
        token = self.take()
        if token == ("paren", "("):
            if depth >= MAX_DEPTH:
                raise self.fail("too many nested parentheses")
            node = self.expression(depth + 1)
            if self.peek() != ("paren", ")"):
                raise self.fail("a parenthesis is not closed")
            self.pos += 1
            return node
        if token[0] != "word":
            raise self.fail(f"expected a column name, got {token[1]!r}")
        column = token[1]
        kind = self.kinds.get(column)
        if kind is None:
            raise self.fail(f"unknown column {column!r} (columns: {', '.join(self.kinds)})")
        kind_op, op = self.take()
        op = op.lower() if kind_op == "word" else {"<>": "!="}.get(op, op)
        if op not in OPERATORS:
            raise self.fail(f"unknown operator {op!r} after {column} (use {' '.join(OPERATORS)})")
        value_kind, text = self.take()
        if value_kind not in ("word", "string"):
            raise self.fail(f"expected a value after {column} {op}")
        self.count += 1
        if self.count > MAX_CONDITIONS:
            raise self.fail(f"at most {MAX_CONDITIONS} conditions")
        return condition(column, kind, op, text, self.param)


def condition(column: str, kind: str, op: str, text: str, param: str) -> Condition:
    """A checked condition: the operator fits the column type and the value parses."""
    if op not in OPERATORS:
        raise GridError(param, f"unknown operator {op!r} (use {' '.join(OPERATORS)})")
    if op in TEXT_ONLY and kind != "text":
        raise GridError(param, f"{op} applies to text columns, not {kind} column {column}")
    if kind == "bool" and op not in ("=", "!="):
        raise GridError(param, f"{column} is yes/no: use = or !=")
    try:
        value = parse_value(kind, text, param)
    except GridError as exc:
        raise GridError(param, f"{column}: {exc.message}") from None
    return Condition(column, op, value)


def junction(op: str, parts: list[Node]) -> Node:
    """AND/OR of parts, nested junctions of the same operator flattened."""
    flat: list[Node] = []
    for part in parts:
        flat.extend(part.parts if isinstance(part, Junction) and part.op == op else [part])
    return flat[0] if len(flat) == 1 else Junction(op, tuple(flat))


def parse_filter(text: str, kinds: Mapping[str, str], param: str = "filter") -> Node | None:
    """The Create Filter expression; None when blank; GridError saying what is wrong."""
    if not text.strip():
        return None
    return _Parser(text, kinds, param).parse()


def render_filter(node: Node, kinds: Mapping[str, str], nested: bool = False) -> str:
    """Canonical text of an expression; parse_filter(render_filter(n)) == n."""
    if isinstance(node, Condition):
        return f"{node.column} {node.op} {render_value(kinds[node.column], node.value)}"
    text = f" {node.op} ".join(render_filter(part, kinds, nested=True) for part in node.parts)
    return f"({text})" if nested else text


def describe_filter(
    node: Node, kinds: Mapping[str, str], labels: Mapping[str, str], nested: bool = False
) -> str:
    """An expression as the page shows it: columns by their labels (``Months Remaining < -20``)."""
    if isinstance(node, Condition):
        return f"{labels[node.column]} {node.op} {render_value(kinds[node.column], node.value)}"
    text = f" {node.op} ".join(describe_filter(part, kinds, labels, nested=True) for part in node.parts)
    return f"({text})" if nested else text


def filter_sql(
    node: Node, condition_sql: Callable[[str, str, Any], ColumnElement[bool]]
) -> ColumnElement[bool]:
    """SQL of an expression; ``condition_sql(column, op, value)`` writes each condition."""
    if isinstance(node, Condition):
        return condition_sql(node.column, node.op, node.value)
    parts = [filter_sql(part, condition_sql) for part in node.parts]
    return and_(*parts) if node.op == "AND" else or_(*parts)
