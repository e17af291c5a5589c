"""The Refresh button: a change made in BPO2 shows after pressing it; BPO2 down keeps the cache."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import MetaData, create_engine, text, update

from bpo2_bridge.demo.content import DEMO_SALESMAN_LOGIN
from bpo2_bridge.source.mapping import physical_table

from .helpers import page_token, sign_in


def first_contract(bridge, client) -> tuple[str, dict]:  # type: ignore[no-untyped-def]
    data = client.get("/contracts?format=json&tab=all&sort=contract_no").get_json()
    row = data["rows"][0]
    account = client.get(f"/contracts?format=json&f_contract_no=={row['contract_no']}").get_json()["rows"][0][
        "account_no"
    ]
    return account, row


def changed_in_bpo2(make_app, change_expiry_in_source, copied_demo):  # type: ignore[no-untyped-def]
    """A salesman signed in, his first contract's expiry changed in BPO2 to 2020-01-31 (not yet
    in the cache): (bridge, client, account no, the contract's cached row, its customer's page)."""
    bridge = copied_demo()
    client = make_app(bridge).test_client()
    sign_in(client, DEMO_SALESMAN_LOGIN)
    account, row = first_contract(bridge, client)
    page = f"/customers/{account}/contracts?tab=all&sort=contract_no"
    change_expiry_in_source(bridge, row["contract_no"], dt.date(2020, 1, 31))
    return bridge, client, account, row, page


def test_refresh_shows_a_change_made_in_bpo2(make_app, change_expiry_in_source, copied_demo) -> None:
    _, client, account, row, page = changed_in_bpo2(make_app, change_expiry_in_source, copied_demo)
    before = client.get(page + "&format=json").get_json()["rows"]
    assert (
        next(r for r in before if r["contract_no"] == row["contract_no"])["expiry_date"] == row["expiry_date"]
    )

    response = client.post(
        f"/customers/{account}/refresh", data={"csrf_token": page_token(client, page), "next": page}
    )
    assert response.status_code == 302 and response.headers["Location"] == page
    html = client.get(page).get_data(as_text=True)
    named = f"{row['contract_no']}: Expiry Date {row['expiry_date'] or '—'} → 2020-01-31"
    assert re.search(r"Refreshed from BPO2 at \d\d:\d\d\. Changed: " + re.escape(named), html)
    after = client.get(page + "&format=json").get_json()["rows"]
    changed = next(r for r in after if r["contract_no"] == row["contract_no"])
    assert changed["expiry_date"] == "2020-01-31" and changed["months_remaining"] < 0


def test_refresh_with_bpo2_unreachable_keeps_showing_the_cache(make_app, copied_demo, tmp_path) -> None:
    bridge = copied_demo(source_url=f"sqlite:///{tmp_path / 'gone' / 'bpo2.sqlite'}")
    client = make_app(bridge).test_client()
    sign_in(client, DEMO_SALESMAN_LOGIN)
    account, _ = first_contract(bridge, client)
    page = f"/customers/{account}/contracts?tab=expired"
    rows_before = client.get(page + "&format=json").get_json()["rows"]
    client.post(f"/customers/{account}/refresh", data={"csrf_token": page_token(client, page), "next": page})
    html = client.get(page).get_data(as_text=True)
    as_of = bridge.cache.as_of()
    assert f"BPO2 is unreachable — showing data as of {as_of:%Y-%m-%d %H:%M}." in html
    assert client.get(page + "&format=json").get_json()["rows"] == rows_before


def test_download_when_bpo2_is_unreachable_is_a_clear_503(make_app, copied_demo, tmp_path) -> None:
    bridge = copied_demo(source_url=f"sqlite:///{tmp_path / 'gone' / 'bpo2.sqlite'}")
    client = make_app(bridge).test_client()
    sign_in(client, DEMO_SALESMAN_LOGIN)
    account, _ = first_contract(bridge, client)
    with bridge.cache.connect() as conn:
        file_id = conn.execute(
            text(
                "SELECT a.file_id FROM case_attachment a JOIN customer c ON c.customer_id = a.customer_id "
                "WHERE c.account_no = :a"
            ),
            {"a": account},
        ).scalar()
    assert file_id is not None
    response = client.get(f"/files/{file_id}")
    assert response.status_code == 503
    assert "BPO2 is unreachable" in response.get_data(as_text=True)


def test_share_paths_outside_the_root_are_refused(tmp_path) -> None:
    from bpo2_bridge.source.attachments import AttachmentMissing, share_file

    root = tmp_path / "share"
    (root / "2026").mkdir(parents=True)
    (root / "2026" / "ok.txt").write_text("fine")
    outside = tmp_path / "secret.txt"
    outside.write_text("secret")
    (root / "link.txt").symlink_to(outside)
    assert share_file(root, "2026/ok.txt").read_text() == "fine"
    assert share_file(root, "2026\\ok.txt").read_text() == "fine"  # Windows separators in BPO2
    for bad in ("../secret.txt", "2026/../../secret.txt", "link.txt", str(outside), "", "2026"):
        try:
            share_file(root, bad)
        except AttachmentMissing:
            continue
        raise AssertionError(f"{bad!r} was served")


def test_a_number_changed_in_bpo2_is_found_by_search_after_refresh(make_app, copied_demo) -> None:
    """Refresh rewrites the serving snapshot in place; the contract-number search (read through
    the snapshot's trigram index) finds the new number and no longer the old one."""
    bridge = copied_demo()
    client = make_app(bridge).test_client()
    sign_in(client, DEMO_SALESMAN_LOGIN)
    account, row = first_contract(bridge, client)
    old, new = row["contract_no"], "ZQX-" + row["contract_no"][-6:]
    table = physical_table(bridge.mapping["contract"], MetaData())
    engine = create_engine(f"sqlite:///{bridge.settings.demo_source_path}")
    with engine.begin() as conn:
        conn.execute(update(table).where(table.c.contract_no == old).values(contract_no=new))
    engine.dispose()

    def found(term: str) -> list[str]:
        rows = client.get(f"/contracts?format=json&tab=all&q={term}").get_json()["rows"]
        return [r["contract_no"] for r in rows]

    assert old in found(old) and found("zqx-") == []
    page = f"/customers/{account}/contracts?tab=all"
    client.post(f"/customers/{account}/refresh", data={"csrf_token": page_token(client, page), "next": page})
    assert found("zqx-") == [new]
    assert old not in found(old)


def test_refresh_while_another_write_holds_the_cache_says_so(
    make_app, change_expiry_in_source, copied_demo, monkeypatch
) -> None:
    """A Refresh that cannot get the snapshot's write lock in time changes nothing and says
    why: a message on the page, 503 for JSON; no error page. The next one goes through."""
    import sqlite3

    from bpo2_bridge.cache import engines

    monkeypatch.setattr(engines, "WRITE_WAIT_SECONDS", 0.2)
    bridge, client, account, row, page = changed_in_bpo2(make_app, change_expiry_in_source, copied_demo)
    token = page_token(client, page)
    other = sqlite3.connect(bridge.cache.path(bridge.cache.current()), isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # an incremental sync writing
        answer = client.post(f"/customers/{account}/refresh", data={"csrf_token": token, "next": page})
        assert answer.status_code == 302
        html = client.get(page).get_data(as_text=True)
        assert "Not refreshed: Another update is writing the cache; try again in a minute." in html
        as_json = client.post(
            f"/customers/{account}/refresh",
            data={"csrf_token": token},
            headers={"Accept": "application/json"},
        )
        assert as_json.status_code == 503
        assert as_json.get_json()["error"] == "Another update is writing the cache; try again in a minute."
        rows = client.get(page + "&format=json").get_json()["rows"]
        assert (
            next(r for r in rows if r["contract_no"] == row["contract_no"])["expiry_date"]
            == row["expiry_date"]
        )
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert (
        client.post(f"/customers/{account}/refresh", data={"csrf_token": token, "next": page}).status_code
        == 302
    )
    rows = client.get(page + "&format=json").get_json()["rows"]
    assert next(r for r in rows if r["contract_no"] == row["contract_no"])["expiry_date"] == "2020-01-31"
