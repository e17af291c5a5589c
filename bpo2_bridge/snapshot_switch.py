"""When a web process moves from one cache snapshot to the next one a full sync published.

What a web process remembers (grid counts, deep-page positions) is kept per snapshot. Switching
the moment the new one is published leaves every request of the next second or two working
those out again at once: under load on the large demo, 25-30 grid requests took 300 ms to 1.5 s
each time. So a process goes on reading the previous snapshot (a sync keeps it) while one
thread works out, on the new one, the slow answers asked for lately; then it switches, at the
latest WARM_UP_SECONDS later. When no other request is reading, the request that finds the new
snapshot waits up to QUIET_WAIT_SECONDS for that warm-up, and reads the new snapshot if it is
ready by then: after a small sync, it is.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field

from sqlalchemy import Connection

# the longest a busy process keeps serving the previous snapshot after a new one was published
WARM_UP_SECONDS = 8.0
# the longest the request that finds the new snapshot waits for its warm-up, when no other
# request is reading (a quick warm-up, as after a small sync, then shows it the new data)
QUIET_WAIT_SECONDS = 1.0

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
        self.warm_ups = 0  # warm-ups started in this process
        self._lock = threading.Lock()
        self._serving: str | None = None
        self._upcoming: _Upcoming | None = None
        self._reading = 0  # connections open on the cache right now

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
        with self._lock:
            decided = self._decide(newest)  # another request may have begun the warm-up meanwhile
            if decided is not None:
                return decided
            serving = self._serving
            if serving is None or kept != serving:
                return self._settle(newest)
            upcoming = self._upcoming = _Upcoming(newest, time.monotonic() + WARM_UP_SECONDS)
            self.warm_ups += 1
            quiet = self._reading == 0
        log.info("warming up cache snapshot %s before it serves here", newest)
        threading.Thread(
            target=self._warm, args=(open_snapshot, upcoming), name=f"warm-up {newest}", daemon=True
        ).start()
        # nobody else reading: this request waits a little, to be the first to see the new data
        if not quiet or not upcoming.done.wait(QUIET_WAIT_SECONDS):
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

    @contextmanager
    def reading(self) -> Iterator[None]:
        """Counts a connection in use while the block runs: a process reading nothing is quiet."""
        with self._lock:
            self._reading += 1
        try:
            yield
        finally:
            with self._lock:
                self._reading -= 1

    def _settle(self, name: str) -> str:
        # the caller holds self._lock
        if self._serving not in (None, name):
            log.info("cache snapshot %s serves here now", name)
        self._serving, self._upcoming = name, None
        return name
