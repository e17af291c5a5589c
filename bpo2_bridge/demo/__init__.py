"""The deterministic BPO2-like demo source."""
