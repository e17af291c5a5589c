"""Every sync records its run through one context manager: running, then ok or failed with a
one-line reason; the failure is re-raised."""

from __future__ import annotations

import pytest

from bpo2_bridge.store.database import open_store
from bpo2_bridge.sync import history
from bpo2_bridge.sync.results import SyncFailed


def test_a_failing_run_is_recorded_with_one_line_and_re_raised(settings) -> None:
    store = open_store(settings)
    with (
        pytest.raises(ValueError, match="boom"),
        history.recorded(store, "customer", settings.now(), target="ACC1", clock=settings.now),
    ):
        assert history.recent(store, 1)[0]["status"] == "running"
        raise ValueError("boom\nsecond line of a driver message")
    run = history.recent(store, 1)[0]
    assert (run["kind"], run["target"], run["status"]) == ("customer", "ACC1", "failed")
    assert run["error"] == "ValueError: boom" and run["finished_at"] is not None

    with (
        pytest.raises(SyncFailed, match="KeyError: 'x'") as raised,
        history.recorded(store, "full", settings.now(), failed_as=SyncFailed),
    ):
        raise KeyError("x")
    assert isinstance(raised.value.__cause__, KeyError)

    with history.recorded(store, "incremental", settings.now()) as run_, store.begin() as conn:
        run_.succeed(conn, settings.now(), rows={"contract": 3})
    last = history.recent(store, 1)[0]
    assert (last["status"], last["rows"], last["id"]) == ("ok", {"contract": 3}, run_.id)
    store.dispose()
