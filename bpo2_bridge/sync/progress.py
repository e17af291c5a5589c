"""Progress of a sync, entity by entity: rows so far and rows per second."""

from __future__ import annotations

import sys
import time
from typing import Protocol, TextIO


class Progress(Protocol):
    def start(self, entity: str) -> None: ...
    def advance(self, entity: str, rows: int) -> None: ...
    def done(self, entity: str, rows: int, seconds: float) -> None: ...


class NoProgress:
    def start(self, entity: str) -> None:
        pass

    def advance(self, entity: str, rows: int) -> None:
        pass

    def done(self, entity: str, rows: int, seconds: float) -> None:
        pass


class LineProgress:
    """One line per entity on a stream (standard error): redrawn in place on a terminal."""

    def __init__(self, stream: TextIO | None = None, min_interval: float = 0.2) -> None:
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty()
        self.min_interval = min_interval
        self._started = 0.0
        self._drawn = 0.0

    def start(self, entity: str) -> None:
        self._started = self._drawn = time.monotonic()
        if self.live:
            self._draw(entity, 0, 0.0, end="")

    def advance(self, entity: str, rows: int) -> None:
        now = time.monotonic()
        if self.live and now - self._drawn >= self.min_interval:
            self._drawn = now
            self._draw(entity, rows, now - self._started, end="")

    def done(self, entity: str, rows: int, seconds: float) -> None:
        self._draw(entity, rows, seconds, end="\n")

    def _draw(self, entity: str, rows: int, seconds: float, end: str) -> None:
        rate = rows / seconds if seconds > 0 else 0.0
        line = f"{entity:<18} {rows:>12,} rows  {rate:>10,.0f} rows/s  {seconds:7.1f} s"
        prefix = "\r" if self.live else ""
        self.stream.write(f"{prefix}{line}{end}")
        self.stream.flush()
