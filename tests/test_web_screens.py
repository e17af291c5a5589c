"""The CRM screens as a salesman sees them: Home, Customers, Dashboard, Contracts, Files, Cases."""

from __future__ import annotations

import datetime as dt
import itertools
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import MetaData, create_engine, select, text

from bpo2_bridge.demo.content import DEMO_SALESMAN_LOGIN
from bpo2_bridge.queries.windows import add_months
from bpo2_bridge.source.mapping import physical_table

TODAY = dt.date(2026, 11, 22)
NOT_YOURS = "Sorry, this is not one of your open cases and you cannot make changes."


def rows(bridge, sql: str, **params):  # type: ignore[no-untyped-def]
    with bridge.cache.connect() as conn:
        return [dict(r) for r in conn.execute(text(sql), params).mappings()]


def me(bridge) -> int:  # type: ignore[no-untyped-def]
    return rows(bridge, "SELECT employee_id FROM employee WHERE login_name = :l", l=DEMO_SALESMAN_LOGIN)[0][
        "employee_id"
    ]


def busiest_customer(bridge) -> str:  # type: ignore[no-untyped-def]
    """The salesman's customer with expired and expiring contracts and files (the manual's path)."""
    found = rows(
        bridge,
        """
        SELECT c.account_no FROM customer c
        JOIN customer_salesman cs ON cs.customer_id = c.customer_id AND cs.employee_id = :me
        WHERE EXISTS (SELECT 1 FROM contract k WHERE k.customer_id = c.customer_id
                        AND k.expiry_date < :today AND k.status != 'Cancelled')
          AND EXISTS (SELECT 1 FROM contract k WHERE k.customer_id = c.customer_id
                        AND k.expiry_date >= :today AND k.expiry_date <= :end AND k.status != 'Cancelled')
          AND EXISTS (SELECT 1 FROM case_attachment a WHERE a.customer_id = c.customer_id)
        ORDER BY c.account_no
        """,
        me=me(bridge),
        today=TODAY.isoformat(),
        end=add_months(TODAY, 6).isoformat(),
    )
    assert found, "the demo should give the salesman a customer with every kind of contract"
    return found[0]["account_no"]


def test_home_tiles_and_today_tab(demo_bridge, client, login) -> None:
    login(client, DEMO_SALESMAN_LOGIN)
    html = client.get("/").get_data(as_text=True)
    mine = rows(
        demo_bridge,
        "SELECT subject, case_id FROM activity WHERE salesman_id = :me AND scheduled_for >= :d AND scheduled_for < :e",
        me=me(demo_bridge),
        d=f"{TODAY} 00:00:00",
        e=f"{TODAY + dt.timedelta(days=1)} 00:00:00",
    )
    assert mine, "the demo schedules activities for the salesman today"
    today_panel = html.split('data-panel="today"', 1)[1].split('data-panel="recent"', 1)[0]
    assert today_panel.count('class="activity"') == len(mine)
    for row in mine:
        assert row["subject"] in today_panel
    visible = rows(
        demo_bridge, "SELECT COUNT(*) AS n FROM customer_salesman WHERE employee_id = :me", me=me(demo_bridge)
    )[0]["n"]
    assert re.search(
        rf'<span class="tile-value">{visible}</span>\s*<span class="tile-label">Customers</span>', html
    )
    assert today_panel.count('title="View customer"') == len(mine)
    assert today_panel.count('title="View case"') == sum(1 for r in mine if r["case_id"] is not None)


def test_other_salesmens_activities_are_greyed_without_icons(demo_bridge, client, login) -> None:
    login(client, DEMO_SALESMAN_LOGIN)
    html = client.get("/?tab=recent&who=all").get_data(as_text=True)
    others = re.findall(r'<tr class="activity other".*?</tr>', html, re.S)
    own = re.findall(r'<tr class="activity".*?</tr>', html, re.S)
    assert others and own
    assert all('class="action"' not in row for row in others)
    assert all("View customer" in row for row in own)
    # the recent panel is the one shown; links from it come back to it
    assert 'data-panel="recent">' in html
    assert "back=/?tab%3Drecent%26who%3Dall" in html


