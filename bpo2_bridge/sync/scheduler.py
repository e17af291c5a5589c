"""The scheduler lives in bpo2_bridge.scheduler; this name is kept for callers that look here."""

from ..scheduler import start_scheduler

__all__ = ["start_scheduler"]
