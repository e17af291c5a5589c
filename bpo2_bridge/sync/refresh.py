"""Per-customer refresh (the Refresh button): one customer's rows of every entity, now, and
the sentence that says what changed, or why nothing could be pulled (the cached data keeps
serving).

BPO2 is read first (a failure there leaves the cache untouched); the differences are then
applied in one cache transaction. Rows that left the customer (a contract moved to another
customer, a machine swapped) are looked up in BPO2 by key: updated when they still exist,
removed when they are gone. Concurrent refreshes of one customer share a single run
(`Refreshes`, one per Bridge).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, func, select

from ..cache.schema import cache_table
from ..cache.snapshots import CacheBusy, CacheMissing
from ..source.engines import SourceError, source_session
from ..source.reflection import SourceSchema, reflect_source
from ..store.database import sync_runs
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


class Refreshes:
    """The Refresh runs of one Bridge (``bridge.refreshes``): presses of a customer arriving
    while its run goes on share that run, and runs reuse the reflected source schema for
    SCHEMA_TTL seconds."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._flights: dict[str, _Flight] = {}
        self._schema: tuple[float, SourceSchema] | None = None

    def share(self, account_no: str, run: Callable[[], RefreshResult]) -> RefreshResult:
        """``run()`` once for the customer; callers arriving meanwhile get its result (or error)."""
        with self._lock:
            flight = self._flights.get(account_no)
            leader = flight is None
            if flight is None:
                flight = self._flights[account_no] = _Flight()
        if not leader:
            flight.done.wait()
            if flight.error is not None:
                raise flight.error
            assert flight.result is not None
            return flight.result
        try:
            flight.result = run()
            return flight.result
        except BaseException as exc:
            flight.error = exc
            raise
        finally:
            with self._lock:
                self._flights.pop(account_no, None)
            flight.done.set()

    def running(self) -> list[str]:
        """Account numbers being refreshed now."""
        with self._lock:
            return sorted(self._flights)

    def schema(self, reflect: Callable[[], SourceSchema]) -> SourceSchema:
        with self._lock:
            cached = self._schema
        if cached is not None and time.monotonic() - cached[0] < SCHEMA_TTL:
            return cached[1]
        schema = reflect()
        with self._lock:
            self._schema = (time.monotonic(), schema)
        return schema

    def close(self) -> None:
        with self._lock:
            self._schema = None


def refresh_customer(bridge: Bridge, account_no: str) -> RefreshResult:
    """Re-read one customer from BPO2 into the cache; callers arriving meanwhile share the run.

    Raises UnknownCustomer, SourceError (BPO2 unreachable; cache untouched) or CacheMissing.
    """
    return bridge.refreshes.share(account_no, lambda: _refresh(bridge, account_no))


def _refresh(bridge: Bridge, account_no: str) -> RefreshResult:
    settings, cache = bridge.settings, bridge.cache
    # BPO2 is read, and the write may wait for another, for seconds: the request's read
    # connection goes back first (its transaction would keep the snapshot's WAL from shrinking)
    cache.release()
    if not cache.exists():
        raise CacheMissing("the cache is empty: run `bpo2-bridge sync --full`")
    started = settings.now()
    schema = bridge.refreshes.schema(lambda: reflect_source(bridge.source, bridge.mapping))
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
                derived_rows.rebuild(conn, touched, settings, bridge.today())
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


# -- what the Refresh button says ------------------------------------------------------------

# what a Refresh names when a contract changed: (column, label)
CONTRACT_FACTS = (
    ("contract_type", "Contract Type"),
    ("status", "Status"),
    ("start_date", "Start Date"),
    ("expiry_date", "Expiry Date"),
    ("machines", "Machines"),
)
# entities a changed contract's own line already speaks for
_NAMED_BY_CONTRACT = frozenset({"contract", "contract_item"})


@dataclass(frozen=True)
class RefreshOutcome:
    message: str
    failed: bool
    changes: dict[str, dict[str, int]]