def test_contract_tabs_counts_and_months_remaining(demo_bridge, client, login) -> None:
    account = busiest_customer(demo_bridge)
    login(client, DEMO_SALESMAN_LOGIN)
    all_rows = client.get(f"/customers/{account}/contracts?tab=all&format=json&page_size=200").get_json()[
        "rows"
    ]
    expired = client.get(f"/customers/{account}/contracts?tab=expired&format=json&page_size=200").get_json()[
        "rows"
    ]
    expiring = client.get(
        f"/customers/{account}/contracts?tab=expiring&format=json&page_size=200"
    ).get_json()["rows"]
    cid = rows(demo_bridge, "SELECT customer_id FROM customer WHERE account_no = :a", a=account)[0][
        "customer_id"
    ]
    assert (
        len(all_rows)
        == rows(demo_bridge, "SELECT COUNT(*) AS n FROM contract WHERE customer_id = :c", c=cid)[0]["n"]
    )
    assert expired and all(r["months_remaining"] < 0 for r in expired)
    assert all(dt.date.fromisoformat(r["expiry_date"]) < TODAY for r in expired)
    window_end = add_months(TODAY, 6)
    assert expiring and all(TODAY <= dt.date.fromisoformat(r["expiry_date"]) <= window_end for r in expiring)
    assert all(r["months_remaining"] >= 0 for r in expiring)
    html = client.get(f"/customers/{account}/contracts?tab=expired").get_data(as_text=True)
    for label, n in (
        ("Contracts", len(all_rows)),
        ("Expired Contracts", len(expired)),
        ("Expiring Contracts", len(expiring)),
    ):
        assert re.search(rf'data-tab="\w+">{label} <span class="count">{n}</span>', html), label
    assert 'aria-selected="true" data-tab="expired"' in html
    assert html.count("negative") >= len(expired)
    assert "Contracts for " in html


@pytest.mark.parametrize(
    ("query", "keep"),
    [
        ("f_months_remaining=%3C0", lambda m, seen: m is not None and m < 0),
        ("f_months_remaining=0..2", lambda m, seen: m is not None and 0 <= m <= 2),
        ("f_months_remaining=!%3D{m}", lambda m, seen: m != seen),
        (
            "filter=months_remaining%20%3E%3D%203%20OR%20months_remaining%20%3D%20-1",
            lambda m, seen: m is not None and (m >= 3 or m == -1),
        ),
    ],
)
def test_months_remaining_filters_keep_the_rows_the_column_shows(
    demo_bridge, client, login, query, keep
) -> None:
    account = busiest_customer(demo_bridge)
    login(client, DEMO_SALESMAN_LOGIN)
    url = f"/customers/{account}/contracts?tab=all&format=json&page_size=200"
    every = client.get(url).get_json()["rows"]
    seen = next(r["months_remaining"] for r in every if r["months_remaining"] is not None)
    kept = client.get(f"{url}&{query.format(m=seen)}").get_json()["rows"]
    expected = {r["contract_no"] for r in every if keep(r["months_remaining"], seen)}
    assert expected and expected != {r["contract_no"] for r in every}  # the filter has work to do
    assert {r["contract_no"] for r in kept} == expected


@pytest.mark.parametrize(("q", "windows"), [("expir", {"expired", "expiring"}), ("CURRENT", {"current"})])
def test_search_finds_contracts_by_window(demo_bridge, client, login, q, windows) -> None:
    account = busiest_customer(demo_bridge)
    login(client, DEMO_SALESMAN_LOGIN)
    url = f"/customers/{account}/contracts?tab=all&format=json&page_size=200"
    every = client.get(url).get_json()["rows"]
    found = client.get(f"{url}&q={q}").get_json()["rows"]
    text_keys = ("contract_no", "account_no", "customer_name", "contract_type", "status", "window")
    expected = {
        r["contract_no"] for r in every if any(q.lower() in str(r.get(k) or "").lower() for k in text_keys)
    }
    assert {r["window"] for r in every if r["contract_no"] in expected} >= windows
    assert {r["contract_no"] for r in found} == expected


def test_a_months_filter_and_its_column_read_the_same_day(demo_bridge, client, login, monkeypatch) -> None:
    """A request that straddles midnight (here: a clock that moves on 40 days at every reading)
    filters on the same day's Months Remaining as the column it shows, and its tab badges count
    the rows its tab lists."""
    account = busiest_customer(demo_bridge)
    login(client, DEMO_SALESMAN_LOGIN)
    url = f"/customers/{account}/contracts?tab=all&format=json&page_size=200"
    every = client.get(url).get_json()["rows"]
    months = sorted({r["months_remaining"] for r in every if r["months_remaining"] is not None})
    days = itertools.cycle([TODAY, TODAY + dt.timedelta(days=40)])
    monkeypatch.setattr(type(demo_bridge.settings), "today_date", lambda _settings: next(days))
    answered = 0
    for m in months:  # the day read may be either: a value may have no rows on the later one
        kept = client.get(f"{url}&f_months_remaining={m}").get_json()["rows"]
        assert {r["months_remaining"] for r in kept} <= {m}
        answered += bool(kept)
    assert answered >= len(months) // 2 > 0
    for tab, label in (("expired", "Expired Contracts"), ("expiring", "Expiring Contracts")):
        html = client.get(f"/customers/{account}/contracts?tab={tab}&page_size=200").get_data(as_text=True)
        listed = html.split("<tbody>")[1].split("</tbody>")[0].count("<tr>")
        badge = re.search(rf'data-tab="{tab}">{label} <span class="count">(\d+)</span>', html)
        assert badge and int(badge.group(1)) == listed, tab


