"""When a web process moves from one cache snapshot to the next one a full sync published.

What a web process remembers (grid counts, deep-page positions) is kept per snapshot. Switching
the moment the new one is published leaves every request of the next second or two working
those out again at once: under load on the large demo, 25-30 grid requests took 300 ms to 1.5 s
each time. So a process goes on reading the previous snapshot (a sync keeps it) while one
thread works out, on the new one, the slow answers asked for lately; then it switches, at the
latest WARM_UP_SECONDS later. A warm-up likely to be quick (after a small sync, or with little
remembered) is waited for instead, up to WAIT_SECONDS, by the request that found the new
snapshot: it then sees the new data at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

from sqlalchemy import Connection

# the longest a process keeps serving the previous snapshot after a new one was published
WARM_UP_SECONDS = 8.0
# a warm-up likely to take at most this long is waited for by the request that began it...
QUICK_WARM_UP_SECONDS = 0.5
# ... for this long at most; then it reads the previous snapshot, as the others do meanwhile
WAIT_SECONDS = 1.0

# works out again, on a connection to the new snapshot, what is worth having before it serves;
# stops at the deadline (time.monotonic)
WarmUp = Callable[[Connection, float], None]

log = logging.getLogger(__name__)


@dataclass
class _Upcoming:
    name: str
    deadline: float
    done: threading.Event = field(default_factory=threading.Event)


class SnapshotSwitch:
    """Which snapshot this process reads now; one per Cache."""

    def __init__(self) -> None:
        self.warm_up: WarmUp | None = None  # set by the web app; without it: switch at once
        self.warm_up_seconds: Callable[[], float] = lambda: 0.0  # how long a warm-up may take
        self.warm_ups = 0  # warm-ups started in this process
        self._lock = threading.Lock()
        self._serving: str | None = None
        self._upcoming: _Upcoming | None = None

    def choose(
        self,
        newest: str,
        previous: Callable[[], str | None],
        open_snapshot: Callable[[str], AbstractContextManager[Connection]],
    ) -> str:
        """The snapshot to read now, ``newest`` being the one published and ``previous()`` the
        one published before it (kept by the sync); ``open_snapshot(name)`` gives a connection
        to a snapshot, for the warm-up."""
        with self._lock:
            decided = self._decide(newest)
        if decided is not None:
            return decided
        # only the snapshot the sync kept may be read on: an older one may be gone already
        kept = previous()
        quick = self.warm_up_seconds() <= QUICK_WARM_UP_SECONDS
        with self._lock:
            decided = self._decide(newest)  # another request may have begun the warm-up meanwhile
            if decided is not None:
                return decided
            serving = self._serving
            if serving is None or kept != serving:
                return self._settle(newest)
            upcoming = self._upcoming = _Upcoming(newest, time.monotonic() + WARM_UP_SECONDS)
            self.warm_ups += 1
        log.info("warming up cache snapshot %s before it serves here", newest)
        threading.Thread(
            target=self._warm, args=(open_snapshot, upcoming), name=f"warm-up {newest}", daemon=True
        ).start()
        if not quick or not upcoming.done.wait(WAIT_SECONDS):
            return serving  # requests go on with the previous snapshot meanwhile
        with self._lock:
            if self._upcoming is upcoming:
                self._settle(newest)
        return newest

    def _decide(self, newest: str) -> str | None:
        """The snapshot to read, or None when a warm-up of ``newest`` may begin. The caller holds
        self._lock."""
        serving, upcoming = self._serving, self._upcoming
        if serving is None or serving == newest or self.warm_up is None:
            return self._settle(newest)
        if upcoming is None:
            return None
        if upcoming.name != newest:  # published again meanwhile: the one read may be gone
            return self._settle(newest)
        if upcoming.done.is_set() or time.monotonic() >= upcoming.deadline:
            return self._settle(newest)
        return serving

    def _warm(
        self, open_snapshot: Callable[[str], AbstractContextManager[Connection]], upcoming: _Upcoming
    ) -> None:
        started = time.monotonic()
        try:
            warm_up = self.warm_up
            if warm_up is not None:
                with open_snapshot(upcoming.name) as conn:
                    warm_up(conn, upcoming.deadline)
            log.info("cache snapshot %s warmed up in %.1f s", upcoming.name, time.monotonic() - started)
        except Exception:  # it switches unwarmed: the requests after it work the answers out
            log.warning("warming up cache snapshot %s failed", upcoming.name, exc_info=True)
        finally:
            upcoming.done.set()

    def give_up(self, newest: str) -> None:
        """The snapshot served so far cannot be read any more: read ``newest`` from now on."""
        with self._lock:
            self._settle(newest)

    def in_use(self) -> set[str]:
        """Snapshots this process reads or is about to read."""
        with self._lock:
            return {n for n in (self._serving, self._upcoming and self._upcoming.name) if n}

    def _settle(self, name: str) -> str:
        # the caller holds self._lock
        if self._serving not in (None, name):
            log.info("cache snapshot %s serves here now", name)
        self._serving, self._upcoming = name, None
        return name
