"""What syncs leave behind in a process that runs them for months (the scheduler, or `serve`
with the scheduler inside)."""

from __future__ import annotations

import gc

from sqlalchemy import MetaData

from bpo2_bridge.bridge import Bridge
from bpo2_bridge.sync import full_sync, incremental_sync


def _live_schemas() -> set[int]:
    gc.collect()
    return {id(o) for o in gc.get_objects() if isinstance(o, MetaData)}


def test_finished_syncs_leave_none_of_their_reflected_tables_behind(copied_demo) -> None:
    bridge: Bridge = copied_demo()
    full_sync(bridge)
    incremental_sync(bridge)
    before = _live_schemas()
    for _ in range(3):  # each run reflects BPO2 afresh
        full_sync(bridge)
        incremental_sync(bridge)
    assert _live_schemas() - before == set()
