"""Sign-in and sessions: header mode takes no passwords (unless the break-glass setting is on),
sign-out and a new password or role end every copy of a session, trusted_proxies takes addresses
and networks only, the Secure cookie flag, and a sign-in `next` with control characters."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner

from bpo2_bridge.cli import main
from bpo2_bridge.demo.content import DEMO_ADMIN_LOGIN, DEMO_SALESMAN_LOGIN
from bpo2_bridge.settings import SettingsError, load_settings
from bpo2_bridge.store.users import add_user, remove_user
from bpo2_bridge.web.app import create_app

from .helpers import page_token, sign_in

UNTRUSTED = {"REMOTE_ADDR": "10.9.9.9"}


def _no_form_token(app):  # type: ignore[no-untyped-def]
    """In header mode the sign-in page has no form, so no token to send: these tests post as a
    script would, with the form token check off (CSRF has its own tests)."""
    app.config["WTF_CSRF_ENABLED"] = False
    return app


def _signed_in(client, url: str = "/", environ: dict | None = None) -> bool:  # type: ignore[no-untyped-def]
    return client.get(url, environ_base=environ or {}).status_code == 200


def _cookie(client) -> str:  # type: ignore[no-untyped-def]
    cookie = client.get_cookie("bpo2_session")
    assert cookie is not None
    return cookie.value


def _with_cookie(app, value: str):  # type: ignore[no-untyped-def]
    other = app.test_client()
    other.set_cookie("bpo2_session", value)
    return other


# -- header mode -----------------------------------------------------------------------------


def test_header_mode_takes_no_password(make_app, copied_demo) -> None:
    bridge = copied_demo(auth_mode="header", trusted_proxies=["10.0.0.5"])
    app = _no_form_token(make_app(bridge))
    client = app.test_client()
    page = client.get("/login", environ_base=UNTRUSTED)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'type="password"' not in html and "does not take passwords" in html
    response = sign_in(client, "ops", environ=UNTRUSTED)
    assert response.status_code == 403
    assert not _signed_in(client, "/status", UNTRUSTED)
    status = client.get("/status", environ_base=UNTRUSTED)
    assert status.status_code == 302 and urlsplit(status.headers["Location"]).path == "/login"
    # the proxy's header still signs people in
    assert _signed_in(client, "/status", {"REMOTE_ADDR": "10.0.0.5"}) is False  # no header: nobody
    ops = client.get("/status", headers={"X-Remote-User": "ops"}, environ_base={"REMOTE_ADDR": "10.0.0.5"})
    assert ops.status_code == 200


def test_break_glass_setting_allows_passwords_in_header_mode_and_ending_it_ends_them(
    make_app, copied_demo
) -> None:
    bridge = copied_demo(auth_mode="header", trusted_proxies=["10.0.0.5"], header_password_sign_in=True)
    glass = make_app(bridge)
    client = glass.test_client()
    assert sign_in(client, "ops", environ=UNTRUSTED).status_code == 302
    assert _signed_in(client, "/status", UNTRUSTED)
    cookie = _cookie(client)
    # break-glass switched off again (same store and key): the password session no longer works
    closed = create_app(settings=bridge.settings.replace(header_password_sign_in=False))
    assert not _signed_in(_with_cookie(closed, cookie), "/status", UNTRUSTED)


def test_break_glass_setting_is_off_by_default() -> None:
    settings = load_settings(config_file=None, environ={})
    assert settings.header_password_sign_in is False
    with pytest.raises(SettingsError, match="'header_password_sign_in'"):
        load_settings(config_file=None, environ={"BPO2_BRIDGE_HEADER_PASSWORD_SIGN_IN": "maybe"})
    assert load_settings(environ={"BPO2_BRIDGE_HEADER_PASSWORD_SIGN_IN": "yes"}).header_password_sign_in


# -- sessions end on the server --------------------------------------------------------------


def test_a_cookie_copied_before_sign_out_is_dead_after_it(make_app) -> None:
    app = make_app()
    client = app.test_client()
    assert sign_in(client, DEMO_SALESMAN_LOGIN).status_code == 302
    copied = _cookie(client)
    assert _signed_in(_with_cookie(app, copied))
    assert client.post("/logout", data={"csrf_token": page_token(client, "/")}).status_code == 302
    thief = _with_cookie(app, copied)
    assert not _signed_in(thief)
    assert thief.get("/customers?format=json").status_code == 401
    # signing in again works, with a new cookie
    assert sign_in(client, DEMO_SALESMAN_LOGIN).status_code == 302
    assert _signed_in(client)
    assert not _signed_in(_with_cookie(app, copied))


def test_a_dead_cookie_cannot_sign_out_the_newer_session(make_app) -> None:
    app = make_app()
    old, new = app.test_client(), app.test_client()
    sign_in(old, DEMO_SALESMAN_LOGIN)
    stale = _cookie(old)
    token = page_token(old, "/")
    old.post("/logout", data={"csrf_token": token})
    sign_in(new, DEMO_SALESMAN_LOGIN)
    replay = _with_cookie(app, stale)
    replay.post("/logout", data={"csrf_token": token})
    assert _signed_in(new)


@pytest.mark.parametrize("how", ["set_role", "cli users role"])
def test_a_role_change_ends_open_sessions(make_app, copied_demo, runner, how: str) -> None:
    bridge = copied_demo()
    app = make_app(bridge)
    client = app.test_client()
    sign_in(client, "ops")
    assert _signed_in(client, "/status")
    copied = _cookie(client)
    if how == "set_role":
        from bpo2_bridge.store.users import set_role

        set_role(bridge.store, "ops", "user")
    else:
        result = runner.invoke("users", "role", "ops", "user", bridge=bridge)
        assert result.exit_code == 0, result.output
    assert not _signed_in(client)
    assert not _signed_in(_with_cookie(app, copied))
    sign_in(client, "ops")
    assert _signed_in(client) and client.get("/status").status_code == 403


def test_an_account_removed_and_added_again_does_not_inherit_old_cookies(make_app, copied_demo) -> None:
    bridge = copied_demo()
    app = make_app(bridge)
    client = app.test_client()
    sign_in(client, DEMO_ADMIN_LOGIN)
    copied = _cookie(client)
    remove_user(bridge.store, DEMO_ADMIN_LOGIN)
    add_user(bridge.store, DEMO_ADMIN_LOGIN, "another-password", "admin", DEMO_ADMIN_LOGIN)
    assert not _signed_in(_with_cookie(app, copied))


def test_cli_role_refuses_unknown_login_and_role(runner) -> None:
    missing = runner.invoke("users", "role", "nobody", "ops")
    assert missing.exit_code == 2 and "no user 'nobody'" in missing.stderr
    bad = runner.invoke("users", "role", "nobody", "boss")
    assert bad.exit_code == 2 and len(bad.stderr.strip().splitlines()) == 1


# -- trusted_proxies and the Secure cookie ------------------------------------------------------


@pytest.mark.parametrize(
    "value", ["notanip", "*", "10.0.0.5/24", "10.0.0.0/33", "localhost", "10.0.0.0/24, bad"]
)
def test_trusted_proxies_refuses_anything_but_addresses_and_networks(value: str) -> None:
    with pytest.raises(SettingsError, match="'trusted_proxies'"):
        load_settings(config_file=None, environ={"BPO2_BRIDGE_TRUSTED_PROXIES": value})


def test_trusted_proxies_bad_value_stops_the_cli_in_one_line(tmp_path) -> None:
    result = CliRunner().invoke(
        main, ["status"], env={"BPO2_BRIDGE_TRUSTED_PROXIES": "*", "BPO2_BRIDGE_DATA_DIR": str(tmp_path)}
    )
    assert result.exit_code == 2
    assert "trusted_proxies" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_a_trusted_network_honours_its_addresses_only(make_app, copied_demo) -> None:
    bridge = copied_demo(auth_mode="header", trusted_proxies=["10.0.0.0/24", "fd00::/64"])
    client = make_app(bridge).test_client()
    header = {"X-Remote-User": DEMO_SALESMAN_LOGIN}
    for address in ("10.0.0.5", "10.0.0.254", "::ffff:10.0.0.7", "fd00::12"):
        response = client.get("/", headers=header, environ_base={"REMOTE_ADDR": address})
        assert response.status_code == 200, address
    for address in ("10.0.1.5", "127.0.0.1", "fd01::12", ""):
        response = client.get("/", headers=header, environ_base={"REMOTE_ADDR": address})
        assert response.status_code == 302, address


@pytest.mark.parametrize("secure", [True, False])
def test_session_cookie_secure_setting(make_app, secure: bool) -> None:
    app = make_app(session_cookie_secure=secure)
    client = app.test_client()
    response = sign_in(client, DEMO_SALESMAN_LOGIN, environ={"wsgi.url_scheme": "https"})
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("bpo2_session=")]
    assert cookies
    assert ("; Secure" in cookies[0]) is secure


def _session_cookies(response) -> list[str]:  # type: ignore[no-untyped-def]
    return [c for c in response.headers.getlist("Set-Cookie") if c.startswith("bpo2_session=")]


def test_the_session_cookie_is_signed_again_only_when_it_changed_or_has_aged(make_app, monkeypatch) -> None:
    from bpo2_bridge.web import security

    app = make_app()
    client = app.test_client()
    assert _session_cookies(sign_in(client, DEMO_SALESMAN_LOGIN))
    client.get("/")  # the page's CSRF token is kept in the session: set once
    assert not _session_cookies(client.get("/customers?format=json"))
    assert _signed_in(client)
    monkeypatch.setattr(security, "SESSION_RENEW_SECONDS", 0)
    renewed = _session_cookies(client.get("/customers?format=json"))
    assert renewed and "Expires=" in renewed[0]
    assert _signed_in(client)


# -- next with control characters ---------------------------------------------------------------


@pytest.mark.parametrize("target", ["/customers\r\nSet-Cookie: evil=1", "/\r\n/evil.example", "/x\x00y"])
def test_sign_in_next_with_control_characters_goes_home(client, target: str) -> None:
    response = sign_in(client, DEMO_SALESMAN_LOGIN, next=target)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert "evil" not in str(response.headers)
    again = client.get("/login", query_string={"next": target})
    assert again.status_code == 302 and again.headers["Location"] == "/"
