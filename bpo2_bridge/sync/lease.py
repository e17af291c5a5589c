"""Leases held in the application store's `locks` table: one holder at a time, across
processes and hosts, on SQLite or PostgreSQL alike (nothing POSIX-only).

A lease is taken by inserting its row, or by updating it where it has expired, in one
statement; the holder renews it well before it expires. A holder on this host whose process
no longer exists is taken over at once, so a killed sync does not block the next one.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import secrets
import socket
import sys
import threading

from sqlalchemy import Engine, and_, or_, select
from sqlalchemy.exc import IntegrityError

from ..store.database import locks

log = logging.getLogger(__name__)


def _now() -> dt.datetime:
    # UTC, naive: every host compares expiries on the same clock whatever its time zone
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def process_alive(pid: int) -> bool:
    """Whether a process with this id exists on this host (Windows and POSIX)."""
    if pid <= 0:
        return False
    if sys.platform == "win32":
        import ctypes

        kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
        handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return False
        try:
            code = ctypes.c_ulong()
            kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
            return code.value == 259  # STILL_ACTIVE
        finally:
            kernel32.CloseHandle(handle)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Lease:
    def __init__(self, store: Engine, name: str, seconds: float) -> None:
        self.store = store
        self.name = name
        self.seconds = seconds
        self.holder = f"{socket.gethostname()[:80]}:{os.getpid()}:{secrets.token_hex(4)}"

    def acquire(self) -> bool:
        """Take the lease if free, expired or left by a dead process of this host."""
        now = _now()
        expires = now + dt.timedelta(seconds=self.seconds)
        with self.store.begin() as conn:
            current = conn.execute(select(locks.c.holder).where(locks.c.name == self.name)).scalar()
            stale = current is not None and self._dead(current)
            conditions = [locks.c.expires_at < now, locks.c.holder == self.holder]
            if stale:
                conditions.append(locks.c.holder == current)
            taken = conn.execute(
                locks.update()
                .where(and_(locks.c.name == self.name, or_(*conditions)))
                .values(holder=self.holder, expires_at=expires)
            ).rowcount
            if taken:
                return True
            if current is not None:
                return False
        try:
            with self.store.begin() as conn:
                conn.execute(locks.insert().values(name=self.name, holder=self.holder, expires_at=expires))
            return True
        except IntegrityError:
            return False  # another process inserted it first

    def renew(self) -> bool:
        """Extend the lease; False when it is no longer ours."""
        expires = _now() + dt.timedelta(seconds=self.seconds)
        with self.store.begin() as conn:
            return bool(
                conn.execute(
                    locks.update()
                    .where(locks.c.name == self.name, locks.c.holder == self.holder)
                    .values(expires_at=expires)
                ).rowcount
            )

    def release(self) -> None:
        with self.store.begin() as conn:
            conn.execute(locks.delete().where(locks.c.name == self.name, locks.c.holder == self.holder))

    def holder_info(self) -> tuple[str, dt.datetime] | None:
        with self.store.connect() as conn:
            row = conn.execute(
                select(locks.c.holder, locks.c.expires_at).where(locks.c.name == self.name)
            ).first()
        return (row.holder, row.expires_at) if row else None

    def _dead(self, holder: str) -> bool:
        host, _, rest = holder.partition(":")
        pid_text = rest.partition(":")[0]
        if host != socket.gethostname()[:80] or not pid_text.isdigit():
            return False
        pid = int(pid_text)
        return pid != os.getpid() and not process_alive(pid)


class Heartbeat:
    """Renews a held lease from a daemon thread until stopped."""

    def __init__(self, lease: Lease) -> None:
        self.lease = lease
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lease-{lease.name}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        interval = max(1.0, self.lease.seconds / 3)
        while not self._stop.wait(interval):
            try:
                if not self.lease.renew():
                    self.lost.set()
                    return
            except Exception:  # store briefly unreachable: try again at the next beat
                log.warning("could not renew lease %s", self.lease.name, exc_info=True)


def sync_lease(store: Engine, seconds: float) -> Lease:
    """The lease every full and incremental sync holds: never two at once, on any host."""
    return Lease(store, "sync", seconds)
