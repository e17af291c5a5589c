"""What one write transaction must derive again (``Touched``): the customer rows, contract rows
and contract profitability that the rows it changes are read by.

Each entity whose rows a derived row reads is listed with the columns of it the derivations read
(sql/derive_*.sql, sql/_profitability.sql; test_derived_rows checks the list against them) and
how to find the derived rows its keys reach. A changed row reaches nothing unless one of those
columns changed: a contract's billing cycle or an invoice line's meter type derives nothing again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, select

from ..cache.schema import cache_table

CHUNK = 500  # keys per look-up of the rows a write touches: bound parameters stay few
Key = tuple[Any, ...]

Lookup = Callable[[list[Key]], Any]


def _first(keys: list[Key]) -> list[Any]:
    return [k[0] for k in keys]


def _lookups() -> dict[str, list[tuple[str, frozenset[str], Lookup | None]]]:
    """Per entity whose rows derived rows read: (which set of ``Touched``, the entity's columns
    those rows read, the look-up of the keys of that set the given entity keys touch: a
    SELECT of ids, or None where the entity key is that key). A changed row touches nothing
    unless one of those columns changed; an added or removed row always does.
    sql/derive_*.sql and sql/_profitability.sql read these columns (test_derived_rows checks)."""
    contract, item, customer = cache_table("contract"), cache_table("contract_item"), cache_table("customer")
    links, line = cache_table("customer_salesman"), cache_table("invoice_line")
    call, cost = cache_table("service_call"), cache_table("call_cost")

    def of(*names: str) -> frozenset[str]:
        return frozenset(names)

    return {
        "customer": [("customers", of("account_no", "customer_name", "site_id", "tel", "status"), None)],
        "customer_salesman": [("customers", of("is_main"), None)],
        "employee": [
            (
                "customers",
                of("full_name"),
                lambda keys: select(links.c.customer_id).where(
                    links.c.employee_id.in_(_first(keys)), links.c.is_main.is_(True)
                ),
            )
        ],
        "site": [
            (
                "customers",
                of("site_name"),
                lambda keys: select(customer.c.customer_id).where(customer.c.site_id.in_(_first(keys))),
            ),
            (
                "contracts",
                of("site_name"),
                lambda keys: select(contract.c.contract_id).where(contract.c.site_id.in_(_first(keys))),
            ),
        ],
        "contract_type": [
            (
                "contracts",
                of("description"),
                lambda keys: select(contract.c.contract_id).where(
                    contract.c.contract_type_id.in_(_first(keys))
                ),
            )
        ],
        "contract": [
            (
                "contracts",
                of(
                    "contract_no",
                    "customer_id",
                    "contract_type_id",
                    "status",
                    "site_id",
                    "start_date",
                    "expiry_date",
                ),
                None,
            ),
            (  # the customers' contract counts
                "customers",
                of("customer_id", "status", "expiry_date"),
                lambda keys: select(contract.c.customer_id).where(contract.c.contract_id.in_(_first(keys))),
            ),
        ],
        "contract_item": [
            (
                "contracts",
                of("contract_id"),
                lambda keys: select(item.c.contract_id).where(item.c.contract_item_id.in_(_first(keys))),
            )
        ],
        "invoice_line": [
            (
                "profits",
                of("contract_id", "invoice_date", "line_type", "volume", "amount"),
                lambda keys: select(line.c.contract_id).where(line.c.invoice_line_id.in_(_first(keys))),
            )
        ],
        "service_call": [
            (
                "profits",
                of("contract_id", "logged_date"),
                lambda keys: select(call.c.contract_id).where(call.c.call_id.in_(_first(keys))),
            )
        ],
        "call_cost": [
            (
                "profits",
                of("call_id", "cost_amount"),
                lambda keys: (
                    select(call.c.contract_id)
                    .join(cost, cost.c.call_id == call.c.call_id)
                    .where(cost.c.call_cost_id.in_(_first(keys)))
                ),
            )
        ],
    }


def columns_read() -> dict[str, frozenset[str]]:
    """Per entity, the columns of it that derived rows read."""
    return {entity: frozenset().union(*(cols for _, cols, _ in uses)) for entity, uses in _lookups().items()}


class Touched:
    """What one write transaction must derive again: the customers whose customer rows read the
    changed rows, the contracts whose contract rows read them, and the contracts whose
    profitability reads them (invoice lines, service calls and their costs).

    ``note`` is called with the keys of an entity's written rows twice: before the write (the
    customers and contracts the old rows belonged to) and after it (those the new rows belong
    to), so a contract moved to another customer brings both. ``columns`` names the columns
    that changed (None: rows added or removed); a change no derived row reads touches nothing."""

    def __init__(self) -> None:
        self.customers: set[int] = set()
        self.contracts: set[int] = set()
        self.profits: set[int] = set()
        self._lookups = _lookups()

    def note(
        self, conn: Connection, entity: str, keys: Sequence[Key], columns: Iterable[str] | None = None
    ) -> None:
        if not keys:
            return
        changed = None if columns is None else frozenset(columns)
        keys = list(keys)
        for into, reads, lookup in self._lookups.get(entity, []):
            if changed is not None and not changed & reads:
                continue
            found: set[int] = getattr(self, into)
            if lookup is None:
                found.update(_first(keys))
                continue
            for start in range(0, len(keys), CHUNK):
                ids = conn.execute(lookup(keys[start : start + CHUNK])).scalars()
                found.update(k for k in ids if k is not None)
