"""The weekly expiry digest: it arrives at a real SMTP server on loopback (aiosmtpd) with a
plain-text and an HTML part whose links open for the salesman, holds only his customers'
contracts, counts "since the last digest" from the application store, is logged, respects the
opt-out, sends nothing on a dry run, and is scheduled only while switched on."""

from __future__ import annotations

import datetime as dt
import re
from email.message import Message
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select, text

from bpo2_bridge.jobs import BY_NAME, next_runs
from bpo2_bridge.renewals import digest
from bpo2_bridge.renewals.desk import FLAGS
from bpo2_bridge.scheduler import start_scheduler
from bpo2_bridge.store import user_options
from bpo2_bridge.store.database import email_log

from .conftest import free_port
from .helpers import csrf_token
from .test_renewals import oracle_flags

SALESMAN, OTHER = "sales1", "sales2"
TODAY = dt.date(2026, 11, 22)  # the tests' pinned today
PUBLIC = "http://crm.test.local"
# flags some of the tiny demo's renewals (its margins are high)
FLAGGING = {"renewal_margin_below": 95, "renewal_trend_below": 10}


def visible_contracts(bridge: Any, login: str) -> list[dict[str, Any]]:
    """Every contract of the salesman's customers, read from the cache's entity tables."""
    with bridge.cache.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT DISTINCT ct.contract_no, ct.status, ct.expiry_date FROM contract ct"
                " JOIN customer_salesman cs ON cs.customer_id = ct.customer_id"
                " JOIN employee e ON e.employee_id = cs.employee_id"
                " WHERE e.login_name = :login"
            ),
            {"login": login},
        ).all()
    return [
        {
            "contract_no": r[0],
            "status": r[1],
            "expiry": dt.date.fromisoformat(str(r[2])[:10]) if r[2] else None,
        }
        for r in rows
    ]


def all_contract_nos(bridge: Any) -> set[str]:
    with bridge.cache.connect() as conn:
        return {r[0] for r in conn.execute(text("SELECT contract_no FROM contract"))}


def parts(msg: Message) -> dict[str, str]:
    out = {}
    for part in msg.walk():
        if part.get_content_maintype() == "text":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            out[part.get_content_type()] = payload.decode(part.get_content_charset() or "utf-8")
    return out


def linked_contracts(html: str) -> list[str]:
    return re.findall(r'href="[^"]*/contracts/([^"/]+)/report"', html)


def test_digest_arrives_with_both_parts_and_links_that_open_for_the_salesman(
    make_app, copied_demo, smtp_server, login
) -> None:
    controller, inbox = smtp_server
    bridge = copied_demo(smtp_host="127.0.0.1", smtp_port=controller.port, public_url=PUBLIC, **FLAGGING)

    outcomes = digest.send_digests(bridge, login=SALESMAN)

    assert [o.outcome for o in outcomes] == ["sent"]
    assert len(inbox.messages) == 1
    msg = inbox.messages[0]
    assert inbox.envelopes[0].rcpt_tos == ["sales1@copierdealer.co.za"]
    assert msg.get_content_type() == "multipart/alternative"
    body = parts(msg)
    assert set(body) == {"text/plain", "text/html"}
    links = linked_contracts(body["text/html"])
    assert links and outcomes[0].flagged > 0
    # every link is absolute under public_url, and in the plain text too
    hrefs = re.findall(r'href="([^"]+)"', body["text/html"])
    assert all(h.startswith(PUBLIC + "/") for h in hrefs)
    for contract_no in links:
        assert f"{PUBLIC}/contracts/{contract_no}/report" in body["text/plain"]
    # only the salesman's customers' contracts, though others expire in the same days
    mine = {c["contract_no"] for c in visible_contracts(bridge, SALESMAN)}
    assert set(links) <= mine
    assert all_contract_nos(bridge) - mine
    # the links open for him
    client = make_app(bridge).test_client()
    login(client, SALESMAN)
    for href in {h for h in hrefs if "/contracts/" in h}:
        assert client.get(urlsplit(href).path).status_code == 200, href
    # logged, and the last digest time kept in the store
    with bridge.store.connect() as conn:
        logged = conn.execute(select(email_log)).mappings().all()
    assert [(r["user_login"], r["contract_no"], r["outcome"]) for r in logged] == [
        (SALESMAN, "digest", "sent")
    ]
    assert logged[0]["to_addr"].endswith("<sales1@copierdealer.co.za>")
    assert user_options.last_digest(bridge.store, SALESMAN) is not None
    ops = make_app(bridge).test_client()
    login(ops, "ops")
    log_page = ops.get("/status/email-log").get_data(as_text=True)
    assert ">digest<" in log_page and "/contracts/digest/report" not in log_page


