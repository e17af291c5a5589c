"""What the pages about one customer share: the customer, read only when the user may see it."""

from __future__ import annotations

from typing import Any

from flask import abort

from ..queries import crm
from .auth import current_user


def load_customer(conn: Any, account_no: str) -> dict[str, Any]:
    """The customer when the user may see it, else 404 (whether it exists or not)."""
    customer = crm.customer(conn, current_user(), account_no)
    if customer is None:
        abort(404)
    return customer
