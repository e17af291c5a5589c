"""Create Filter expressions and Filter Row cells as text: what parses, what it means, what
the user is told when it does not parse."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bpo2_bridge.queries.grid.builder import Condition, Junction, junction, parse_filter, render_filter
from bpo2_bridge.queries.grid.cursor import decode, encode
from bpo2_bridge.queries.grid.filters import GridError, cell_conditions

KINDS = {
    "status": "text",
    "months_remaining": "number",
    "expiry_date": "date",
    "logged": "datetime",
    "completed": "bool",
}

VALUES = {
    "text": st.text(max_size=12).map(str.strip),
    "number": st.integers(-(2**63) + 1, 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False, width=64).filter(lambda f: not f.is_integer()),
    "date": st.dates(dt.date(1000, 1, 1), dt.date(9998, 12, 31)),
    "datetime": st.datetimes(dt.datetime(1000, 1, 1), dt.datetime(9998, 12, 31)).filter(
        lambda d: d.time() != dt.time()
    ),
    "bool": st.booleans(),
}
OPS = {
    "text": ["=", "!=", "<", "<=", ">", ">=", "contains", "startswith"],
    "number": ["=", "!=", "<", "<=", ">", ">="],
    "date": ["=", "!=", "<", "<=", ">", ">="],
    "datetime": ["=", "!=", "<", "<=", ">", ">="],
    "bool": ["=", "!="],
}


@st.composite
def conditions(draw: st.DrawFn) -> Condition:
    column = draw(st.sampled_from(sorted(KINDS)))
    kind = KINDS[column]
    return Condition(column, draw(st.sampled_from(OPS[kind])), draw(VALUES[kind]))


NODES = st.recursive(
    conditions(),
    lambda inner: st.builds(
        lambda op, parts: junction(op, parts),
        st.sampled_from(["AND", "OR"]),
        st.lists(inner, min_size=2, max_size=3),
    ),
    max_leaves=8,
)


@settings(max_examples=300)
@given(NODES)
def test_rendered_filter_parses_back_to_the_same_filter(node) -> None:
    assert parse_filter(render_filter(node, KINDS), KINDS) == node


def test_and_binds_tighter_than_or_and_parentheses_group() -> None:
    a, b, c = (parse_filter(t, KINDS) for t in ('status = "A"', "months_remaining < 0", "completed = yes"))
    assert parse_filter('status = "A" OR months_remaining < 0 AND completed = yes', KINDS) == Junction(
        "OR", (a, Junction("AND", (b, c)))
    )
    grouped = parse_filter('(status = "A" or months_remaining < 0) and completed = yes', KINDS)
    assert grouped == Junction("AND", (Junction("OR", (a, b)), c))
    assert render_filter(grouped, KINDS) == '(status = "A" OR months_remaining < 0) AND completed = yes'


def test_spec_example_parses() -> None:
    kinds = {"status": "text", "months_remaining": "number", "contract_type": "text"}
    text = 'status = "Active" AND (months_remaining < 0 OR contract_type = "Rental")'
    node = parse_filter(text, kinds)
    assert render_filter(node, kinds) == text
    assert parse_filter("status = 'Active' and months_remaining <> -1", kinds) == Junction(
        "AND", (Condition("status", "=", "Active"), Condition("months_remaining", "!=", -1))
    )


@pytest.mark.parametrize(
    "text,message",
    [
        ('status = "Active', "unclosed quote"),
        ("(status = x", "parenthesis is not closed"),
        ("status = x)", "expected AND or OR"),
        ("nope = 1", "unknown column 'nope'"),
        ("status ~ 1", "unexpected '~"),
        ("status like 1", "unknown operator 'like'"),
        ("months_remaining contains 1", "contains applies to text columns"),
        ("months_remaining < soon", "'soon' is not a number"),
        ("expiry_date > 2026-02-30", "not a valid date"),
        ("completed < yes", "use = or !="),
        ("status =", "ends too early"),
        ("AND", "unknown column 'AND'"),
        ("status = x AND", "ends too early"),
        ("(" * 20 + 'status = "x"' + ")" * 20, "too many nested parentheses"),
        (" OR ".join(["status = x"] * 41), "at most 40 conditions"),
    ],
)
def test_bad_filters_say_what_is_wrong(text, message) -> None:
    with pytest.raises(GridError) as caught:
        parse_filter(text, KINDS)
    assert caught.value.param == "filter"
    assert message in caught.value.message


@pytest.mark.parametrize(
    "kind,text,expected",
    [
        ("text", "abc", [("contains", "abc")]),
        ("text", "=Active", [("=", "Active")]),
        ("text", "!= Active", [("!=", "Active")]),
        ("text", "CPC*", [("startswith", "CPC")]),
        ("number", "5", [("=", 5)]),
        ("number", ">= -2.5", [(">=", -2.5)]),
        ("number", "<>3", [("!=", 3)]),
        ("number", "-5..-1", [(">=", -5), ("<=", -1)]),
        ("number", "..10", [("<=", 10)]),
        ("date", "2026-01-01..2026-03-31", [(">=", dt.date(2026, 1, 1)), ("<=", dt.date(2026, 3, 31))]),
        ("date", ">2026-01-01", [(">", dt.date(2026, 1, 1))]),
        ("datetime", "2026-01-01T10:30", [("=", dt.datetime(2026, 1, 1, 10, 30))]),
        ("bool", "Yes", [("=", True)]),
        ("bool", "0", [("=", False)]),
        ("number", "   ", []),
    ],
)
def test_filter_row_cells(kind, text, expected) -> None:
    assert cell_conditions(kind, text, "f_x") == expected


@pytest.mark.parametrize(
    "kind,text",
    [("number", "5x"), ("number", "1e999"), ("number", "9" * 30), ("date", "2026-1-1"), ("bool", "maybe")],
)
def test_bad_cells_name_their_parameter(kind, text) -> None:
    with pytest.raises(GridError) as caught:
        cell_conditions(kind, text, "f_x")
    assert caught.value.param == "f_x" and str(caught.value.code) == "400"


def test_cursor_round_trip_and_tampering() -> None:
    from sqlalchemy import Column, Date, Integer, String

    order = [
        (Column("due", Date()), False, "date"),
        (Column("name", String()), False, "text"),
        (Column("id", Integer()), False, "number"),
    ]
    values = [dt.date(2026, 1, 2), "  spaced  ", 17]
    cursor = encode("due", values)
    assert decode(cursor, "due", order, "after") == values
    for bad, why in [
        (cursor, "another sort order"),
        ("%%%", "not a cursor"),
        (encode("-due", [1, 2]), "not a cursor"),
    ]:
        with pytest.raises(GridError, match=why):
            decode(bad, "-due", order, "after")
