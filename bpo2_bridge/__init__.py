"""bpo2-bridge: a read-only bridge from the BPO2 ERP database to intranet CRM screens."""

__version__ = "0.1.0"
