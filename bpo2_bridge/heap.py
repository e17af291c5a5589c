"""Giving freed heap memory back to the operating system (glibc, on Linux).

glibc keeps what a process frees inside its heaps for reuse and hands memory back to the system
only from the top of a heap. When a sync's new snapshot starts serving, a web process closes the
old snapshot's pooled connections (each with up to a 1 MB page cache and its prepared
statements) and drops what it remembered for it, while it reads the new one: without a trim,
the freed memory stays resident. Under bench.load (SQLite cache, 50 users), ``malloc_trim``
after a switch gave back 1.4-3.7 MB, and took 0.2-2.6 ms. Elsewhere (Windows, other C libraries)
there is nothing to call, and this does nothing.
"""

from __future__ import annotations

import ctypes
import logging
import sys
import threading
from collections.abc import Callable

# the requests still reading the old snapshot end, and the new one's first counts are worked
# out, within about two seconds of a switch (docs/operations.md): trim after that
TRIM_AFTER_SECONDS = 3.0

log = logging.getLogger(__name__)
_lock = threading.Lock()
_timer: threading.Timer | None = None
trims = 0  # how many trims ran in this process


def _malloc_trim() -> Callable[[], object] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # another C library (musl): no such call
        return None
    function = getattr(libc, "malloc_trim", None)
    if function is None:
        return None
    function.argtypes = [ctypes.c_size_t]
    function.restype = ctypes.c_int
    return lambda: function(0)


_TRIM = _malloc_trim()


def trim() -> bool:
    """Hand every free page of the heaps back to the system now; False where there is no way."""
    global trims
    if _TRIM is None:
        return False
    before = resident_bytes()
    _TRIM()
    with _lock:
        trims += 1
    log.info("heap trimmed: resident %.1f MB -> %.1f MB", before / 2**20, resident_bytes() / 2**20)
    return True


def resident_bytes() -> int:
    """This process's resident memory as /metrics reads it (Linux), or 0."""
    from prometheus_client import ProcessCollector

    for metric in ProcessCollector(registry=None).collect():
        if metric.name == "process_resident_memory_bytes" and metric.samples:
            return int(metric.samples[0].value)
    return 0


def trim_soon(delay: float | None = None) -> None:
    """``trim()`` in ``delay`` seconds (``TRIM_AFTER_SECONDS``), in the background; asking
    again meanwhile adds nothing."""
    global _timer
    if _TRIM is None:
        return
    with _lock:
        if _timer is not None and _timer.is_alive():
            return
        _timer = threading.Timer(TRIM_AFTER_SECONDS if delay is None else delay, trim)
        _timer.daemon = True
        _timer.start()
