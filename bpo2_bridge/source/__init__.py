"""BPO2, the source: its logical model, the mapping file that names its tables, reflection,
read-only engines and the attachment stream. Nothing here writes to BPO2."""
