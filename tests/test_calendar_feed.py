"""The calendar feed (RFC 5545), read back with the icalendar parser: one all-day event per
visible contract expiring within the horizon, stable UIDs, a reminder, excluded statuses left
out; the secret link is made, replaced and revoked on My calendar, and only its hash is kept."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from icalendar import Calendar
from sqlalchemy import select, text

from bpo2_bridge.queries.windows import add_months
from bpo2_bridge.store import user_options
from bpo2_bridge.store.database import user_options as options_table
from bpo2_bridge.store.users import remove_user

from .helpers import csrf_token

SALESMAN, OTHER = "sales1", "sales2"
TODAY = dt.date(2026, 11, 22)


def new_link(client: Any) -> str:
    """Make a calendar link on My calendar as the signed-in user; the path it shows."""
    page = client.get("/me/calendar").get_data(as_text=True)
    answer = client.post("/me/calendar/new", data={"csrf_token": csrf_token(page)})
    assert answer.status_code == 200
    match = re.search(r'id="feed-url" class="feed-url" value="([^"]+)"', answer.get_data(as_text=True))
    assert match, "the new link is shown"
    url = match.group(1)
    # under public_url when set, else as the request reached the bridge
    match = re.fullmatch(r"(https?://[^/]+)(/calendar/[A-Za-z0-9_-]{43}\.ics)", url)
    assert match, url
    assert match.group(1) == (
        client.application.extensions["bpo2_bridge"].settings.public_url or "http://localhost"
    )
    return match.group(2)


def expected(bridge: Any, login: str, months: int) -> set[str]:
    """Contract numbers of the salesman's customers expiring from today to the horizon, status
    not excluded, read from the cache's entity tables."""
    with bridge.cache.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT DISTINCT ct.contract_no, ct.status, ct.expiry_date FROM contract ct"
                " JOIN customer_salesman cs ON cs.customer_id = ct.customer_id"
                " JOIN employee e ON e.employee_id = cs.employee_id"
                " WHERE e.login_name = :login AND ct.expiry_date IS NOT NULL"
            ),
            {"login": login},
        ).all()
    last = add_months(TODAY, months)
    return {
        r[0]
        for r in rows
        if r[1] not in bridge.settings.excluded_statuses
        and TODAY <= dt.date.fromisoformat(str(r[2])[:10]) <= last
    }


def events(body: bytes) -> list[Any]:
    calendar = Calendar.from_ical(body)
    assert str(calendar["VERSION"]) == "2.0" and calendar["PRODID"]
    return list(calendar.walk("VEVENT"))


def contract_of(event: Any) -> str:
    match = re.search(r"/contracts/([^/]+)/report$", str(event["URL"]))
    assert match
    return match.group(1)


def test_feed_parses_with_one_all_day_event_per_visible_contract(make_app, copied_demo, login) -> None:
    bridge = copied_demo(public_url="https://crm.example.local", calendar_alarm_days=21)
    client = make_app(bridge).test_client()
    login(client, SALESMAN)
    path = new_link(client)

    anonymous = make_app(bridge).test_client()  # no session: the token is the key
    first = anonymous.get(path)
    assert first.status_code == 200
    assert first.mimetype == "text/calendar"
    found = events(first.data)
    assert {contract_of(e) for e in found} == expected(bridge, SALESMAN, 12)
    assert len(found) == len({contract_of(e) for e in found})  # one event per contract
    for event in found:
        start = event.decoded("DTSTART")
        assert isinstance(start, dt.date) and not isinstance(start, dt.datetime)  # all day
        assert event.decoded("DTEND") == start + dt.timedelta(days=1)
        assert str(event["URL"]).startswith("https://crm.example.local/contracts/")
        assert contract_of(event) in str(event["SUMMARY"])
        alarms = event.walk("VALARM")
        assert len(alarms) == 1
        assert str(alarms[0]["ACTION"]) == "DISPLAY"
        assert alarms[0].decoded("TRIGGER") == -dt.timedelta(days=21)

    # fetched again: the same UID for each contract, so calendars update instead of duplicating
    second = events(anonymous.get(path).data)
    assert {contract_of(e): str(e["UID"]) for e in second} == {contract_of(e): str(e["UID"]) for e in found}
    assert len({str(e["UID"]) for e in found}) == len(found)

    # the report the event links to opens for the salesman
    some = contract_of(found[0])
    assert client.get(f"/contracts/{some}/report").status_code == 200


