"""Grid counts follow the data: the totals, tab counts and Home tiles a user sees are true right
after a Refresh or a sync (the derived rows they are read from are written with the data)."""

from __future__ import annotations

import datetime as dt
import re

from bpo2_bridge.demo.content import DEMO_ADMIN_LOGIN, DEMO_SALESMAN_LOGIN
from bpo2_bridge.sync import history

from .helpers import page_token, sign_in


def _totals(client, path: str = "/contracts") -> dict[str, int]:  # type: ignore[no-untyped-def]
    return {
        tab: client.get(f"{path}?tab={tab}&format=json").get_json()["total"]
        for tab in ("all", "expired", "expiring")
    }


def _tab_counts(client, path: str = "/contracts") -> dict[str, int]:  # type: ignore[no-untyped-def]
    """The counts the three tabs of the HTML page show."""
    html = client.get(path).get_data(as_text=True)
    found = {}
    for label, key in (("Expired Contracts", "expired"), ("Expiring Contracts", "expiring")):
        match = re.search(re.escape(label) + r"\D{0,200}?([\d,]+)", html)
        assert match, f"no count next to {label}"
        found[key] = int(match.group(1).replace(",", ""))
    return found


def _expiring_contract(client) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    row = client.get("/contracts?tab=expiring&format=json&sort=contract_no").get_json()["rows"][0]
    return row["account_no"], row["contract_no"]


def test_a_count_from_before_a_refresh_is_not_shown_after_it(
    make_app, change_expiry_in_source, copied_demo
) -> None:
    bridge = copied_demo()
    client = make_app(bridge).test_client()
    sign_in(client, DEMO_SALESMAN_LOGIN)
    account, contract_no = _expiring_contract(client)
    before, tabs_before = _totals(client), _tab_counts(client)
    assert tabs_before == {"expired": before["expired"], "expiring": before["expiring"]}

    change_expiry_in_source(bridge, contract_no, dt.date(2020, 1, 31))
    assert _totals(client) == before  # BPO2 changed, the cache did not: the same counts

    page = f"/customers/{account}/contracts?tab=all"
    response = client.post(
        f"/customers/{account}/refresh", data={"csrf_token": page_token(client, page), "next": page}
    )
    assert response.status_code == 302

    after = _totals(client)
    assert after == {**before, "expired": before["expired"] + 1, "expiring": before["expiring"] - 1}
    assert _tab_counts(client) == {"expired": after["expired"], "expiring": after["expiring"]}
    customer = _totals(client, f"/customers/{account}/contracts")
    assert customer["expired"] >= 1


def test_a_count_from_before_a_full_sync_is_not_shown_after_it(
    make_app, change_expiry_in_source, copied_demo
) -> None:
    from bpo2_bridge.sync.full import full_sync

    bridge = copied_demo()
    client = make_app(bridge).test_client()
    sign_in(client, DEMO_SALESMAN_LOGIN)
    _, contract_no = _expiring_contract(client)
    before = _totals(client)
    change_expiry_in_source(bridge, contract_no, dt.date(2020, 1, 31))
    full_sync(bridge)
    after = _totals(client)
    assert after == {**before, "expired": before["expired"] + 1, "expiring": before["expiring"] - 1}


def test_a_refresh_that_changes_nothing_keeps_the_counts(make_app, copied_demo) -> None:
    bridge = copied_demo()
    client = make_app(bridge).test_client()
    sign_in(client, DEMO_SALESMAN_LOGIN)
    account, _ = _expiring_contract(client)
    before = _totals(client)
    page = f"/customers/{account}/contracts?tab=all"
    response = client.post(
        f"/customers/{account}/refresh", data={"csrf_token": page_token(client, page), "next": page}
    )
    assert response.status_code == 302
    assert "No changes." in client.get(page).get_data(as_text=True)
    assert _totals(client) == before
    run = history.recent(bridge.store, limit=1, kind="customer")[0]
    assert run["status"] == "ok" and not any(any(c.values()) for c in run["changes"].values())


def test_the_salesman_and_the_administrator_each_get_their_own_counts(make_app, copied_demo, login) -> None:
    bridge = copied_demo()
    salesman, admin = (make_app(bridge).test_client() for _ in range(2))
    login(salesman, DEMO_SALESMAN_LOGIN)
    login(admin, DEMO_ADMIN_LOGIN)
    mine, everyone = _totals(salesman), _totals(admin)
    assert mine["all"] < everyone["all"]
    assert _totals(salesman) == mine and _totals(admin) == everyone


def test_pages_and_tiles_follow_a_refresh_that_changes_data(
    make_app, change_expiry_in_source, copied_demo
) -> None:
    bridge = copied_demo()
    client = make_app(bridge).test_client()
    sign_in(client, DEMO_SALESMAN_LOGIN)
    account, contract_no = _expiring_contract(client)

    def expiring_tile() -> int:
        html = client.get("/").get_data(as_text=True)
        match = re.search(r'tile-expiring"[^>]*>\s*<span class="tile-value">([\d,]+)', html)
        assert match
        return int(match.group(1).replace(",", ""))

    def expiring_numbers() -> list[str]:
        body = client.get("/contracts?tab=expiring&format=json&sort=contract_no&page_size=200").get_json()
        return [row["contract_no"] for row in body["rows"]]

    tile, listed = expiring_tile(), expiring_numbers()
    assert contract_no in listed and expiring_tile() == tile and expiring_numbers() == listed
    change_expiry_in_source(bridge, contract_no, dt.date(2020, 1, 31))
    page = f"/customers/{account}/contracts?tab=all"
    client.post(f"/customers/{account}/refresh", data={"csrf_token": page_token(client, page), "next": page})
    assert expiring_tile() == tile - 1
    assert contract_no not in expiring_numbers()
