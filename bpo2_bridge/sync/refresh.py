"""Per-customer refresh (the Refresh button): one customer's rows of every entity, now.

BPO2 is read first (a failure there leaves the cache untouched); the differences are then
applied in one cache transaction. Rows that left the customer (a contract moved to another
customer, a machine swapped) are looked up in BPO2 by key: updated when they still exist,
removed when they are gone. Concurrent refreshes of one customer share a single run.
"""

from __future__ import annotations

import threading
import time
import weakref
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from ..cache.snapshots import CacheMissing
from ..source.engines import source_session
from ..source.reflection import SourceSchema, reflect_source
from . import derived as derived_rows
from . import history
from .diff import Changes
from .plan import KEY_CHUNK, EntityPlan, Row, build_plans, cache_scope, fetch
from .results import RefreshResult, UnknownCustomer
from .transfer import limit_batches, read_all, reading

if TYPE_CHECKING:
    from ..bridge import Bridge

SCHEMA_TTL = 600.0  # seconds a reflected source schema is reused by refreshes


class _Flight:
    def __init__(self) -> None:
        self.done = threading.Event()
        self.result: RefreshResult | None = None
        self.error: BaseException | None = None


_guard = threading.Lock()
_flights: weakref.WeakKeyDictionary[Any, dict[str, _Flight]] = weakref.WeakKeyDictionary()
_schemas: weakref.WeakKeyDictionary[Any, tuple[float, SourceSchema]] = weakref.WeakKeyDictionary()


def refresh_customer(bridge: Bridge, account_no: str) -> RefreshResult:
    """Re-read one customer from BPO2 into the cache; callers arriving meanwhile share the run.

    Raises UnknownCustomer, SourceError (BPO2 unreachable; cache untouched) or CacheMissing.
    """
    with _guard:
        flights = _flights.setdefault(bridge, {})
        flight = flights.get(account_no)
        leader = flight is None
        if flight is None:
            flight = flights[account_no] = _Flight()
    if not leader:
        flight.done.wait()
        if flight.error is not None:
            raise flight.error
        assert flight.result is not None
        return flight.result
    try:
        flight.result = _refresh(bridge, account_no)
        return flight.result
    except BaseException as exc:
        flight.error = exc
        raise
    finally:
        with _guard:
            flights.pop(account_no, None)
        flight.done.set()


def _schema(bridge: Bridge) -> SourceSchema:
    with _guard:
        cached = _schemas.get(bridge)
    if cached is not None and time.monotonic() - cached[0] < SCHEMA_TTL:
        return cached[1]
    schema = reflect_source(bridge.source, bridge.mapping)
    with _guard:
        _schemas[bridge] = (time.monotonic(), schema)
    return schema


def _refresh(bridge: Bridge, account_no: str) -> RefreshResult:
    settings, cache = bridge.settings, bridge.cache
    if not cache.exists():
        raise CacheMissing("the cache is empty: run `bpo2-bridge sync --full`")
    started = settings.now()
    schema = _schema(bridge)
    plans = {p.name: p for p in build_plans(schema, cache.dialect) if p.entity.customer_link is not None}
    changes: dict[str, dict[str, int]] = {}
    with history.recorded(bridge.store, "customer", started, target=account_no, clock=settings.now) as run:
        with source_session(bridge.source) as src:
            limit_batches(src, settings.statement_timeout)
            customer = plans["customer"]
            with reading("the customer"):
                customer_id = src.execute(
                    select(customer.col("customer_id")).where(customer.col("account_no") == account_no)
                ).scalar()
            if customer_id is None:
                raise UnknownCustomer(f"no customer with account no {account_no!r} in BPO2")
            fresh = {
                name: _keyed(
                    plan, read_all(src, plan, plan.select_rows(plan.customer_filter(customer_id)), name)
                )
                for name, plan in plans.items()
            }
            with cache.write() as conn:
                cached = {name: _cached(conn, plans, name, customer_id) for name in plans}
                touched = derived_rows.Touched()
                for name, plan in plans.items():
                    diff = Changes(conn, plan, settings.sync_batch_size, touched=touched)
                    _apply(src, conn, plan, diff, fresh[name], cached[name])
                    diff.flush()
                    changes[name] = diff.counts
                derived_rows.rebuild(conn, touched.customers, settings, bridge.today(), touched.contracts)
        finished = settings.now()
        with bridge.store.begin() as store_conn:
            run.succeed(store_conn, finished, changes=changes, snapshot=cache.current())
    return RefreshResult(account_no, int(customer_id), run.id, started, finished, changes)


def _keyed(plan: EntityPlan, rows: list[Row]) -> dict[tuple[Any, ...], Row]:
    key_of = plan.key_of
    return {key_of(row): row for row in rows}


def _cached(
    conn: Any, plans: dict[str, EntityPlan], name: str, customer_id: int
) -> dict[tuple[Any, ...], Row]:
    """The customer's rows in the cache, read raw (the form they are compared in)."""
    plan = plans[name]
    return _keyed(
        plan, fetch(conn, f"{plan.cache_select()} WHERE {cache_scope(plans, name)}", (customer_id,))
    )


def _apply(
    src: Any,
    conn: Any,
    plan: EntityPlan,
    diff: Changes,
    fresh: dict[tuple[Any, ...], Row],
    cached: dict[tuple[Any, ...], Row],
) -> None:
    # rows new to this customer may already be cached under another one (a shared machine)
    outside = plan.cache_rows_by_keys(conn, [k for k in fresh if k not in cached])
    for key, row in fresh.items():
        diff.upsert(row, cached.get(key) or outside.get(key))
    left = [k for k in cached if k not in fresh]
    still: dict[tuple[Any, ...], Row] = {}
    for start in range(0, len(left), KEY_CHUNK):
        chunk = left[start : start + KEY_CHUNK]
        for row in read_all(src, plan, plan.select_rows(plan.key_filter(chunk)), plan.name):
            still[plan.key_of(row)] = row
    for key in left:
        if key in still:
            diff.upsert(still[key], cached[key])
        else:
            diff.remove(key)
