"""A grid page costs the same few SQL statements however many rows it shows (no statement per
row), and a search or filter adds a fixed number of them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, event

from bpo2_bridge.demo.content import DEMO_ADMIN_LOGIN, DEMO_SALESMAN_LOGIN


@pytest.fixture
def statements() -> Iterator[list[str]]:
    """Every SQL statement any engine runs (the cache's and the application store's)."""
    seen: list[str] = []

    def keep(_conn, _cursor, statement, _parameters, _context, _many) -> None:  # type: ignore[no-untyped-def]
        seen.append(statement)

    event.listen(Engine, "before_cursor_execute", keep)
    yield seen
    event.remove(Engine, "before_cursor_execute", keep)


def _count(client, statements: list[str], url: str) -> int:  # type: ignore[no-untyped-def]
    statements.clear()
    answer = client.get(url)
    assert answer.status_code == 200, url
    return len(statements)


PAGES = [
    "/customers?{}",
    "/customers?q=Ltd&{}",
    "/contracts?tab=all&{}",
    "/contracts?tab=expiring&f_status==Active&sort=-start_date&{}",
    "/contracts?tab=all&q=CPC0&f_contract_type=rent&{}",
    "/contracts?tab=all&format=json&{}",
]


@pytest.mark.parametrize("login_name", [DEMO_ADMIN_LOGIN, DEMO_SALESMAN_LOGIN])
@pytest.mark.parametrize("page", PAGES)
def test_statements_per_page_do_not_grow_with_its_rows(client, login, statements, login_name, page) -> None:  # type: ignore[no-untyped-def]
    login(client, login_name)
    _count(client, statements, page.format("page_size=20"))  # a connection's first use asks more
    few = _count(client, statements, page.format("page_size=10"))
    many = _count(client, statements, page.format("page_size=200"))
    later = _count(client, statements, page.format("page_size=10&page=3"))
    # a short list's page is read with its count; a page past its end is then counted apart
    # and its last page read
    assert few == many and few <= later <= few + 2, (few, many, later)
    assert few <= 16, statements


def test_a_customers_contracts_page_costs_a_fixed_number_of_statements(
    client, login, statements, demo_bridge
) -> None:  # type: ignore[no-untyped-def]
    login(client, DEMO_ADMIN_LOGIN)
    accounts = [r["account_no"] for r in client.get("/customers?format=json&page_size=5").get_json()["rows"]]
    _count(client, statements, f"/customers/{accounts[0]}/contracts?tab=all")  # a connection's first use
    counts = {_count(client, statements, f"/customers/{account}/contracts?tab=all") for account in accounts}
    assert len(counts) == 1, counts
