"""Sync from BPO2 into the cache: full, incremental, per customer."""

from .full import clean_abandoned, full_sync
from .incremental import incremental_sync
from .progress import LineProgress, NoProgress, Progress
from .refresh import refresh_customer
from .results import RefreshResult, SyncBusy, SyncFailed, SyncResult, UnknownCustomer

__all__ = [
    "LineProgress",
    "NoProgress",
    "Progress",
    "RefreshResult",
    "SyncBusy",
    "SyncFailed",
    "SyncResult",
    "UnknownCustomer",
    "clean_abandoned",
    "full_sync",
    "incremental_sync",
    "refresh_customer",
]
