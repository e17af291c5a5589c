"""Customer searches that do not work out every customer's Main Salesman.

The Customers grid's Main Salesman is a subquery per customer, so a search word, tested
against every text column, worked it out for each of 50,000 customers an administrator sees:
1.3-1.7 s on PostgreSQL. A text test on it is rewritten as the customers with a main salesman
whose own name passes the test (one pass over the employees, looked up per customer), and the
grid's own test then decides among those, so the rows found are the rows found before.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, and_, select
from sqlalchemy.sql import FromClause
from sqlalchemy.sql.elements import ColumnElement

from .cache_schema import cache_table
from .web.grid_filters import TEXT_ONLY, compare
from .web.grid_state import Equivalents


def customer_equivalents(conn: Connection, base: FromClause) -> Equivalents:
    """Rewrites of text tests on the Customers grid's columns (``Grid.fetch(equivalents=)``)."""
    ignores_case = conn.dialect.name == "sqlite"

    def main_salesman(op: str, value: Any) -> ColumnElement[bool] | None:
        # a name that passes a positive test belongs to one of the customer's main salesmen
        if op not in (*TEXT_ONLY, "="):
            return None
        links, employees = cache_table("customer_salesman"), cache_table("employee")
        named = (
            select(links.c.customer_id)
            .join(employees, employees.c.employee_id == links.c.employee_id)
            .where(
                links.c.is_main,
                compare(employees.c.full_name, "text", op, value, like_ignores_case=ignores_case),
            )
        )
        exact = compare(base.c.main_salesman, "text", op, value, like_ignores_case=ignores_case)
        return and_(base.c.customer_id.in_(named), exact)

    return {"main_salesman": main_salesman} if "main_salesman" in base.c else {}
