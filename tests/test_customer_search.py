"""Customer searches (customer_search): a rewritten test on the Main Salesman keeps exactly the
customers the grid's own test keeps, on SQLite and PostgreSQL, whoever is a main salesman."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import Engine, create_engine, delete, insert, select

from bpo2_bridge import crm
from bpo2_bridge.bridge import Bridge
from bpo2_bridge.cache_schema import cache_metadata
from bpo2_bridge.customer_search import customer_equivalents
from bpo2_bridge.web.grid_filters import compare

OPERATORS = ("contains", "startswith", "=", "!=", "<")
# few characters, so that names often match; wildcards, a quote and non-ASCII letters are where
# a rewrite could part from the grid's LIKE
CHARS = "aAbB %_'éÉ"
names = st.text(CHARS, max_size=5)
TABLES = ("site", "employee", "customer", "customer_salesman", "contract")


@dataclass(frozen=True)
class Administrator:
    employee_id: int | None = None
    is_admin: bool = True


@st.composite
def worlds(draw: Any) -> dict[str, Any]:
    employees = draw(st.lists(names, min_size=1, max_size=4))
    customers = draw(st.integers(1, 5))
    links = draw(
        st.lists(
            st.tuples(st.integers(1, customers), st.integers(1, len(employees)), st.booleans()),
            max_size=10,
            unique_by=lambda link: link[:2],
        )
    )
    return {"employees": employees, "customers": customers, "links": links}


def _load(engine: Engine, tables: dict[str, Any], world: dict[str, Any]) -> None:
    with engine.begin() as conn:
        for name in reversed(TABLES):
            conn.execute(delete(tables[name]))
        for i, full_name in enumerate(world["employees"], 1):
            conn.execute(
                insert(tables["employee"]).values(
                    employee_id=i, full_name=full_name, login_name=f"e{i}", is_crm_administrator=False
                )
            )
        for i in range(1, world["customers"] + 1):
            conn.execute(
                insert(tables["customer"]).values(
                    customer_id=i, account_no=f"A{i}", customer_name=f"C{i}", status="Active"
                )
            )
        for customer, employee, is_main in world["links"]:
            conn.execute(
                insert(tables["customer_salesman"]).values(
                    customer_id=customer, employee_id=employee, is_main=is_main
                )
            )


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_main_salesman_rewrites_keep_the_customers_the_grid_keeps(
    fresh_database, make_settings, kind
) -> None:  # type: ignore[no-untyped-def]
    engine = create_engine(fresh_database(kind))
    metadata = cache_metadata()
    tables = {name: metadata.tables[name] for name in TABLES}
    for name in TABLES:
        tables[name].create(engine)
    bridge = Bridge(make_settings())
    ignores_case = kind == "sqlite"

    @hsettings(
        max_examples=60 if kind == "sqlite" else 25,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(worlds(), st.lists(names, min_size=1, max_size=3), st.data())
    def check(world: dict[str, Any], terms: list[str], data: st.DataObject) -> None:
        _load(engine, tables, world)
        named = [n for n in world["employees"] if n]
        if named:  # a part of a real name as well: the matches that must all be found
            name = data.draw(st.sampled_from(named))
            terms = [*terms, name[: data.draw(st.integers(1, len(name)))], name.swapcase()]
        with engine.connect() as conn:
            base = crm.customers_base(conn, bridge, Administrator())
            rewrite = customer_equivalents(conn, base)["main_salesman"]
            for op in OPERATORS:
                for term in terms:
                    rewritten = rewrite(op, term)
                    if rewritten is None:
                        assert op in ("!=", "<")  # negative and range tests are left to the grid
                        continue
                    grid_test = compare(
                        base.c.main_salesman, "text", op, term, like_ignores_case=ignores_case
                    )
                    found = set(conn.execute(select(base.c.customer_id).where(rewritten)).scalars())
                    kept = set(conn.execute(select(base.c.customer_id).where(grid_test)).scalars())
                    assert found == kept, (op, term)

    try:
        check()
    finally:
        bridge.dispose()
        engine.dispose()
