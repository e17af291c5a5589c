"""A client that asks for JSON gets every error as {"error": ...} with its status; browsers keep
their pages and the redirect to sign-in."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from sqlalchemy import text

from bpo2_bridge.demo.content import DEMO_ADMIN_LOGIN, DEMO_SALESMAN_LOGIN

from .helpers import csrf_token

JSON = {"Accept": "application/json"}


def _json_error(response, status: int) -> str:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert isinstance(body["error"], str) and body["error"]
    return body["error"]


def _html(response, status: int) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == status
    assert response.mimetype == "text/html"


@pytest.mark.parametrize(
    ("url", "headers"),
    [
        ("/customers?format=json", {}),
        ("/customers", JSON),
        ("/customers?format=JSON", {}),  # any spelling the grids accept
        ("/contracts?tab=expired&format=json", {}),
        ("/status", JSON),
        ("/openapi.json", JSON),
    ],
)
def test_not_signed_in_json_clients_get_401(client, url: str, headers: dict[str, str]) -> None:
    response = client.get(url, headers=headers)
    assert "sign in" in _json_error(response, 401).lower()
    assert "Location" not in response.headers


def test_not_signed_in_browsers_are_still_sent_to_sign_in(client) -> None:
    for url in ("/customers", "/customers?format=html", "/status"):
        response = client.get(url, headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
        assert response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/login"


def test_forbidden_is_403_json(client, login) -> None:
    login(client, DEMO_SALESMAN_LOGIN)
    for url in ("/status?format=json", "/checks/contract_expiry_before_start?format=json"):
        assert "may not" in _json_error(client.get(url), 403)
    _json_error(client.get("/checks", headers=JSON), 403)
    _html(client.get("/status"), 403)


def test_not_found_is_404_json(client, login) -> None:
    login(client, DEMO_SALESMAN_LOGIN)
    for url in ("/customers/NO-SUCH-ACCOUNT?format=json", "/customers/NO-SUCH-ACCOUNT/files?format=json"):
        _json_error(client.get(url), 404)
    _json_error(client.get("/no/such/page", headers=JSON), 404)
    _json_error(client.get("/files/999999999", headers=JSON), 404)
    _html(client.get("/customers/NO-SUCH-ACCOUNT"), 404)


def test_bad_requests_are_400_json(client, login, demo_bridge) -> None:
    login(client, DEMO_ADMIN_LOGIN)
    bad = client.get("/customers?format=json&page_size=lots")
    assert "page_size" in _json_error(bad, 400)
    assert bad.get_json()["parameter"] == "page_size"
    account = _an_account(demo_bridge)
    refused = client.post(f"/customers/{account}/refresh", headers=JSON)  # no CSRF token
    assert "csrf_token" in _json_error(refused, 400)
    page = client.post(f"/customers/{account}/refresh")
    _html(page, 400)
    assert "Form expired" in page.get_data(as_text=True)


def test_wrong_method_is_405_json_with_allow(client, login) -> None:
    login(client, DEMO_ADMIN_LOGIN)
    response = client.delete("/customers", headers=JSON)
    _json_error(response, 405)
    assert "GET" in response.headers["Allow"]


def test_refresh_answers_a_json_client_with_the_changes(make_app, copied_demo, login) -> None:
    bridge = copied_demo()
    client = make_app(bridge).test_client()
    login(client, DEMO_ADMIN_LOGIN)
    account = _an_account(bridge)
    page = client.get(f"/customers/{account}/contracts").get_data(as_text=True)
    token = csrf_token(page)
    response = client.post(f"/customers/{account}/refresh", headers={**JSON, "X-CSRFToken": token})
    assert response.status_code == 200 and response.mimetype == "application/json"
    body = response.get_json()
    assert body["account_no"] == account and body["changed"] is False and body["changes"] == {}
    unknown = client.post("/customers/NO-SUCH-ACCOUNT/refresh", headers={**JSON, "X-CSRFToken": token})
    _json_error(unknown, 404)


def _an_account(bridge) -> str:  # type: ignore[no-untyped-def]
    with bridge.cache.connect() as conn:
        return conn.execute(text("SELECT account_no FROM customer ORDER BY customer_id LIMIT 1")).scalar_one()
