"""Benchmarks: `make bench` (python -m bench) runs every bench module in turn."""