def test_sections_count_from_the_last_digest_kept_in_the_store(copied_demo) -> None:
    bridge = copied_demo(**FLAGGING)
    who = digest.recipient_for_login(bridge, SALESMAN)
    user_options.record_digest(bridge.store, SALESMAN, dt.datetime(2026, 11, 1, 7, 0))
    built = digest.build(bridge, who)
    mine = [
        c for c in visible_contracts(bridge, SALESMAN) if c["status"] not in bridge.settings.excluded_statuses
    ]
    # expired since 1 Nov: expiry 1..21 Nov; entered the 6-month window: after 1 May, up to 22 May
    expected_expired = {
        c["contract_no"]
        for c in mine
        if c["expiry"] and dt.date(2026, 11, 1) <= c["expiry"] <= dt.date(2026, 11, 21)
    }
    expected_entering = {
        c["contract_no"]
        for c in mine
        if c["expiry"] and dt.date(2027, 5, 2) <= c["expiry"] <= dt.date(2027, 5, 22)
    }
    assert expected_expired and expected_entering
    assert {c.contract_no for c in built.expired} == expected_expired
    assert {c.contract_no for c in built.entering} == expected_entering
    assert all(c.flags for c in built.flagged)
    assert all(TODAY <= c.expiry_date <= dt.date(2027, 5, 22) for c in built.flagged)

    # the cache rebuilt and the bridge started again: the same digest
    from bpo2_bridge.sync.full import full_sync

    full_sync(bridge)
    again = digest.build(type(bridge)(bridge.settings), who)
    assert again.since == dt.date(2026, 11, 1)
    assert {c.contract_no for c in again.expired} == expected_expired

    # a digest sent today: nothing is new any more
    user_options.record_digest(bridge.store, SALESMAN, dt.datetime(2026, 11, 22, 7, 0))
    after = digest.build(bridge, who)
    assert after.expired == [] and after.entering == []
    assert [c.contract_no for c in after.flagged] == [c.contract_no for c in built.flagged]


@pytest.mark.parametrize("thresholds", [FLAGGING, {"renewal_margin_below": 60, "renewal_trend_below": -5}])
def test_flagged_renewals_are_the_renewals_page_flagged_rows(
    make_app, copied_demo, login, thresholds
) -> None:  # type: ignore[no-untyped-def]
    """The digest's flagged renewals are the rows the Renewals page flags in the expiring window,
    with the same flags, each as its report says (test_renewals.oracle_flags)."""
    bridge = copied_demo(**thresholds)
    who = digest.recipient_for_login(bridge, SALESMAN)
    flagged = digest.build(bridge, who).flagged
    client = make_app(bridge).test_client()
    login(client, SALESMAN)
    body = client.get("/renewals?format=json&page_size=500").get_json()
    assert body["pages"] == 1
    keys = [key for key, _ in FLAGS]
    page = {r["contract_no"]: tuple(k for k in keys if r[k]) for r in body["rows"]}
    assert {c.contract_no: c.flags for c in flagged} == {no: f for no, f in page.items() if f}
    for c in flagged:
        report = client.get(f"/contracts/{c.contract_no}/report?format=json").get_json()
        expected = oracle_flags(report, bridge.settings, bridge.today())
        assert c.flags == tuple(k for k in keys if expected[k]), c.contract_no


