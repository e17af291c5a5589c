"""Which key ranges of an entity differ between BPO2 and the cache, without moving every key.

After the changed rows have been applied, the cache can only differ by rows deleted from BPO2
or added without a fresh change value. BPO2's identity keys only grow, so such an added row has
a key above every key the cache held before: whole tables are compared first by row count, and
by the count and sum of the keys above that highest held key. Equal figures with differences
would need as many rows deleted as added unstamped, every deleted one among the newest keys and
their sums balancing. When the figures differ, each range of BUCKET consecutive key values is
compared by key count and key sum (range scans on the primary key), and only ranges whose
figures differ are compared key by key.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import BigInteger, Connection, Select, cast, func, select

from .plan import EntityPlan, fetch
from .transfer import reading

BUCKET = 65_536


def single_integer_key(plan: EntityPlan) -> bool:
    return len(plan.pk) == 1


def source_rows(plan: EntityPlan) -> Select[Any]:
    """How many rows the entity has on BPO2."""
    # count(*) on its own: engines answer it from the narrowest index
    return select(func.count()).select_from(plan.schema.table(plan.name))


def source_key_figures(plan: EntityPlan) -> Select[int, int]:
    """Count and sum of the entity's keys on BPO2 (the caller adds the key range); summed as
    BIGINT, which SQL Server needs for a million keys (an INT sum overflows)."""
    col = plan.col(plan.pk[0])
    return select(func.count(), func.sum(cast(col, BigInteger)))


def source_key_bounds(plan: EntityPlan) -> Select[Any]:
    col = plan.col(plan.pk[0])
    return select(func.min(col), func.max(col))


def differing_ranges(
    src: Connection, conn: Connection, plan: EntityPlan, held: int | None
) -> Iterator[tuple[int, int]]:
    """[lo, hi) key ranges whose key count or key sum differ between BPO2 and the cache.

    `held` is the highest key the cache held before this sync applied the changed rows. Whole
    tables are compared first, by row count and by the count and sum of the keys above `held`:
    both cost next to nothing (a count of the narrowest index, a range scan over the newest
    rows), where figures per range read every key."""
    col = plan.col(plan.pk[0])
    key = plan.q(plan.pk[0])
    source_stmt = source_key_figures(plan)
    if held is not None:
        with reading(f"the keys of {plan.name}"):
            mine = src.execute(source_rows(plan)).scalar()
            mine_new = src.execute(source_stmt.where(col > held)).one()
        cached = fetch(conn, f"SELECT COUNT(*) FROM {plan.table}", ())[0][0]
        cached_new = fetch(
            conn, f"SELECT COUNT(*), SUM({key}) FROM {plan.table} WHERE {key} > {plan.mark}", (held,)
        )
        if mine == cached and _figures(mine_new) == _figures(cached_new[0]):
            return
    with reading(f"the keys of {plan.name}"):
        low_s, high_s = src.execute(source_key_bounds(plan)).one()
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
            in_range = tuple(src.execute(source_stmt.where(col >= lo, col < hi)).one())
        cached = fetch(conn, cache_sql, (lo, hi))[0]
        if _figures(in_range) != _figures(cached):
            yield lo, hi
        lo = hi


def _figures(row: Any) -> tuple[int, int]:
    count, total = row
    return int(count or 0), int(total or 0)
