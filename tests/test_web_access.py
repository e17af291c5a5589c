"""Sign-in, roles, visibility by URL, CSRF, the trusted login header and security headers."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from sqlalchemy import text

from bpo2_bridge.demo.content import DEMO_ADMIN_LOGIN, DEMO_OTHER_SALESMAN_LOGIN, DEMO_SALESMAN_LOGIN
from bpo2_bridge.store.users import add_user

from .helpers import page_token


def _scalar_rows(bridge, sql: str, **params):  # type: ignore[no-untyped-def]
    with bridge.cache.connect() as conn:
        return conn.execute(text(sql), params).all()


def _employee_id(bridge, login: str) -> int:
    return _scalar_rows(bridge, "SELECT employee_id FROM employee WHERE login_name = :l", l=login)[0][0]


def _foreign(bridge, login: str) -> dict[str, str]:
    """An account, file and case of a customer the salesman `login` is not linked to."""
    me = _employee_id(bridge, login)
    row = _scalar_rows(
        bridge,
        """
        SELECT c.account_no, a.file_id, cc.case_no
        FROM customer c
        JOIN case_attachment a ON a.customer_id = c.customer_id
        JOIN crm_case cc ON cc.customer_id = c.customer_id
        WHERE c.customer_id NOT IN (SELECT customer_id FROM customer_salesman WHERE employee_id = :me)
        ORDER BY c.customer_id LIMIT 1
        """,
        me=me,
    )[0]
    return {"account_no": row[0], "file_id": str(row[1]), "case_no": row[2]}


def test_anonymous_requests_are_sent_to_sign_in(client) -> None:
    for url in ("/", "/customers", "/customers/ACC00001", "/contracts?tab=expired", "/files/1", "/status"):
        response = client.get(url)
        assert response.status_code == 302, url
        location = urlsplit(response.headers["Location"])
        assert location.path == "/login"
        assert url.split("?")[0] in response.headers["Location"].replace("%2F", "/")


def test_healthz_and_metrics_are_open(client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json()["status"] == "ok"
    metrics = client.get("/metrics").get_data(as_text=True)
    assert "bpo2_bridge_up 1" in metrics
    assert "bpo2_bridge_cache_age_seconds" in metrics


def test_sign_in_then_back_to_the_page_asked_for(client, login) -> None:
    first = client.get("/customers?q=Dental")
    response = client.post(
        "/login",
        data={
            "login": DEMO_SALESMAN_LOGIN,
            "password": "demo-pass-2026",
            "next": "/customers?q=Dental",
            "csrf_token": page_token(client, "/login"),
        },
    )
    assert first.status_code == 302
    assert response.status_code == 302
    assert response.headers["Location"] == "/customers?q=Dental"
    assert client.get("/customers").status_code == 200


def test_wrong_password_is_refused_and_throttled(make_app) -> None:
    client = make_app().test_client()  # own store: attempts are recorded
    for _ in range(5):
        response = client.post(
            "/login",
            data={"login": "sales2", "password": "wrong-one!", "csrf_token": page_token(client, "/login")},
        )
        assert response.status_code == 401
        assert "Wrong login or password." in response.get_data(as_text=True)
    response = client.post(
        "/login",
        data={"login": "sales2", "password": "demo-pass-2026", "csrf_token": page_token(client, "/login")},
    )
    assert response.status_code == 429


def test_next_never_leaves_the_site(client) -> None:
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        response = client.post(
            "/login",
            data={
                "login": DEMO_ADMIN_LOGIN,
                "password": "demo-pass-2026",
                "next": target,
                "csrf_token": page_token(client, "/login"),
            },
        )
        assert response.headers["Location"] == "/"
        client.post("/logout", data={"csrf_token": page_token(client, "/")})


def test_post_without_csrf_token_is_refused(client, login) -> None:
    login(client, DEMO_SALESMAN_LOGIN)
    response = client.post("/customers/ACC00001/refresh")
    assert response.status_code == 400
    assert "security token" in response.get_data(as_text=True)
    assert client.post("/logout").status_code == 400


def test_salesman_cannot_open_another_salesmans_things_by_url(demo_bridge, client, login) -> None:
    foreign = _foreign(demo_bridge, DEMO_SALESMAN_LOGIN)
    login(client, DEMO_SALESMAN_LOGIN)
    account = foreign["account_no"]
    for url in (
        f"/customers/{account}",
        f"/customers/{account}/contracts?tab=all",
        f"/customers/{account}/files",
        f"/files/{foreign['file_id']}",
        f"/cases/{foreign['case_no']}",
    ):
        assert client.get(url).status_code == 404, url
    assert client.get("/customers/NO-SUCH-ACCOUNT").status_code == 404
    listed = client.get("/customers?format=json&page_size=200").get_json()
    assert account not in {row["account_no"] for row in listed["rows"]}


def test_customers_grid_lists_exactly_the_linked_customers(demo_bridge, client, login) -> None:
    me = _employee_id(demo_bridge, DEMO_SALESMAN_LOGIN)
    expected = {
        r[0]
        for r in _scalar_rows(
            demo_bridge,
            "SELECT c.account_no FROM customer c JOIN customer_salesman cs ON cs.customer_id = c.customer_id "
            "WHERE cs.employee_id = :me",
            me=me,
        )
    }
    login(client, DEMO_SALESMAN_LOGIN)
    rows = client.get("/customers?format=json&page_size=200").get_json()["rows"]
    assert {r["account_no"] for r in rows} == expected
    assert expected


def test_administrator_sees_every_customer(demo_bridge, client, login) -> None:
    every = {r[0] for r in _scalar_rows(demo_bridge, "SELECT account_no FROM customer")}
    login(client, DEMO_ADMIN_LOGIN)
    data = client.get("/customers?format=json&page_size=200").get_json()
    assert {r["account_no"] for r in data["rows"]} == every
    foreign = _foreign(demo_bridge, DEMO_SALESMAN_LOGIN)
    assert client.get(f"/customers/{foreign['account_no']}").status_code == 200


def test_status_is_for_ops_only(client, login) -> None:
    login(client, DEMO_OTHER_SALESMAN_LOGIN)
    assert client.get("/status").status_code == 403
    client.post("/logout", data={"csrf_token": page_token(client, "/")})
    login(client, "ops")
    page = client.get("/status")
    assert page.status_code == 200
    assert "Run full sync" in page.get_data(as_text=True)


def test_security_headers_and_session_cookie(client, login) -> None:
    response = login(client, DEMO_SALESMAN_LOGIN)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    page = client.get("/")
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["X-Frame-Options"] == "SAMEORIGIN"
    html = page.get_data(as_text=True)
    assert "<script>" not in html and " onclick=" not in html and " style=" not in html


@pytest.fixture
def header_app(make_app, copied_demo):  # type: ignore[no-untyped-def]
    bridge = copied_demo(auth_mode="header", trusted_proxies=["10.0.0.5"])
    return make_app(bridge)


def test_login_header_is_honoured_only_from_trusted_proxies(header_app) -> None:
    client = header_app.test_client()
    trusted = {"REMOTE_ADDR": "10.0.0.5"}
    forged = {"REMOTE_ADDR": "10.0.0.99"}
    page = client.get("/", headers={"X-Remote-User": "CORP\\sales1"}, environ_base=trusted)
    assert page.status_code == 200
    assert "Ravi Naidoo" in page.get_data(as_text=True)
    response = client.get("/", headers={"X-Remote-User": "sales1"}, environ_base=forged)
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/login"


def test_header_user_without_account_maps_to_employee(header_app) -> None:
    client = header_app.test_client()
    bridge = header_app.extensions["bpo2_bridge"]
    add_user(bridge.store, "lpillay-ops", None, "ops")
    page = client.get(
        "/status", headers={"X-Remote-User": "lpillay-ops"}, environ_base={"REMOTE_ADDR": "10.0.0.5"}
    )
    assert page.status_code == 200
    admin = client.get(
        "/customers?format=json", headers={"X-Remote-User": "admin"}, environ_base={"REMOTE_ADDR": "10.0.0.5"}
    )
    # "admin" is a CRM administrator in BPO2: through the header it sees every customer
    assert admin.get_json()["total"] == len(_scalar_rows(bridge, "SELECT 1 FROM customer"))
