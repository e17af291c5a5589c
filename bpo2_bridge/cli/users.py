"""`bpo2-bridge users add|list|remove|password|role`: local accounts in the application store."""

from __future__ import annotations

import sys
import warnings

import click

from ..store import users as accounts
from ..store.database import open_store
from .common import AppContext, fail, output_options, pass_app, print_rows


def _read_password(confirm: bool = True) -> str:
    """Prompted (hidden, twice) on a terminal; otherwise the first line of standard input."""
    stdin = sys.stdin
    if stdin.isatty():
        return click.prompt("Password", hide_input=True, confirmation_prompt=confirm)
    line = stdin.readline()
    if not line:
        fail("no password on standard input")
    return line.rstrip("\r\n")


@click.group("users")
def users() -> None:
    """Local accounts (sign-in with a password; roles user, admin, ops)."""


@users.command("add")
@click.argument("login")
@click.option(
    "--role", type=click.Choice(accounts.ROLES), required=True, help="user, admin (sees all) or ops."
)
@click.option("--employee", "employee", metavar="BPO2_LOGIN", help="BPO2 employee login this user is.")
@pass_app
def add(app: AppContext, login: str, role: str, employee: str | None) -> None:
    """Add LOGIN; the password is prompted, or read from standard input."""
    store = open_store(app.settings)
    if accounts.get_user(store, login) is not None:
        fail(f"user {login!r} already exists")
    try:
        accounts.add_user(store, login, _read_password(), role, employee)
    except accounts.UserError as exc:
        fail(str(exc))
    click.echo(f"Added {login} ({role}{', employee ' + employee if employee else ''}).", err=True)


@users.command("list")
@output_options
@pass_app
def list_(app: AppContext, fmt: str) -> None:
    """List the accounts."""
    rows = [
        (a.login, a.role, a.employee_login or "", "yes" if a.has_password else "no", a.created_at)
        for a in accounts.list_users(open_store(app.settings))
    ]
    with warnings.catch_warnings():
        # print_rows still asks click for stdout the pre-9.0 way
        warnings.simplefilter("ignore", DeprecationWarning)
        print_rows(["login", "role", "employee_login", "password", "created_at"], rows, fmt)


@users.command("remove")
@click.argument("login")
@pass_app
def remove(app: AppContext, login: str) -> None:
    """Remove LOGIN (its sessions end)."""
    try:
        accounts.remove_user(open_store(app.settings), login)
    except accounts.UserError as exc:
        fail(str(exc))
    click.echo(f"Removed {login}.", err=True)


@users.command("password")
@click.argument("login")
@pass_app
def password(app: AppContext, login: str) -> None:
    """Set LOGIN's password (prompted or from standard input); its open sessions end."""
    store = open_store(app.settings)
    if accounts.get_user(store, login) is None:
        fail(f"no user {login!r}")
    try:
        accounts.set_password(store, login, _read_password())
    except accounts.UserError as exc:
        fail(str(exc))
    click.echo(f"Password of {login} changed.", err=True)


@users.command("role")
@click.argument("login")
@click.argument("role", type=click.Choice(accounts.ROLES), metavar="ROLE")
@pass_app
def role(app: AppContext, login: str, role: str) -> None:
    """Give LOGIN the ROLE user, admin or ops; its open sessions end."""
    try:
        accounts.set_role(open_store(app.settings), login, role)
    except accounts.UserError as exc:
        fail(str(exc))
    click.echo(f"{login} is now {role}.", err=True)
