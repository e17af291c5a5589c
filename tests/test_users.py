"""Local accounts: hashed passwords, roles, sessions ended by a password change; the CLI."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bpo2_bridge.store.database import open_store, users
from bpo2_bridge.store.users import UserError, add_user, list_users, remove_user, set_password, verify


def test_add_verify_and_hashing(settings) -> None:
    store = open_store(settings)
    add_user(store, "anna", "long-password", "admin", "sales1")
    with store.connect() as conn:
        stored = conn.execute(select(users.c.password_hash)).scalar_one()
    assert "long-password" not in stored and stored.startswith(("scrypt:", "pbkdf2:"))
    assert verify(store, "ANNA", "long-password").role == "admin"
    assert verify(store, "anna", "wrong-password") is None
    assert verify(store, "nobody", "long-password") is None
    with pytest.raises(UserError, match="already exists"):
        add_user(store, "Anna", "another-pass", "user")
    with pytest.raises(UserError, match="role"):
        add_user(store, "bob", "long-password", "boss")
    with pytest.raises(UserError, match="at least 8"):
        add_user(store, "bob", "short", "user")


def test_password_change_ends_sessions(settings) -> None:
    store = open_store(settings)
    before = add_user(store, "anna", "long-password", "user")
    set_password(store, "anna", "new-long-password")
    after = verify(store, "anna", "new-long-password")
    assert after is not None and after.session_version != before.session_version
    remove_user(store, "anna")
    assert list_users(store) == []
    with pytest.raises(UserError):
        remove_user(store, "anna")


def test_cli_add_list_password_remove(runner, settings) -> None:
    result = runner.invoke("users", "add", "carol", "--role", "ops", input="carol-password\ncarol-password\n")
    assert result.exit_code == 0, result.output
    result = runner.invoke(
        "users", "add", "dave", "--role", "user", "--employee", "sales1", input="dave-password\n"
    )
    assert result.exit_code == 0, result.output
    listed = runner.invoke("users", "list", "--format", "json")
    assert listed.exit_code == 0
    assert '"login": "dave"' in listed.output and '"employee_login": "sales1"' in listed.output
    assert runner.invoke("users", "add", "dave", "--role", "user", input="dave-password\n").exit_code == 2
    bad = runner.invoke("users", "add", "erin", "--role", "root", input="x\n")
    assert bad.exit_code == 2
    assert runner.invoke("users", "password", "dave", input="dave-new-pass\n").exit_code == 0
    assert verify(open_store(settings), "dave", "dave-new-pass") is not None
    assert runner.invoke("users", "remove", "dave").exit_code == 0
    assert runner.invoke("users", "remove", "dave").exit_code == 2
