"""Local user accounts in the application store, and sign-in throttling.

Passwords are hashed with werkzeug.security. Every session carries its account's generation
(session_version); sign-out, a changed password or a changed role moves it on, so every cookie
issued before is refused (the user row is read on each request anyway). A removed account takes
its sessions with it.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Engine, String, bindparam, delete, func, insert, select, update
from werkzeug.security import check_password_hash, generate_password_hash

from .database import login_attempts, user_options, users

ROLES = ("user", "admin", "ops")
# generations stay below 2**30 so that the step below never overflows a 32-bit column
GENERATIONS = 2**30


class UserError(ValueError):
    """A user operation was refused; the message says why."""


@dataclass(frozen=True)
class Account:
    login: str
    role: str
    employee_login: str | None
    session_version: int
    has_password: bool
    created_at: dt.datetime | None = None


def _next_generation() -> ColumnElement[int]:
    """The column moved on by a random step: an account removed and added again does not
    restart at a number an old cookie holds."""
    step = 1 + secrets.randbelow(GENERATIONS - 1)
    return (users.c.session_version + step) % GENERATIONS


def _norm(login: str) -> str:
    login = login.strip()
    if not login or len(login) > 100:
        raise UserError("a login must be 1 to 100 characters")
    return login


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    return role


def _account(row) -> Account:  # type: ignore[no-untyped-def]
    return Account(
        login=row.login,
        role=row.role,
        employee_login=row.employee_login,
        session_version=row.session_version or 0,
        has_password=bool(row.password_hash),
        created_at=row.created_at,
    )


def add_user(
    store: Engine,
    login: str,
    password: str | None,
    role: str = "user",
    employee_login: str | None = None,
) -> Account:
    """Create an account; a None password makes a header-mode-only account."""
    login = _norm(login)
    _check_role(role)
    if password is not None and len(password) < 8:
        raise UserError("a password must be at least 8 characters")
    with store.begin() as conn:
        if conn.execute(select(users.c.id).where(func.lower(users.c.login) == login.lower())).first():
            raise UserError(f"user {login!r} already exists")
        conn.execute(
            insert(users).values(
                login=login,
                password_hash=generate_password_hash(password) if password else None,
                role=role,
                employee_login=(employee_login or None),
                created_at=dt.datetime.now(),
                session_version=secrets.randbelow(GENERATIONS),
            )
        )
    account = get_user(store, login)
    assert account is not None
    return account


def get_user(store: Engine, login: str) -> Account | None:
    with store.connect() as conn:
        row = conn.execute(_BY_LOGIN, {"login": login.strip().lower()}).first()
    return _account(row) if row else None


# built once: every signed-in request runs it
_BY_LOGIN = select(users).where(func.lower(users.c.login) == bindparam("login", type_=String()))


def list_users(store: Engine) -> list[Account]:
    with store.connect() as conn:
        return [_account(r) for r in conn.execute(select(users).order_by(users.c.login))]


def remove_user(store: Engine, login: str) -> None:
    with store.begin() as conn:
        result = conn.execute(delete(users).where(func.lower(users.c.login) == login.strip().lower()))
        # the user's own options go too: a login added again must not find the old calendar link
        conn.execute(delete(user_options).where(user_options.c.login == login.strip().lower()))
    if result.rowcount == 0:
        raise UserError(f"no user {login!r}")


def set_password(store: Engine, login: str, password: str) -> None:
    if len(password) < 8:
        raise UserError("a password must be at least 8 characters")
    with store.begin() as conn:
        result = conn.execute(
            update(users)
            .where(func.lower(users.c.login) == login.strip().lower())
            .values(
                password_hash=generate_password_hash(password),
                session_version=_next_generation(),
            )
        )
    if result.rowcount == 0:
        raise UserError(f"no user {login!r}")


def set_role(store: Engine, login: str, role: str) -> None:
    """Give LOGIN another role; its open sessions end (it signs in again under the new role)."""
    _check_role(role)
    with store.begin() as conn:
        result = conn.execute(
            update(users)
            .where(func.lower(users.c.login) == login.strip().lower())
            .values(role=role, session_version=_next_generation())
        )
    if result.rowcount == 0:
        raise UserError(f"no user {login!r}")


def end_sessions(store: Engine, login: str, generation: int | None = None) -> None:
    """Sign LOGIN out everywhere; with `generation`, only if its sessions are still of that one
    (a dead cookie signing out cannot end the sessions issued after it)."""
    query = update(users).where(func.lower(users.c.login) == login.strip().lower())
    if generation is not None:
        query = query.where(users.c.session_version == generation)
    with store.begin() as conn:
        conn.execute(query.values(session_version=_next_generation()))


def verify(store: Engine, login: str, password: str) -> Account | None:
    """The account when the password is right, else None (same cost either way)."""
    with store.connect() as conn:
        row = conn.execute(select(users).where(func.lower(users.c.login) == login.strip().lower())).first()
    if row is None or not row.password_hash:
        # hash anyway (the way a stored password is) so a missing login takes as long as a
        # wrong password
        generate_password_hash(password)
        return None
    return _account(row) if check_password_hash(row.password_hash, password) else None


# -- throttling --------------------------------------------------------------------------


def record_attempt(store: Engine, login: str, address: str, succeeded: bool) -> None:
    with store.begin() as conn:
        conn.execute(
            insert(login_attempts).values(
                login=login[:100], address=address[:64], at=dt.datetime.now(), succeeded=succeeded
            )
        )


def is_throttled(store: Engine, login: str, address: str, per_minute: int) -> bool:
    """True when this login from this address failed `per_minute` times in the last minute."""
    since = dt.datetime.now() - dt.timedelta(minutes=1)
    with store.connect() as conn:
        failures = conn.execute(
            select(func.count())
            .select_from(login_attempts)
            .where(
                login_attempts.c.login == login[:100],
                login_attempts.c.address == address[:64],
                login_attempts.c.at >= since,
                login_attempts.c.succeeded.is_(False),
            )
        ).scalar_one()
    return failures >= per_minute


# -- demo accounts -----------------------------------------------------------------------

DEMO_PASSWORD = "demo-pass-2026"  # printed by `bpo2-bridge demo`; demo data only


def demo_accounts() -> list[tuple[str, str, str | None]]:
    """(login, role, employee login) of the demo users: two salesmen, an administrator, ops."""
    from ..demo.content import DEMO_ADMIN_LOGIN, DEMO_OTHER_SALESMAN_LOGIN, DEMO_SALESMAN_LOGIN

    return [
        (DEMO_SALESMAN_LOGIN, "user", DEMO_SALESMAN_LOGIN),
        (DEMO_OTHER_SALESMAN_LOGIN, "user", DEMO_OTHER_SALESMAN_LOGIN),
        (DEMO_ADMIN_LOGIN, "admin", DEMO_ADMIN_LOGIN),
        ("ops", "ops", None),
    ]


def create_demo_users(store: Engine, password: str = DEMO_PASSWORD) -> list[tuple[str, str]]:
    """Create (or reset the password of) every demo account; returns (login, role) pairs."""
    made = []
    for login, role, employee in demo_accounts():
        if get_user(store, login) is None:
            add_user(store, login, password, role, employee)
        else:
            set_password(store, login, password)
        made.append((login, role))
    return made
