"""What a sync returns, and how it fails."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any


class SyncFailed(RuntimeError):
    """A sync stopped; the previous snapshot still serves. The message is the recorded reason."""


class SyncBusy(RuntimeError):
    """Another sync holds the sync lock."""


class UnknownCustomer(LookupError):
    """No customer with this account number in BPO2."""


def empty_changes() -> dict[str, int]:
    return {"added": 0, "changed": 0, "removed": 0}


@dataclass
class SyncResult:
    kind: str  # full | incremental
    run_id: int
    snapshot: str
    started_at: dt.datetime
    finished_at: dt.datetime
    rows: dict[str, int] = field(default_factory=dict)  # rows read per entity
    changes: dict[str, dict[str, int]] = field(default_factory=dict)  # incremental only
    seconds_per_entity: dict[str, float] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return (self.finished_at - self.started_at).total_seconds()

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["seconds"] = round(self.seconds, 3)
        data["started_at"] = self.started_at.isoformat()
        data["finished_at"] = self.finished_at.isoformat()
        return data


@dataclass
class RefreshResult:
    account_no: str
    customer_id: int
    run_id: int
    started_at: dt.datetime
    finished_at: dt.datetime
    changes: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return (self.finished_at - self.started_at).total_seconds()

    @property
    def changed(self) -> bool:
        return any(any(v.values()) for v in self.changes.values())

    def summary(self) -> str:
        """One line for the Refresh button: what changed, or that nothing did."""
        parts = []
        for entity, counts in self.changes.items():
            done = [f"{n} {what}" for what, n in counts.items() if n]
            if done:
                parts.append(f"{entity.replace('_', ' ')}: {', '.join(done)}")
        return "; ".join(parts) if parts else "No changes"

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["seconds"] = round(self.seconds, 3)
        data["started_at"] = self.started_at.isoformat()
        data["finished_at"] = self.finished_at.isoformat()
        data["summary"] = self.summary()
        return data
