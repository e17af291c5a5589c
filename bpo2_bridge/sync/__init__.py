"""Sync from BPO2 into the cache: full, incremental, per customer."""
