"""Who is signed in: local accounts (session) or a trusted front proxy's login header.

Every request except the public endpoints needs a user; `current_user()` is cached per
request. Roles: user (sees customers where main or linked salesman), admin (a CRM
administrator in BPO2, or role admin: sees every customer), ops (Status and SQL checks).
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Flask, abort, current_app, g, redirect, request, session, url_for

from ..store import users as accounts
from .context import current_bridge

F = TypeVar("F", bound=Callable[..., Any])

# endpoints reachable without signing in (the calendar feed: its secret token is the key)
PUBLIC_ENDPOINTS = frozenset({"static", "auth.login", "health.healthz", "health.metrics", "calendar.feed"})


@dataclass(frozen=True)
class User:
    login: str
    role: str  # "user" | "admin" | "ops"
    employee_id: int | None = None
    employee_login: str | None = None
    full_name: str | None = None
    is_crm_administrator: bool = False
    is_ops: bool = False

    @property
    def is_admin(self) -> bool:
        """Sees every customer."""
        return self.role == "admin" or self.is_crm_administrator

    @property
    def display_name(self) -> str:
        return self.full_name or self.login


class Anonymous(Exception):
    """No user is signed in."""


def _employee(login: str | None) -> dict[str, Any] | None:
    if not login:
        return None
    from ..queries.crm import employee_by_login

    try:
        return employee_by_login(current_bridge(), login)  # one indexed row of the cache
    except Exception:  # no cache yet: the user is known but linked to no employee
        return None


def build_user(login: str, stored_role: str, employee_login: str | None) -> User:
    settings = current_bridge().settings
    emp = _employee(employee_login or login)
    ops_logins = {x.lower() for x in settings.ops_logins}
    is_ops = stored_role == "ops" or login.lower() in ops_logins
    is_crm_admin = bool(emp and emp["is_crm_administrator"])
    role = "ops" if is_ops else ("admin" if stored_role == "admin" or is_crm_admin else "user")
    return User(
        login=login,
        role=role,
        employee_id=emp["employee_id"] if emp else None,
        employee_login=emp["login_name"] if emp else employee_login,
        full_name=emp["full_name"] if emp else None,
        is_crm_administrator=is_crm_admin,
        is_ops=is_ops,
    )


def is_trusted(address: str | None, proxies: Iterable[str]) -> bool:
    """Whether `address` is one of `proxies` (addresses and networks, checked at start)."""
    try:
        ip = ipaddress.ip_address((address or "").split("%", 1)[0])
    except ValueError:
        return False  # no address (a Unix socket) or not an IP: never a proxy
    candidates = [ip]
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        candidates.append(ip.ipv4_mapped)  # ::ffff:10.0.0.5 from a dual-stack listener
    networks = [ipaddress.ip_network(entry) for entry in proxies]
    return any(c in n for c in candidates for n in networks if c.version == n.version)


def passwords_accepted() -> bool:
    """Local passwords sign in: always in local mode; in header mode only with break-glass on."""
    settings = current_bridge().settings
    return settings.auth_mode != "header" or bool(settings.header_password_sign_in)


def _header_login() -> str | None:
    settings = current_bridge().settings
    if settings.auth_mode != "header":
        return None
    if not is_trusted(request.remote_addr, settings.trusted_proxies):
        return None  # anyone can send the header; only the front proxy is believed
    value = (request.headers.get(settings.auth_header) or "").strip()
    if "\\" in value:  # DOMAIN\login from IIS Windows authentication
        value = value.rsplit("\\", 1)[1]
    return value or None


def _resolve() -> User | None:
    bridge = current_bridge()
    login = _header_login()
    if login:
        account = accounts.get_user(bridge.store, login)
        if account:
            return build_user(account.login, account.role, account.employee_login)
        return build_user(login, "user", login)
    login = session.get("login")
    if not login:
        return None
    if not passwords_accepted():
        # a session from a password sign-in (made before header mode, or under break-glass
        # since switched off) is not a way around the proxy
        session.clear()
        return None
    account = accounts.get_user(bridge.store, login)
    # sign-out, a new password, a new role or a removed account changed the generation: every
    # cookie issued before, copies included, is dead
    if (
        account is None
        or account.session_version != session.get("ver")
        or account.role != session.get("role")
    ):
        session.clear()
        return None
    return build_user(account.login, account.role, account.employee_login)


def optional_user() -> User | None:
    """The signed-in user, or None."""
    if "bpo2_user" not in g:
        g.bpo2_user = _resolve()
    user: User | None = g.bpo2_user
    return user


def current_user() -> User:
    """The signed-in user (views behind login_required always have one)."""
    user = optional_user()
    if user is None:
        raise Anonymous()
    return user


def sign_in(account: accounts.Account) -> None:
    session.clear()
    session["login"] = account.login
    session["ver"] = account.session_version
    session["role"] = account.role
    session.permanent = True
    g.pop("bpo2_user", None)


def sign_out() -> None:
    """End the session on the server too: a signed cookie copied before sign-out (or kept by
    another browser of the same user) no longer works, because its generation is gone."""
    login = session.get("login")
    if login and session.get("ver") is not None:
        accounts.end_sessions(current_bridge().store, login, session.get("ver"))
    session.clear()
    g.pop("bpo2_user", None)


def safe_next(target: str | None, default: str = "/") -> str:
    """Only same-site relative paths are followed after sign-in or by Back buttons."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    if "\\" in target or any(ch < " " or ch == "\x7f" for ch in target):
        return default  # a CR/LF would split the Location header
    return target


def _login_redirect():  # type: ignore[no-untyped-def]
    """Browsers go to the sign-in page; a JSON client, which cannot sign in through a form it
    is sent to, gets 401 with {"error": ...} from the app's error handler."""
    from werkzeug.exceptions import Unauthorized

    from .grid import wants_json

    if wants_json():
        return current_app.handle_http_exception(Unauthorized())
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


def login_required(func: F) -> F:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if optional_user() is None:
            return _login_redirect()
        return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def role_required(role: str) -> Callable[[F], F]:
    """Only users holding `role` ("ops" or "admin"); others get 403."""

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            user = optional_user()
            if user is None:
                return _login_redirect()
            allowed = user.is_ops if role == "ops" else (user.is_admin if role == "admin" else True)
            if not allowed:
                abort(403)
            return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def init_app(app: Flask) -> None:
    @app.before_request
    def _require_sign_in():  # type: ignore[no-untyped-def]
        # everything is behind sign-in unless listed public, whatever a blueprint forgets
        if request.endpoint in PUBLIC_ENDPOINTS or request.endpoint is None:
            return None
        if optional_user() is None:
            if request.accept_mimetypes.best == "application/json" or request.args.get("format") == "json":
                abort(401)
            return _login_redirect()
        return None

    @app.errorhandler(Anonymous)
    def _anonymous(_exc: Anonymous):  # type: ignore[no-untyped-def]
        return _login_redirect()

    @app.context_processor
    def _user_context() -> dict[str, Any]:
        return {"user": optional_user()}