def test_contract_no_links_to_the_report_with_a_way_back(demo_bridge, client, login) -> None:
    account = busiest_customer(demo_bridge)
    login(client, DEMO_SALESMAN_LOGIN)
    url = f"/customers/{account}/contracts?tab=expired&sort=-expiry_date"
    html = client.get(url).get_data(as_text=True)
    link = re.search(r'href="(/contracts/[^/"]+/report\?[^"]+)"', html).group(1)
    back = parse_qs(urlsplit(link.replace("&amp;", "&")).query)["back"][0]
    assert back == url


def test_all_contracts_page_spans_the_users_customers(demo_bridge, client, login) -> None:
    login(client, DEMO_SALESMAN_LOGIN)
    data = client.get("/contracts?tab=expiring&format=json&page_size=200").get_json()
    expected = rows(
        demo_bridge,
        """SELECT COUNT(*) AS n FROM contract k
           JOIN customer_salesman cs ON cs.customer_id = k.customer_id AND cs.employee_id = :me
           WHERE k.expiry_date >= :t AND k.expiry_date <= :e AND k.status != 'Cancelled'""",
        me=me(demo_bridge),
        t=TODAY.isoformat(),
        e=add_months(TODAY, 6).isoformat(),
    )[0]["n"]
    assert data["total"] == expected
    assert {"contract_no", "account_no", "customer_name", "months_remaining"} <= set(data["rows"][0])


def test_customer_dashboard_shows_details_contacts_chart_and_tiles(demo_bridge, client, login) -> None:
    account = busiest_customer(demo_bridge)
    login(client, DEMO_SALESMAN_LOGIN)
    html = client.get(f"/customers/{account}?back=/customers%3Fq%3Dx").get_data(as_text=True)
    customer = rows(demo_bridge, "SELECT * FROM customer WHERE account_no = :a", a=account)[0]
    assert customer["customer_name"] in html
    contacts = rows(
        demo_bridge, "SELECT name FROM customer_contact WHERE customer_id = :c", c=customer["customer_id"]
    )
    assert all(c["name"] in html for c in contacts)
    assert "<svg" in html and "12 Months Sales History" in html
    assert 'href="/customers?q=x"' in html  # Back returns to the filtered grid
    assert f"/customers/{account}/contracts?tab=all" in html and f"/customers/{account}/files" in html


def test_dashboard_revenue_reconciles_with_invoice_lines(demo_bridge, client, login) -> None:
    account = busiest_customer(demo_bridge)
    login(client, DEMO_SALESMAN_LOGIN)
    html = client.get(f"/customers/{account}").get_data(as_text=True)
    total = rows(
        demo_bridge,
        """SELECT SUM(il.amount) AS s FROM invoice_line il JOIN contract k ON k.contract_id = il.contract_id
           JOIN customer c ON c.customer_id = k.customer_id
           WHERE c.account_no = :a AND il.invoice_date >= :since AND il.invoice_date <= :until""",
        a=account,
        # the 12 whole months before this one
        since="2025-11-01",
        until="2026-10-31",
    )[0]["s"]
    figures = re.findall(r'<td class="num">R ([\d ]+\.\d\d)</td>', html)
    assert len(figures) == 12
    assert abs(sum(float(f.replace(" ", "")) for f in figures) - float(total)) < 0.01


def test_files_list_download_and_case_information(demo_bridge, client, login) -> None:
    account = busiest_customer(demo_bridge)
    login(client, DEMO_SALESMAN_LOGIN)
    files = client.get(f"/customers/{account}/files?format=json&page_size=200").get_json()["rows"]
    cid = rows(demo_bridge, "SELECT customer_id FROM customer WHERE account_no = :a", a=account)[0][
        "customer_id"
    ]
    assert (
        len(files)
        == rows(demo_bridge, "SELECT COUNT(*) AS n FROM case_attachment WHERE customer_id = :c", c=cid)[0][
            "n"
        ]
    )
    html = client.get(f"/customers/{account}/files?sort=file_name").get_data(as_text=True)
    assert "Back to Previous Page" in html and "Back to Customer Page" in html
    case_link = re.search(r'href="(/cases/[^"?]+\?back=[^"]+)"', html).group(1).replace("&amp;", "&")
    assert parse_qs(urlsplit(case_link).query)["back"] == [f"/customers/{account}/files?sort=file_name"]
    case_page = client.get(case_link).get_data(as_text=True)
    assert f'href="/customers/{account}/files?sort=file_name"' in case_page