def run_cli(runner: Any, bridge: Any, *args: str, **settings: Any) -> Any:
    """`bpo2-bridge <args>` on the bridge's data through a config file."""
    return runner.invoke(*args, bridge=bridge, **settings)


def test_dry_run_prints_and_sends_nothing(runner, copied_demo, smtp_server, tmp_path) -> None:
    controller, inbox = smtp_server
    bridge = copied_demo()
    result = run_cli(
        runner, bridge, "digest", "--dry-run", smtp_host="127.0.0.1", smtp_port=controller.port, **FLAGGING
    )
    assert result.exit_code == 0, result.output
    assert "== sales1 <sales1@copierdealer.co.za>: dry_run" in result.output
    assert "== sales2 <sales2@copierdealer.co.za>: dry_run" in result.output
    assert "nothing sent" in result.output
    assert re.search(r"/contracts/\S+/report", result.output)
    assert inbox.messages == []
    with bridge.store.connect() as conn:
        assert conn.execute(select(email_log)).all() == []
    assert user_options.last_digest(bridge.store, SALESMAN) is None
    # the same command without --dry-run sends
    sent = run_cli(
        runner, bridge, "digest", "--login", SALESMAN, smtp_host="127.0.0.1", smtp_port=controller.port
    )
    assert sent.exit_code == 0, sent.output
    assert len(inbox.messages) == 1


def test_cli_refuses_an_unknown_login_in_one_line(runner, copied_demo, tmp_path) -> None:
    result = run_cli(runner, copied_demo(), "digest", "--login", "nobody")
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == ["Error: no user 'nobody'"]


def test_opted_out_salesman_gets_no_digest(copied_demo, smtp_server) -> None:
    controller, inbox = smtp_server
    bridge = copied_demo(smtp_host="127.0.0.1", smtp_port=controller.port, **FLAGGING)
    user_options.set_digest_opt_out(bridge.store, SALESMAN, True)
    outcomes = {o.login: o.outcome for o in digest.send_digests(bridge)}
    # the scheduled run goes to salesmen only: the administrator sees every customer
    assert outcomes == {SALESMAN: "opted_out", OTHER: "sent"}
    assert [m["To"] for m in inbox.messages] == ["Pieter van der Merwe <sales2@copierdealer.co.za>"]
    # opting in again
    user_options.set_digest_opt_out(bridge.store, SALESMAN, False)
    assert [o.outcome for o in digest.send_digests(bridge, login=SALESMAN)] == ["sent"]


def test_job_sends_only_while_enabled_and_is_scheduled_on_its_day_and_time(copied_demo, smtp_server) -> None:
    controller, inbox = smtp_server
    off = copied_demo(smtp_host="127.0.0.1", smtp_port=controller.port, **FLAGGING)
    job = BY_NAME["expiry_digest"]
    assert not job.enabled(off.settings)
    assert job.func(off) == []
    assert inbox.messages == []
    assert "expiry_digest" not in next_runs(off.settings)
    scheduler = start_scheduler(off, background=True, jobs=(job,))
    try:
        assert scheduler.get_job("expiry_digest") is None
    finally:
        scheduler.shutdown(wait=False)

    on = copied_demo(
        smtp_host="127.0.0.1",
        smtp_port=controller.port,
        digest_enabled=True,
        digest_day="wednesday",
        digest_time="06:45",
        **FLAGGING,
    )
    assert {o.outcome for o in job.func(on)} == {"sent"}
    assert len(inbox.messages) == 2
    now = dt.datetime(2026, 11, 22, 10, 0, tzinfo=on.settings.tz)  # a Sunday
    assert next_runs(on.settings, now=now)["expiry_digest"].replace(tzinfo=None) == dt.datetime(
        2026, 11, 25, 6, 45
    )
    scheduler = start_scheduler(on, background=True, jobs=(job,))
    try:
        scheduled = scheduler.get_job("expiry_digest")
        assert scheduled is not None
        fire = scheduled.next_run_time.astimezone(on.settings.tz)
        assert (fire.strftime("%A"), fire.hour, fire.minute) == ("Wednesday", 6, 45)
    finally:
        scheduler.shutdown(wait=False)


