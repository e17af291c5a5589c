"""What each user chose for themselves, kept in the application store: the digest opt-out,
when their last digest went out, and their calendar feed token.

The feed token is a secret in a URL that calendar programs fetch without a session. Only its
SHA-256 is stored; the token itself is shown once, when it is made. A new token replaces the
old one (which stops working at once); revoking removes it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from typing import Any

from sqlalchemy import Connection, Engine, select, update
from sqlalchemy.exc import IntegrityError

from .database import user_options

TOKEN_BYTES = 32
# what secrets.token_urlsafe(TOKEN_BYTES) gives: 43 URL-safe characters
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{43}")


def _key(login: str) -> str:
    return login.strip().lower()


def _row(conn: Connection, login: str) -> Any:
    return conn.execute(select(user_options).where(user_options.c.login == _key(login))).first()


def _save(store: Engine, login: str, **values: Any) -> None:
    """Set `values` on the user's options row, creating it when missing."""
    for attempt in range(2):
        try:
            with store.begin() as conn:
                done = conn.execute(
                    update(user_options).where(user_options.c.login == _key(login)).values(**values)
                )
                if done.rowcount == 0:
                    conn.execute(
                        user_options.insert().values(login=_key(login), **{"digest_opt_out": False, **values})
                    )
            return
        except IntegrityError:  # made by a concurrent request between our update and insert
            if attempt:
                raise


# -- the digest -------------------------------------------------------------------------


def digest_opted_out(store: Engine, login: str) -> bool:
    with store.connect() as conn:
        row = _row(conn, login)
    return bool(row and row.digest_opt_out)


def set_digest_opt_out(store: Engine, login: str, opted_out: bool) -> None:
    _save(store, login, digest_opt_out=opted_out)


def last_digest(store: Engine, login: str) -> dt.datetime | None:
    """When the user's last digest was sent (local time), or None before the first."""
    with store.connect() as conn:
        row = _row(conn, login)
    return row.digest_sent_at if row else None


def record_digest(store: Engine, login: str, at: dt.datetime) -> None:
    _save(store, login, digest_sent_at=at)


# -- the calendar feed token ------------------------------------------------------------


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def new_calendar_token(store: Engine, login: str, now: dt.datetime) -> str:
    """A new feed token for the user (shown once); the previous one stops working."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    _save(store, login, calendar_token_hash=_hash(token), calendar_token_at=now)
    return token


def revoke_calendar_token(store: Engine, login: str) -> None:
    _save(store, login, calendar_token_hash=None, calendar_token_at=None)


def calendar_token_made(store: Engine, login: str) -> dt.datetime | None:
    """When the user's current feed token was made, or None without one."""
    with store.connect() as conn:
        row = _row(conn, login)
    return row.calendar_token_at if row and row.calendar_token_hash else None


def login_for_token(store: Engine, token: str) -> str | None:
    """The login whose current feed token this is, or None (malformed, revoked or unknown).

    The row is found by the token's hash, and the stored hash compared in constant time."""
    if not TOKEN_SHAPE.fullmatch(token):
        return None
    wanted = _hash(token)
    with store.connect() as conn:
        row = conn.execute(
            select(user_options.c.login, user_options.c.calendar_token_hash).where(
                user_options.c.calendar_token_hash == wanted
            )
        ).first()
    if row is None or not hmac.compare_digest(str(row.calendar_token_hash), wanted):
        return None
    return str(row.login)
