"""The Contract Performance report: figures, rendering, email."""
