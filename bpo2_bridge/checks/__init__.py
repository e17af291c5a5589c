"""Ops SQL: the read-only guard, ad-hoc queries and canned checks."""