def test_download_streams_the_sources_bytes(demo_bridge, client, login) -> None:
    login(client, DEMO_SALESMAN_LOGIN)
    em = demo_bridge.mapping["case_attachment"]
    table = physical_table(em, MetaData())
    engine = create_engine(f"sqlite:///{demo_bridge.settings.demo_source_path}")
    with engine.connect() as conn:
        source_rows = [dict(r) for r in conn.execute(select(*(c.label(c.key) for c in table.c))).mappings()]
    engine.dispose()
    mine = {
        r["file_id"]
        for r in rows(
            demo_bridge,
            "SELECT a.file_id FROM case_attachment a JOIN customer_salesman cs ON cs.customer_id = a.customer_id "
            "WHERE cs.employee_id = :me",
            me=me(demo_bridge),
        )
    }
    with_bytes = [r for r in source_rows if r["file_id"] in mine and r["content"] is not None]
    on_share = [r for r in source_rows if r["file_id"] in mine and r["content"] is None and r["file_path"]]
    assert with_bytes and on_share, "the demo stores some files as bytes and some on the share"
    for row in (with_bytes[0], on_share[0]):
        response = client.get(f"/files/{row['file_id']}")
        assert response.status_code == 200
        expected = row["content"] or (demo_bridge.settings.share_path / row["file_path"]).read_bytes()
        assert response.data == expected
        assert response.mimetype == row["content_type"]
        assert row["file_name"] in response.headers["Content-Disposition"]
        assert response.headers["Content-Disposition"].startswith("attachment")


def test_downloads_share_one_compiled_statement(demo_bridge, client, login) -> None:
    """Every download asks BPO2 the same question. SQLAlchemy keeps one compiled statement per
    distinct question for the life of the engine, so a question built afresh for each download
    would leave one more entry behind per download: the server's memory would grow with use."""
    login(client, DEMO_SALESMAN_LOGIN)
    mine = [
        r["file_id"]
        for r in rows(
            demo_bridge,
            "SELECT a.file_id FROM case_attachment a JOIN customer_salesman cs ON cs.customer_id = a.customer_id "
            "WHERE cs.employee_id = :me ORDER BY a.file_id",
            me=me(demo_bridge),
        )
    ]
    assert len(mine) >= 6
    assert client.get(f"/files/{mine[0]}").status_code == 200
    compiled = demo_bridge.source._compiled_cache  # the engine's statement cache (an LRU)
    kept = len(compiled)
    for file_id in mine[1:6]:
        assert client.get(f"/files/{file_id}").status_code == 200
    assert len(compiled) == kept


def test_case_information_open_own_versus_closed(demo_bridge, client, login) -> None:
    login(client, DEMO_SALESMAN_LOGIN)
    cases = rows(
        demo_bridge,
        "SELECT case_no, subject, status FROM crm_case WHERE salesman_id = :me",
        me=me(demo_bridge),
    )
    open_case = next(c for c in cases if c["status"] == "Open")
    closed = next(c for c in cases if c["status"] != "Open")
    html = client.get(f"/cases/{open_case['case_no']}").get_data(as_text=True)
    assert open_case["subject"] in html and NOT_YOURS not in html
    html = client.get(f"/cases/{closed['case_no']}").get_data(as_text=True)
    assert NOT_YOURS in html and closed["subject"] not in html


def test_every_page_has_page_icon_breadcrumb_user_and_freshness(demo_bridge, client, login) -> None:
    account = busiest_customer(demo_bridge)
    login(client, DEMO_SALESMAN_LOGIN)
    for url in (
        "/",
        "/customers",
        f"/customers/{account}",
        f"/customers/{account}/contracts",
        "/contracts",
        f"/customers/{account}/files",
    ):
        html = client.get(url).get_data(as_text=True)
        assert 'class="page-icon" href="/"' in html, url
        assert 'class="breadcrumb"' in html
        assert "Ravi Naidoo" in html
        assert re.search(r'class="freshness freshness-ok"[^>]*>\s*Data as of \d\d:\d\d — ', html), url
