"""Freed heap memory goes back to the system after a snapshot switch (glibc on Linux)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bpo2_bridge import heap
from bpo2_bridge.cache_engines import reader_engine, retire_reader

FRAGMENTED = """
from bpo2_bridge import heap

def resident_mb():
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmRSS"))
    return int(line.split()[1]) / 1024

blocks = [bytearray(4000) for _ in range(25_000)]  # 100 MB in pieces malloc keeps in its heap
pin = bytearray(4000)  # allocated after them: the freed pieces are not the heap's top
del blocks
before = resident_mb()
assert heap.trim()
print(before - resident_mb())
"""


@pytest.mark.usefixtures("trimmable_heap")
def test_a_trim_hands_freed_memory_back_to_the_system() -> None:
    """100 MB freed below a live allocation stays resident until the trim returns it."""
    ran = subprocess.run(
        [sys.executable, "-c", FRAGMENTED],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert float(ran.stdout) > 50, ran.stdout


@pytest.mark.usefixtures("trimmable_heap")
def test_trims_asked_for_meanwhile_run_once() -> None:
    before = heap.trims
    for _ in range(3):
        heap.trim_soon(0.2)
    deadline = time.monotonic() + 5
    while heap.trims == before and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    assert heap.trims == before + 1
    heap.trim_soon(0.05)  # the first one ran: a new request is a new trim
    deadline = time.monotonic() + 5
    while heap.trims == before + 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert heap.trims == before + 2


@pytest.mark.usefixtures("trimmable_heap")
def test_retiring_a_snapshots_readers_closes_them_and_trims_after(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """When a new snapshot is first read, the old one's pooled connections close at once, and
    a trim follows TRIM_AFTER_SECONDS later."""
    monkeypatch.setattr(heap, "TRIM_AFTER_SECONDS", 0.1)
    path = tmp_path / "snapshot.sqlite"
    sqlite3.connect(path).close()
    engine = reader_engine(path, 4, timeout=10)
    with engine.connect():
        pass
    assert engine.pool.checkedin() == 1  # type: ignore[attr-defined]
    before = heap.trims
    retire_reader(engine)
    assert engine.pool.checkedin() == 0  # type: ignore[attr-defined]
    deadline = time.monotonic() + 5
    while heap.trims == before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert heap.trims == before + 1