def test_preview_shows_the_users_own_digest(make_app, copied_demo, login) -> None:
    bridge = copied_demo(**FLAGGING)
    client = make_app(bridge).test_client()
    assert client.get("/digest").status_code == 302  # signed-in users only
    login(client, SALESMAN)
    page = client.get("/digest")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    shown = set(linked_contracts(html))
    built = digest.build(bridge, digest.recipient_for_login(bridge, SALESMAN))
    expected = {c.contract_no for c in built.expired + built.entering + built.flagged}
    assert shown == expected and shown
    assert shown <= {c["contract_no"] for c in visible_contracts(bridge, SALESMAN)}
    for contract_no in shown:  # the preview's links open here
        assert client.get(f"/contracts/{contract_no}/report").status_code == 200


def test_my_settings_saves_the_opt_out_with_a_form_token(make_app, copied_demo, login) -> None:
    bridge = copied_demo()
    client = make_app(bridge).test_client()
    login(client, SALESMAN)
    page = client.get("/me/settings").get_data(as_text=True)
    assert 'name="digest" id="digest" checked' in page
    assert client.post("/me/settings", data={}).status_code == 400  # no form token
    assert not user_options.digest_opted_out(bridge.store, SALESMAN)
    answer = client.post("/me/settings", data={"csrf_token": csrf_token(page)}, follow_redirects=True)
    assert answer.status_code == 200
    assert "will not receive" in answer.get_data(as_text=True)
    assert user_options.digest_opted_out(bridge.store, SALESMAN)
    assert not user_options.digest_opted_out(bridge.store, OTHER)


def test_digest_and_feed_read_a_postgresql_cache_alike(copied_demo, fresh_database) -> None:
    from bpo2_bridge.renewals import calendar as calendar_feed
    from bpo2_bridge.sync.full import full_sync

    def lists(bridge: Any) -> tuple[Any, ...]:
        who = digest.recipient_for_login(bridge, SALESMAN)
        user_options.record_digest(bridge.store, SALESMAN, dt.datetime(2026, 11, 1, 7, 0))
        built = digest.build(bridge, who)
        feed = calendar_feed.feed(bridge, who, "x").decode()
        return (
            [(c.contract_no, c.expiry_date, c.flags, c.margin_12m, c.volume_trend) for c in built.expired],
            [(c.contract_no, c.expiry_date, c.flags) for c in built.entering],
            [(c.contract_no, c.expiry_date, c.flags) for c in built.flagged],
            sorted(re.findall(r"UID:(\S+)", feed)),
        )

    on_sqlite = lists(copied_demo(**FLAGGING))
    url = fresh_database("postgresql").render_as_string(hide_password=False)
    on_postgresql = copied_demo(cache_url=url, **FLAGGING)
    full_sync(on_postgresql)
    assert lists(on_postgresql) == on_sqlite
    assert all(on_sqlite)


def test_failed_send_is_logged_and_the_next_run_covers_the_same_days(copied_demo) -> None:
    bridge = copied_demo(smtp_host="127.0.0.1", smtp_port=free_port(), smtp_timeout=5, **FLAGGING)
    user_options.record_digest(bridge.store, SALESMAN, dt.datetime(2026, 11, 1, 7, 0))
    outcomes = digest.send_digests(bridge, login=SALESMAN)
    assert [o.outcome for o in outcomes] == ["failed"]
    assert "could not be reached" in outcomes[0].detail
    with bridge.store.connect() as conn:
        logged = conn.execute(select(email_log)).mappings().all()
    assert [(r["contract_no"], r["outcome"]) for r in logged] == [("digest", "failed")]
    assert logged[0]["error"]
    assert user_options.last_digest(bridge.store, SALESMAN) == dt.datetime(2026, 11, 1, 7, 0)
