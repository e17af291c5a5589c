"""Which key ranges of an entity differ between BPO2 and the cache, without moving every key.

For each range of BUCKET consecutive key values both sides report how many keys they hold and
their sum (range scans on the primary key, cheap on every engine). Only ranges whose figures
differ are then compared key by key. After the changed rows have been applied, a range can
only differ by rows deleted from BPO2 or added without a fresh change value. Equal figures with
such differences would need rows added under keys that exactly balance the deleted ones; BPO2's
identity keys only grow, so added keys are larger than every deleted one.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import BigInteger, Connection, cast, func, select

from .plan import EntityPlan, fetch
from .transfer import reading

BUCKET = 65_536


def single_integer_key(plan: EntityPlan) -> bool:
    return len(plan.pk) == 1


def differing_ranges(src: Connection, conn: Connection, plan: EntityPlan) -> Iterator[tuple[int, int]]:
    """[lo, hi) key ranges whose key count or key sum differ between BPO2 and the cache.

    The whole table is compared first, with one statement a side: nearly always nothing was
    deleted, and a count and sum over all keys is a scan of the narrowest index (the engines
    choose one that covers the key), where range figures walk the whole table."""
    col = plan.col(plan.pk[0])
    key = plan.q(plan.pk[0])
    source_stmt = select(func.count(), func.sum(cast(col, BigInteger)))
    with reading(f"the keys of {plan.name}"):
        mine = tuple(src.execute(source_stmt.select_from(plan.schema.table(plan.name))).one())
    if _figures(mine) == _figures(fetch(conn, f"SELECT COUNT(*), SUM({key}) FROM {plan.table}", ())[0]):
        return
    with reading(f"the keys of {plan.name}"):
        low_s, high_s = src.execute(select(func.min(col), func.max(col))).one()
    low_c, high_c = fetch(conn, f"SELECT MIN({key}), MAX({key}) FROM {plan.table}", ())[0]
    bounds = [int(v) for v in (low_s, high_s, low_c, high_c) if v is not None]
    if not bounds:
        return
    cache_sql = (
        f"SELECT COUNT(*), SUM({key}) FROM {plan.table} WHERE {key} >= {plan.mark} AND {key} < {plan.mark}"
    )
    lo = min(bounds) // BUCKET * BUCKET
    top = max(bounds)
    while lo <= top:
        hi = lo + BUCKET
        with reading(f"the keys of {plan.name}"):
            mine = tuple(src.execute(source_stmt.where(col >= lo, col < hi)).one())
        cached = fetch(conn, cache_sql, (lo, hi))[0]
        if _figures(mine) != _figures(cached):
            yield lo, hi
        lo = hi


def _figures(row: Any) -> tuple[int, int]:
    count, total = row
    return int(count or 0), int(total or 0)
