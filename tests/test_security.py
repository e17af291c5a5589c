"""Security: share-stored attachments that try to leave the share, sign-in throttling, session
rotation and ending, and the security headers on every kind of response."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import MetaData, create_engine, func, select, text, update

from bpo2_bridge.demo.content import DEMO_ADMIN_LOGIN, DEMO_OTHER_SALESMAN_LOGIN, DEMO_SALESMAN_LOGIN
from bpo2_bridge.source.mapping import physical_table
from bpo2_bridge.store.database import login_attempts
from bpo2_bridge.store.users import DEMO_PASSWORD, remove_user, set_password
from bpo2_bridge.sync.refresh import refresh_customer
from bpo2_bridge.web.security import MAX_NAME, download_name

from .helpers import page_token, sign_in

SECRET = "TOP-SECRET-PAYROLL-7731"
LEGIT = b"minutes of the site visit\n"
# file names BPO2 may hold: each must come back as a harmless download name
HOSTILE_NAMES = (
    "notes\r\nSet-Cookie: bpo2_session=evil.txt",
    "../../../etc/passwd",
    "..\\..\\boot.ini",
    'quote" onload="x.txt',
    "résumé – Ünïcode ✓.txt",
    "",
)


def _signed_in(client) -> bool:  # type: ignore[no-untyped-def]
    return client.get("/").status_code == 200


def _session_cookie(client) -> str | None:  # type: ignore[no-untyped-def]
    cookie = client.get_cookie("bpo2_session")
    return cookie.value if cookie else None


# -- attachments on the file share --------------------------------------------------------


@pytest.fixture
def hostile_share(make_app, copied_demo):  # type: ignore[no-untyped-def]
    """A demo copy whose BPO2 lists attachments with paths that try to leave the share.

    Returns (client signed in as the administrator, {attack: file_id}, {other case: file_id},
    the customer's account no). The other cases: "legit" (a file on the share), "NUL byte",
    and "named <n>" (the legit file under HOSTILE_NAMES[n]).
    """
    bridge = copied_demo()
    share = bridge.settings.share_path
    outside = bridge.settings.data_path / "outside"  # beside the share, not under it
    outside.mkdir()
    (outside / "secret.txt").write_text(SECRET)
    (share / "escape.txt").symlink_to(outside / "secret.txt")
    (share / "escape_dir").symlink_to(outside, target_is_directory=True)
    (share / "cases" / "legit.txt").write_bytes(LEGIT)
    attacks = {
        "dot-dot": "../outside/secret.txt",
        "etc-passwd": "../../etc/passwd",
        "deep etc-passwd": "../" * 30 + "etc/passwd",
        "absolute": str(outside / "secret.txt"),
        "absolute etc-passwd": "/etc/passwd",
        "symlink in the share": "escape.txt",
        "symlinked folder": "escape_dir/secret.txt",
        "windows dot-dot": "..\\outside\\secret.txt",
        "windows etc-passwd": "..\\..\\etc\\passwd",
        "windows absolute": "C:\\Windows\\win.ini",
        "UNC path": "\\\\fileserver\\hr\\secret.txt",
        "dot-dot after a folder": "cases/../../outside/secret.txt",
        "the share itself": ".",
    }
    # (case, file_path, file_name)
    rows = [(case, path, f"attack {n}.txt") for n, (case, path) in enumerate(attacks.items())]
    rows += [("legit", "cases/legit.txt", "legit.txt"), ("NUL byte", "cases/legit.txt\x00.pdf", "nul.txt")]
    rows += [(f"named {n}", "cases/legit.txt", name) for n, name in enumerate(HOSTILE_NAMES)]
    table = physical_table(bridge.mapping["case_attachment"], MetaData())
    customers = physical_table(bridge.mapping["customer"], MetaData())
    writer = create_engine(f"sqlite:///{bridge.settings.demo_source_path}")  # the copy, not the demo
    with writer.begin() as conn:
        # a case of a customer, so the files show in that customer's files
        case_id, customer_id = conn.execute(
            select(table.c.case_id, table.c.customer_id).order_by(table.c.file_id).limit(1)
        ).one()
        next_id = conn.execute(select(func.max(table.c.file_id))).scalar_one() + 1
        ids = {case: next_id + n for n, (case, _path, _name) in enumerate(rows)}
        for case, path, name in rows:
            conn.execute(
                table.insert().values(
                    file_id=ids[case],
                    case_id=case_id,
                    customer_id=customer_id,
                    file_name=name,
                    content_type="text/html",  # were it shown inline, a page on our origin
                    file_size=len(SECRET),
                    uploaded_by="Mallory",
                    uploaded_date=dt.datetime(2026, 11, 20, 9, 0),
                    content=None,
                    file_path=path,
                )
            )
        account_no = conn.execute(
            select(customers.c.account_no).where(customers.c.customer_id == customer_id)
        ).scalar_one()
    writer.dispose()
    refresh_customer(bridge, account_no)  # the rows reach the cache the grids read
    client = make_app(bridge).test_client()
    sign_in(client, DEMO_ADMIN_LOGIN)
    others = {case: ids.pop(case) for case in list(ids) if case not in attacks}
    return client, ids, others, account_no


def test_share_paths_that_leave_the_share_are_refused(hostile_share) -> None:
    client, ids, special, account_no = hostile_share
    listed = client.get(f"/customers/{account_no}/files?format=json&page_size=200").get_json()
    assert {f"attack {n}.txt" for n in range(len(ids))} <= {r["file_name"] for r in listed["rows"]}
    for case, file_id in ids.items():
        response = client.get(f"/files/{file_id}")
        body = response.get_data()
        assert response.status_code in (403, 404), case
        assert SECRET.encode() not in body and b"root:" not in body, case
        assert "attachment" not in response.headers.get("Content-Disposition", ""), case
    # the same route still serves a file that is on the share (the refusals are not blanket)
    good = client.get(f"/files/{special['legit']}")
    assert good.status_code == 200
    assert good.get_data() == LEGIT


def test_a_share_path_with_a_nul_byte_is_refused(hostile_share) -> None:
    client, _ids, special, _account_no = hostile_share
    assert client.get(f"/files/{special['NUL byte']}").status_code == 404


def test_hostile_file_names_download_safely(hostile_share) -> None:
    """Names from BPO2 cannot inject headers, pick a folder or be shown inline as a page."""
    client, _ids, special, _account_no = hostile_share
    for n, name in enumerate(HOSTILE_NAMES):
        response = client.get(f"/files/{special[f'named {n}']}")
        assert response.status_code == 200, name
        assert response.get_data() == LEGIT
        assert [c for c in response.headers.getlist("Set-Cookie") if "evil" in c] == [], name
        disposition = response.headers["Content-Disposition"]
        assert disposition.startswith("attachment"), name
        assert "\r" not in disposition and "\n" not in disposition
        simple = re.search(r'filename="?([^";]*)', disposition)
        assert simple and "/" not in simple[1] and "\\" not in simple[1], disposition


@given(st.text())
def test_download_names_are_always_safe(name: str) -> None:
    safe = download_name(name)
    assert safe and len(safe) <= MAX_NAME
    assert not set(safe) & set('/\\"*:<>?|')
    assert all(unicodedata.category(ch) not in ("Cc", "Cf", "Zl", "Zp") for ch in safe)
    assert safe == download_name(safe)  # already safe names pass through unchanged


@pytest.mark.parametrize(
    "name, expected",
    [
        ("Signed Contract CS000001.pdf", "Signed Contract CS000001.pdf"),
        ("résumé – Ünïcode ✓.txt", "résumé – Ünïcode ✓.txt"),
        ("../../../etc/passwd", "passwd"),
        ("..\\..\\boot.ini", "boot.ini"),
        ("notes\r\nSet-Cookie: a=b.txt", "notes Set-Cookie_ a=b.txt"),
        ("", "download"),
        ("x" * 400 + ".pdf", "x" * (MAX_NAME - 4) + ".pdf"),
    ],
)
def test_download_name_examples(name: str, expected: str) -> None:
    assert download_name(name) == expected


# -- sign-in throttling -------------------------------------------------------------------


@pytest.fixture
def throttled(make_app, copied_demo):  # type: ignore[no-untyped-def]
    bridge = copied_demo(login_attempts_per_minute=3)
    return bridge, make_app(bridge)


def _fail(app, login: str, address: str, times: int) -> None:  # type: ignore[no-untyped-def]
    client = app.test_client()
    for _ in range(times):
        response = sign_in(client, login, "wrong-password", environ={"REMOTE_ADDR": address})
        assert response.status_code == 401
        assert "Wrong login or password." in response.get_data(as_text=True)


def test_repeated_failures_lock_that_login_from_that_address(throttled) -> None:
    _bridge, app = throttled
    _fail(app, DEMO_SALESMAN_LOGIN, "10.0.0.7", 3)
    client = app.test_client()
    refused = sign_in(
        client, DEMO_SALESMAN_LOGIN, DEMO_PASSWORD, environ={"REMOTE_ADDR": "10.0.0.7"}
    )  # even the right password
    assert refused.status_code == 429
    assert "Too many failed sign-ins" in refused.get_data(as_text=True)
    assert refused.headers.get("Retry-After") == "60"
    assert not _signed_in(client)
    # the login typed in other letter case or with spaces is the same login
    for variant in (DEMO_SALESMAN_LOGIN.upper(), f"  {DEMO_SALESMAN_LOGIN} "):
        assert (
            sign_in(
                app.test_client(), variant, DEMO_PASSWORD, environ={"REMOTE_ADDR": "10.0.0.7"}
            ).status_code
            == 429
        )


def test_a_locked_login_does_not_lock_anyone_else(throttled) -> None:
    _bridge, app = throttled
    _fail(app, DEMO_SALESMAN_LOGIN, "10.0.0.7", 3)
    elsewhere = app.test_client()
    assert (
        sign_in(
            elsewhere, DEMO_SALESMAN_LOGIN, DEMO_PASSWORD, environ={"REMOTE_ADDR": "10.0.0.8"}
        ).status_code
        == 302
    )
    assert _signed_in(elsewhere)
    colleague = app.test_client()
    assert (
        sign_in(
            colleague, DEMO_OTHER_SALESMAN_LOGIN, DEMO_PASSWORD, environ={"REMOTE_ADDR": "10.0.0.7"}
        ).status_code
        == 302
    )
    assert _signed_in(colleague)


def test_the_lock_lifts_after_a_minute(throttled) -> None:
    bridge, app = throttled
    _fail(app, DEMO_SALESMAN_LOGIN, "10.0.0.7", 3)
    assert (
        sign_in(
            app.test_client(), DEMO_SALESMAN_LOGIN, DEMO_PASSWORD, environ={"REMOTE_ADDR": "10.0.0.7"}
        ).status_code
        == 429
    )
    with bridge.store.begin() as conn:  # the minute passes: the failures are older than it
        conn.execute(update(login_attempts).values(at=login_attempts.c.at - dt.timedelta(seconds=61)))
    client = app.test_client()
    assert (
        sign_in(client, DEMO_SALESMAN_LOGIN, DEMO_PASSWORD, environ={"REMOTE_ADDR": "10.0.0.7"}).status_code
        == 302
    )
    assert _signed_in(client)


def test_failures_below_the_limit_do_not_lock(throttled) -> None:
    _bridge, app = throttled
    _fail(app, DEMO_SALESMAN_LOGIN, "10.0.0.7", 2)
    assert (
        sign_in(
            app.test_client(), DEMO_SALESMAN_LOGIN, DEMO_PASSWORD, environ={"REMOTE_ADDR": "10.0.0.7"}
        ).status_code
        == 302
    )


# -- sessions -----------------------------------------------------------------------------


def test_sign_in_issues_a_new_session_cookie(app) -> None:
    client = app.test_client()
    client.get("/login")
    before = _session_cookie(client)
    assert before is not None  # the sign-in form's CSRF token lives in a pre-sign-in session
    response = sign_in(client, DEMO_SALESMAN_LOGIN)
    after = _session_cookie(client)
    assert response.status_code == 302 and after and after != before
    # a cookie planted before sign-in (session fixation) stays signed out
    planted = app.test_client()
    planted.set_cookie("bpo2_session", before)
    assert not _signed_in(planted)
    replay = app.test_client()
    replay.set_cookie("bpo2_session", after)
    assert _signed_in(replay)


def test_signing_in_again_as_someone_else_replaces_the_session(app) -> None:
    client = app.test_client()
    sign_in(client, DEMO_SALESMAN_LOGIN)
    first = _session_cookie(client)
    sign_in(client, DEMO_ADMIN_LOGIN)
    assert _session_cookie(client) != first
    assert "admin" in client.get("/").get_data(as_text=True).lower()


def test_sign_out_clears_the_session(app) -> None:
    client = app.test_client()
    sign_in(client, DEMO_SALESMAN_LOGIN)
    signed_in = _session_cookie(client)
    response = client.post("/logout", data={"csrf_token": page_token(client, "/")})
    assert response.status_code == 302
    assert _session_cookie(client) != signed_in
    assert not _signed_in(client)
    assert client.get("/customers?format=json").status_code == 401


@pytest.mark.parametrize("how", ["password change", "user removal"])
def test_password_change_or_removal_ends_open_sessions(make_app, copied_demo, how: str) -> None:
    bridge = copied_demo()
    app = make_app(bridge)
    browser, laptop = app.test_client(), app.test_client()
    sign_in(browser, DEMO_SALESMAN_LOGIN)
    sign_in(laptop, DEMO_SALESMAN_LOGIN)
    assert _signed_in(browser) and _signed_in(laptop)
    if how == "password change":
        set_password(bridge.store, DEMO_SALESMAN_LOGIN, "a-new-password-1")
    else:
        remove_user(bridge.store, DEMO_SALESMAN_LOGIN)
    assert not _signed_in(browser)
    assert not _signed_in(laptop)
    if how == "password change":
        assert sign_in(browser, DEMO_SALESMAN_LOGIN).status_code == 401  # the old password is gone
        assert sign_in(browser, DEMO_SALESMAN_LOGIN, "a-new-password-1").status_code == 302
        assert _signed_in(browser)


# -- response headers ---------------------------------------------------------------------


def _urls(bridge) -> dict[str, tuple[str, int, str]]:  # type: ignore[no-untyped-def]
    """(url, expected status, expected mimetype) for every kind of response a user meets."""
    with bridge.cache.connect() as conn:
        account = conn.execute(
            text("SELECT account_no FROM customer ORDER BY customer_id LIMIT 1")
        ).scalar_one()
        contract = conn.execute(
            text("SELECT contract_no FROM contract ORDER BY contract_id LIMIT 1")
        ).scalar_one()
    em = bridge.mapping["case_attachment"]
    table = physical_table(em, MetaData())
    with bridge.source.connect() as conn:
        file_id = conn.execute(
            select(table.c.file_id).where(table.c.content.is_not(None)).order_by(table.c.file_id).limit(1)
        ).scalar_one()
    return {
        "HTML page": ("/", 200, "text/html"),
        "grid page": (f"/customers/{account}/contracts?tab=expired", 200, "text/html"),
        "JSON": ("/customers?format=json", 200, "application/json"),
        "CSV": ("/customers?format=csv", 200, "text/csv"),
        "XLSX": (
            "/customers?format=xlsx",
            200,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
        "PDF": (f"/contracts/{contract}/report.pdf", 200, "application/pdf"),
        "file download": (f"/files/{file_id}", 200, ""),
        "OpenAPI": ("/openapi.json", 200, "application/json"),
        "400 page": ("/customers?page=first", 400, "text/html"),
        "400 JSON": ("/customers?format=json&sort=nope", 400, "application/json"),
        "404 page": ("/no-such-page", 404, "text/html"),
        "404 customer": ("/customers/NO-SUCH-ACCOUNT", 404, "text/html"),
        "404 file": ("/files/999999999", 404, "text/html"),
    }


def _assert_security_headers(response, what: str) -> None:  # type: ignore[no-untyped-def]
    headers = response.headers
    csp = headers.get("Content-Security-Policy", "")
    directives = {d.split()[0]: d.split()[1:] for d in csp.split(";") if d.strip()}
    script = directives.get("script-src", directives.get("default-src"))
    assert script and "'unsafe-inline'" not in script and "'unsafe-eval'" not in script, what
    assert "'unsafe-inline'" not in csp, what
    assert directives.get("frame-ancestors") or headers.get("X-Frame-Options") in ("DENY", "SAMEORIGIN"), what
    assert headers.get("X-Frame-Options") in ("DENY", "SAMEORIGIN"), what
    assert headers.get("X-Content-Type-Options") == "nosniff", what
    assert headers.get("Referrer-Policy") in (
        "same-origin",
        "no-referrer",
        "strict-origin-when-cross-origin",
    ), what
    for cookie in headers.getlist("Set-Cookie"):
        assert "HttpOnly" in cookie and "SameSite=" in cookie, (what, cookie)


def test_security_headers_on_every_kind_of_response(demo_bridge, app) -> None:
    client = app.test_client()
    sign_in(client, DEMO_ADMIN_LOGIN)
    for what, (url, status, mimetype) in _urls(demo_bridge).items():
        response = client.get(url)
        assert response.status_code == status, (what, url, response.status_code)
        if mimetype:
            assert response.mimetype == mimetype, (what, response.mimetype)
        _assert_security_headers(response, what)
        # a signed-in user's data never stays in a shared or browser cache
        assert "no-store" in response.headers.get("Cache-Control", ""), (
            what,
            response.headers.get("Cache-Control"),
        )


def test_security_headers_before_sign_in(app) -> None:
    client = app.test_client()
    for what, url, status in (
        ("sign-in page", "/login", 200),
        ("redirect to sign-in", "/customers", 302),
        ("401 for JSON", "/customers?format=json", 401),
        ("health", "/healthz", 200),
    ):
        response = client.get(url)
        assert response.status_code == status, what
        _assert_security_headers(response, what)
    login = client.get("/login")
    assert "no-store" in login.headers["Cache-Control"]  # its form carries the CSRF token
    wrong = sign_in(client, DEMO_SALESMAN_LOGIN, "wrong-password")
    _assert_security_headers(wrong, "failed sign-in")


def test_session_cookie_flags(app) -> None:
    client = app.test_client()
    response = sign_in(client, DEMO_SALESMAN_LOGIN)
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("bpo2_session=")]
    assert cookies, "sign-in sets the session cookie"
    assert "HttpOnly" in cookies[0] and "SameSite=Lax" in cookies[0] and "Path=/" in cookies[0]
    out = client.post("/logout", data={"csrf_token": page_token(client, "/")})
    for cookie in out.headers.getlist("Set-Cookie"):
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_static_files_are_cacheable_and_still_protected(app) -> None:
    client = app.test_client()
    stylesheet = sorted(Path(app.static_folder).glob("*.css"))[0]
    response = client.get(f"/static/{stylesheet.name}")
    assert response.status_code == 200
    _assert_security_headers(response, "static")
    assert "no-store" not in response.headers.get("Cache-Control", "")
    response.close()
