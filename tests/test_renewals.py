"""/renewals: the contracts a user may see expiring within a horizon, soonest first, with the
profitability columns and four flags. Every flag is checked against an oracle computed from the
Contract Performance report's JSON (``/contracts/<no>/report?format=json``) of each contract,
and the list against what each user may see, on a copy of the tiny demo."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from typing import Any

import openpyxl
import pytest
from sqlalchemy import MetaData, create_engine, delete, select, text

from bpo2_bridge.demo.content import DEMO_ADMIN_LOGIN, DEMO_OTHER_SALESMAN_LOGIN, DEMO_SALESMAN_LOGIN
from bpo2_bridge.queries.windows import add_months
from bpo2_bridge.report.figures import trend_periods
from bpo2_bridge.source.mapping import physical_table
from bpo2_bridge.sync import full_sync
from bpo2_bridge.views.renewals import RENEWALS

FLAGS = ("unprofitable", "volume_falling", "no_recent_billing", "cost_rising")
# thresholds that split the tiny demo (its margins run from about 40 % to 100 %)
OVERRIDES = {
    "renewal_margin_below": 90,
    "renewal_trend_below": 40,
    "renewal_cost_rising_percent": 10,
}


def _stop_billing(bridge: Any, contract_nos: list[str], since: dt.date) -> None:
    """BPO2 billed these contracts nothing since ``since`` (their later invoice lines deleted
    from the demo source)."""
    metadata = MetaData()
    lines = physical_table(bridge.mapping["invoice_line"], metadata)
    contracts = physical_table(bridge.mapping["contract"], metadata)
    engine = create_engine(f"sqlite:///{bridge.settings.demo_source_path}")
    with engine.begin() as conn:
        ids = select(contracts.c.contract_id).where(contracts.c.contract_no.in_(contract_nos))
        conn.execute(delete(lines).where(lines.c.contract_id.in_(ids), lines.c.invoice_date >= since))
    engine.dispose()


@pytest.fixture
def renewal_bridge(copied_demo):  # type: ignore[no-untyped-def]
    """The tiny demo with thresholds that split it, and two contracts expiring within the year
    that were not billed for the last two months (every other one was)."""
    bridge = copied_demo(**OVERRIDES)
    soonest = sorted(
        _expected(bridge, DEMO_ADMIN_LOGIN, 12),
        key=lambda no: _visible(bridge, DEMO_ADMIN_LOGIN)[no]["expiry"],
    )
    _stop_billing(bridge, soonest[1:3], add_months(bridge.today().replace(day=1), -1))
    full_sync(bridge)
    return bridge


@pytest.fixture
def renewal_client(make_app, renewal_bridge):  # type: ignore[no-untyped-def]
    return make_app(renewal_bridge).test_client()


def _visible(bridge: Any, login: str) -> dict[str, dict[str, Any]]:
    """The contracts (by number) with their expiry and status that ``login`` may see."""
    sql = """
        SELECT k.contract_no, k.expiry_date, k.status FROM contract_row k
        WHERE :admin = 1 OR k.customer_id IN (
            SELECT cs.customer_id FROM customer_salesman cs
            JOIN employee e ON e.employee_id = cs.employee_id WHERE e.login_name = :login)
    """
    with bridge.cache.connect() as conn:
        rows = conn.execute(text(sql), {"admin": int(login == DEMO_ADMIN_LOGIN), "login": login}).all()
    return {
        no: {"expiry": dt.date.fromisoformat(str(expiry)) if expiry else None, "status": status}
        for no, expiry, status in rows
    }


def _expected(bridge: Any, login: str, horizon: int) -> set[str]:
    today = bridge.today()
    end = add_months(today, horizon)
    excluded = set(bridge.settings.excluded_statuses)
    return {
        no
        for no, c in _visible(bridge, login).items()
        if c["expiry"] is not None and today <= c["expiry"] <= end and c["status"] not in excluded
    }


def _d(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def oracle_flags(report: dict[str, Any], settings: Any, today: dt.date) -> dict[str, bool]:
    """The four flags of one contract from its report JSON alone."""
    last = report["last_12m"]
    margin, trend, per_copy = _d(last["margin"]), _d(last["volume_trend"]), _d(last["cost_per_copy"])
    this_month = today.replace(day=1)
    recent_billing = add_months(this_month, -1).strftime("%Y-%m")
    _, recent_from, _ = trend_periods(today)
    recent_months = {add_months(recent_from, i).strftime("%Y-%m") for i in range(3)}
    billed = [m for m in report["months"] if m["revenue_total"] or m["volume_total"]]
    recent = [m for m in report["months"] if m["month"] in recent_months]
    cost = sum((Decimal(str(m["cost_total"])) for m in recent), Decimal(0))
    volume = sum(m["volume_total"] for m in recent)
    per_copy_3m = (cost / volume).quantize(Decimal("0.0001")) if volume else None
    rising = Decimal(100 + settings.renewal_cost_rising_percent) / 100
    return {
        "unprofitable": margin is not None and margin < settings.renewal_margin_below,
        "volume_falling": trend is not None and trend < settings.renewal_trend_below,
        "no_recent_billing": not any(m["month"] >= recent_billing for m in billed),
        "cost_rising": per_copy_3m is not None and per_copy is not None and per_copy_3m > per_copy * rising,
    }


def _rows(client: Any, query: str = "") -> list[dict[str, Any]]:
    body = client.get(f"/renewals?format=json&page_size=500&{query}").get_json()
    assert body["pages"] == 1
    return list(body["rows"])


def test_flags_equal_the_oracle_from_each_contracts_report(renewal_bridge, renewal_client, login) -> None:  # type: ignore[no-untyped-def]
    client, bridge = renewal_client, renewal_bridge
    login(client, DEMO_ADMIN_LOGIN)
    today, settings = bridge.today(), bridge.settings
    rows = _rows(client, "horizon=12")
    assert {r["contract_no"] for r in rows} == _expected(bridge, DEMO_ADMIN_LOGIN, 12)
    expected: dict[str, dict[str, bool]] = {}
    for row in rows:
        report = client.get(f"/contracts/{row['contract_no']}/report?format=json").get_json()
        expected[row["contract_no"]] = oracle_flags(report, settings, today)
        assert {k: row[k] for k in FLAGS} == expected[row["contract_no"]], row["contract_no"]
        # the profitability columns are the report's last 12 months
        assert _d(row["margin_12m"]) == _d(report["last_12m"]["margin"])
        assert _d(row["volume_trend"]) == _d(report["last_12m"]["volume_trend"])
    for flag in FLAGS:
        flagged = {no for no, flags in expected.items() if flags[flag]}
        assert flagged and len(flagged) < len(expected), f"the demo splits on {flag}"
        # each flag is a filter
        assert {r["contract_no"] for r in _rows(client, f"horizon=12&f_{flag}=yes")} == flagged, flag

    # the counts at the top, each a link filtering on its flag
    html = client.get("/renewals?horizon=12").get_data(as_text=True)
    for flag in FLAGS:
        count = sum(flags[flag] for flags in expected.values())
        assert (
            f'data-flag="{flag}" href="/renewals?horizon=12&amp;f_{flag}=yes"><span class="tile-value">{count}<'
        ) in html, flag


def test_horizon_soonest_first_and_the_default_is_the_expiring_window(
    renewal_bridge, renewal_client, login
) -> None:  # type: ignore[no-untyped-def]
    client, bridge = renewal_client, renewal_bridge
    login(client, DEMO_ADMIN_LOGIN)
    sizes = {}
    for horizon in (3, 6, 12):
        rows = _rows(client, f"horizon={horizon}")
        assert {r["contract_no"] for r in rows} == _expected(bridge, DEMO_ADMIN_LOGIN, horizon)
        expiries = [r["expiry_date"] for r in rows]
        assert expiries == sorted(expiries)
        sizes[horizon] = len(rows)
    assert 0 < sizes[3] < sizes[12]
    window = bridge.settings.expiring_window_months
    assert {r["contract_no"] for r in _rows(client)} == _expected(bridge, DEMO_ADMIN_LOGIN, window)
    for bad in ("7", "x", "-3", "²", "06", "١٢"):  # digits that are not ASCII ones as well
        response = client.get(f"/renewals?horizon={bad}&format=json")
        assert response.status_code == 400 and "horizon" in response.get_json()["error"], bad


def test_a_salesman_sees_only_his_customers_renewals(make_app, renewal_bridge, login) -> None:  # type: ignore[no-untyped-def]
    bridge, app = renewal_bridge, make_app(renewal_bridge)
    seen = {}
    for who in (DEMO_SALESMAN_LOGIN, DEMO_OTHER_SALESMAN_LOGIN, DEMO_ADMIN_LOGIN):
        client = app.test_client()
        login(client, who)
        got = {r["contract_no"] for r in _rows(client, "horizon=12")}
        assert got == _expected(bridge, who, 12), who
        assert got <= set(_visible(bridge, who)), who
        seen[who] = got
        csv_rows = list(
            csv.DictReader(
                io.StringIO(client.get("/renewals?horizon=12&format=csv").get_data().decode("utf-8-sig"))
            )
        )
        assert {r["Contract No"] for r in csv_rows} == got, who
    assert seen[DEMO_SALESMAN_LOGIN] and seen[DEMO_SALESMAN_LOGIN] < seen[DEMO_ADMIN_LOGIN]
    assert seen[DEMO_SALESMAN_LOGIN] != seen[DEMO_OTHER_SALESMAN_LOGIN]
    others_only = seen[DEMO_OTHER_SALESMAN_LOGIN] - set(_visible(bridge, DEMO_SALESMAN_LOGIN))
    assert others_only, "the other salesman has renewals the first may not see"


def test_json_csv_and_xlsx_carry_the_columns_and_flags(renewal_client, login) -> None:  # type: ignore[no-untyped-def]
    client = renewal_client
    login(client, DEMO_ADMIN_LOGIN)
    keys = [
        "contract_no", "account_no", "customer_name", "contract_type", "status", "expiry_date",
        "months_remaining", "revenue_12m", "cost_12m", "gross_profit_12m", "margin_12m", "volume_12m",
        "cost_per_copy_12m", "volume_trend", "last_billed", "cost_per_copy_3m", *FLAGS,
    ]  # fmt: skip
    rows = _rows(client, "horizon=12")
    assert rows and all(list(r) == keys for r in rows)
    table = list(
        csv.reader(io.StringIO(client.get("/renewals?horizon=12&format=csv").get_data().decode("utf-8-sig")))
    )
    # the CSV's header row is the column labels, as the XLSX's
    assert table[0] == [RENEWALS.by_key[k].label for k in keys] and len(table) == len(rows) + 1
    assert [line[0] for line in table[1:]] == [r["contract_no"] for r in rows]
    flag_at = keys.index("cost_rising")
    assert [line[flag_at] for line in table[1:]] == ["yes" if r["cost_rising"] else "no" for r in rows]
    book = openpyxl.load_workbook(io.BytesIO(client.get("/renewals?horizon=12&format=xlsx").data))
    sheet = list(book["renewals"].iter_rows(values_only=True))
    assert "Margin 12m %" in sheet[0] and "Cost rising" in sheet[0] and len(sheet) == len(rows) + 1


def test_home_tile_counts_the_flagged_renewals_and_links_there(renewal_bridge, renewal_client, login) -> None:  # type: ignore[no-untyped-def]
    client = renewal_client
    login(client, DEMO_SALESMAN_LOGIN)
    rows = _rows(client)
    flagged = sum(any(r[f] for f in FLAGS) for r in rows)
    html = client.get("/").get_data(as_text=True)
    tile = html.split('class="tile tile-renewals"', 1)[1].split("</a>", 1)[0]
    assert 'href="/renewals?filter=' in tile and "Renewals to review" in tile
    assert f'<span class="tile-value">{flagged}</span>' in tile
    # it opens the renewals with any flag
    href = tile.split('href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    opened = client.get(href + "&format=json&page_size=500").get_json()
    assert opened["total"] == flagged and all(any(r[f] for f in FLAGS) for r in opened["rows"])