def press_refresh(bridge: Bridge, account_no: str, customer_id: int) -> RefreshOutcome:
    """The Refresh button of a customer's pages: pull the customer's rows from BPO2 now and say
    what changed (each changed contract named with what changed in it, other entities by their
    counts), or why nothing could be pulled."""
    with bridge.cache.connect() as conn:
        before = contract_facts(conn, customer_id)
    try:
        result = refresh_customer(bridge, account_no)
    except UnknownCustomer:
        return RefreshOutcome(f"Customer {account_no} is no longer in BPO2.", True, {})
    except SourceError:
        as_of = bridge.cache.as_of()
        when = f"{as_of:%Y-%m-%d %H:%M}" if as_of else "the last sync"
        return RefreshOutcome(f"BPO2 is unreachable — showing data as of {when}.", True, {})
    except CacheBusy as exc:
        return RefreshOutcome(f"Not refreshed: {exc}", True, {})
    with bridge.cache.connect() as conn:
        named = contract_changes(before, contract_facts(conn, customer_id))
    changes = {name: dict(counts) for name, counts in result.changes.items()}
    head = f"Refreshed from BPO2 at {bridge.settings.now():%H:%M}."
    counted = _counted(changes, skip=_NAMED_BY_CONTRACT if named else frozenset())
    if not named and not counted:
        return RefreshOutcome(f"{head} No changes.", False, changes)
    return RefreshOutcome(f"{head} Changed: {'; '.join([*named, *counted])}.", False, changes)


def _counted(changes: dict[str, dict[str, int]], skip: frozenset[str]) -> list[str]:
    """ "contract item: 1 added, 2 changed" for each entity that changed, by name."""
    parts = []
    for entity, counts in sorted(changes.items()):
        bits = [f"{n} {what}" for what, n in counts.items() if n]
        if bits and entity not in skip:
            parts.append(f"{entity.replace('_', ' ')}: {', '.join(bits)}")
    return parts


def contract_facts(conn: Connection, customer_id: int) -> dict[str, dict[str, Any]]:
    """One customer's contracts as the grids show them, by contract no (before and after a Refresh)."""
    rows = cache_table("contract_row")
    keys = [rows.c[key] for key, _ in CONTRACT_FACTS]
    query = select(rows.c.contract_no, *keys).where(rows.c.customer_id == customer_id)
    return {r["contract_no"]: dict(r) for r in conn.execute(query).mappings()}


def contract_changes(before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]]) -> list[str]:
    """What a Refresh changed, contract by contract: "CPC0000059: Expiry Date 2026-12-17 → 2027-06-30"."""

    def shown(value: Any) -> str:
        return "—" if value is None else value.isoformat() if isinstance(value, dt.date) else str(value)

    out = []
    for number in sorted(before.keys() | after.keys()):
        old, new = before.get(number), after.get(number)
        if old is None:
            out.append(f"{number}: new")
        elif new is None:
            out.append(f"{number}: no longer in BPO2")
        else:
            moved = [
                f"{label} {shown(old[key])} → {shown(new[key])}"
                for key, label in CONTRACT_FACTS
                if shown(old[key]) != shown(new[key])
            ]
            if moved:
                out.append(f"{number}: {', '.join(moved)}")
    return out


def last_refresh(bridge: Bridge, account_no: str, snapshot: str) -> dt.datetime | None:
    """When this customer's data was last pulled from BPO2 into ``snapshot`` by a Refresh that
    worked (the freshness line of its pages says so when it is newer than the last sync)."""
    query = select(func.max(sync_runs.c.finished_at)).where(
        sync_runs.c.kind == "customer",
        sync_runs.c.target == account_no,
        sync_runs.c.status == "ok",
        sync_runs.c.snapshot == snapshot,
    )
    with bridge.store.connect() as conn:
        value = conn.execute(query).scalar()
    return value if isinstance(value, dt.datetime) else None