def test_a_token_never_shows_another_salesmans_contracts(make_app, copied_demo, login) -> None:
    bridge = copied_demo()
    app = make_app(bridge)
    mine, theirs = app.test_client(), app.test_client()
    login(mine, SALESMAN)
    login(theirs, OTHER)
    my_feed = {contract_of(e) for e in events(app.test_client().get(new_link(mine)).data)}
    their_feed = {contract_of(e) for e in events(app.test_client().get(new_link(theirs)).data)}
    assert my_feed == expected(bridge, SALESMAN, 12)
    assert their_feed == expected(bridge, OTHER, 12)
    assert my_feed - their_feed and their_feed - my_feed  # each has contracts the other may not see


def test_horizon_and_excluded_statuses(make_app, copied_demo, login) -> None:
    bridge = copied_demo(calendar_horizon_months=3, excluded_statuses=["Cancelled", "New"])
    client = make_app(bridge).test_client()
    login(client, SALESMAN)
    found = events(make_app(bridge).test_client().get(new_link(client)).data)
    shown = {contract_of(e) for e in found}
    assert shown == expected(bridge, SALESMAN, 3)
    assert all(TODAY <= e.decoded("DTSTART") <= add_months(TODAY, 3) for e in found)
    with bridge.cache.connect() as conn:
        new_ones = {r[0] for r in conn.execute(text("SELECT contract_no FROM contract WHERE status = 'New'"))}
    assert new_ones and not shown & new_ones
    assert expected(bridge, SALESMAN, 12) - shown  # the horizon left later ones out


def test_new_link_replaces_the_old_revoked_and_unknown_ones_are_404(make_app, copied_demo, login) -> None:
    bridge = copied_demo()
    client = make_app(bridge).test_client()
    login(client, SALESMAN)
    feed = make_app(bridge).test_client()
    old = new_link(client)
    assert feed.get(old).status_code == 200
    new = new_link(client)
    assert new != old
    assert feed.get(old).status_code == 404
    assert feed.get(new).status_code == 200
    # only the hash is stored
    token = new.removeprefix("/calendar/").removesuffix(".ics")
    with bridge.store.connect() as conn:
        stored = conn.execute(select(options_table)).mappings().all()
    assert all(token not in str(dict(row)) for row in stored)
    assert user_options.login_for_token(bridge.store, token) == SALESMAN
    # revoked
    page = client.get("/me/calendar").get_data(as_text=True)
    assert "You have a calendar link" in page
    assert client.post("/me/calendar/revoke", data={"csrf_token": csrf_token(page)}).status_code == 302
    assert feed.get(new).status_code == 404
    assert "You have no calendar link" in client.get("/me/calendar").get_data(as_text=True)
    # unknown and malformed tokens
    assert feed.get("/calendar/" + "A" * 43 + ".ics").status_code == 404
    assert feed.get("/calendar/nope.ics").status_code == 404
    # making a link needs the form token
    assert client.post("/me/calendar/new", data={}).status_code == 400


def test_header_sign_in_user_without_an_account_gets_his_feed(make_app, copied_demo) -> None:
    """In header mode a BPO2 salesman signs in without an account in the store; his link works."""
    bridge = copied_demo(auth_mode="header", trusted_proxies=["127.0.0.1"])
    client = make_app(bridge).test_client()
    client.environ_base["HTTP_X_REMOTE_USER"] = "CORP\\" + OTHER.upper()
    remove_user(bridge.store, OTHER)  # no account: the header alone signs him in
    path = new_link(client)
    found = events(make_app(bridge).test_client().get(path).data)
    assert {contract_of(e) for e in found} == expected(bridge, OTHER, 12)


def test_removing_the_account_kills_its_link_even_when_the_login_comes_back(
    make_app, copied_demo, login
) -> None:
    from bpo2_bridge.store.users import add_user

    bridge = copied_demo()
    client = make_app(bridge).test_client()
    login(client, SALESMAN)
    path = new_link(client)
    feed = make_app(bridge).test_client()
    assert feed.get(path).status_code == 200
    remove_user(bridge.store, SALESMAN)
    assert feed.get(path).status_code == 404
    add_user(bridge.store, SALESMAN, "another-pass-1", "user", SALESMAN)
    assert feed.get(path).status_code == 404
