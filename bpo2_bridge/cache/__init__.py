"""The local cache: snapshots and their switch, engines, the schema (search indexes included),
and the time limit every screen query runs under."""
