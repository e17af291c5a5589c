"""The stored last-12-months profitability in both contract grids (per customer and across
customers): in JSON under its own keys, in CSV and XLSX, sortable with empty values last, and
filterable from the Filter Row and from Create Filter like any other column."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import openpyxl
from sqlalchemy import select

from bpo2_bridge.cache.schema import cache_table
from bpo2_bridge.demo.content import DEMO_ADMIN_LOGIN
from bpo2_bridge.queries.windows import window_end
from bpo2_bridge.web.columns import PROFIT_COLUMNS as PROFIT_GRID_COLUMNS

from .test_browser_walk import walk_customer

PROFIT_COLUMNS = tuple(c.key for c in PROFIT_GRID_COLUMNS)  # the figures every contract grid offers

LABELS = {
    "revenue_12m": "Revenue 12m",
    "cost_12m": "Cost 12m",
    "gross_profit_12m": "Gross Profit 12m",
    "margin_12m": "Margin 12m %",
    "volume_12m": "Volume 12m",
    "cost_per_copy_12m": "Cost per Copy 12m",
    "volume_trend": "Volume Trend %",
}


def _stored(bridge: Any) -> dict[str, dict[str, Any]]:
    table = cache_table("contract_row")
    with bridge.cache.connect() as conn:
        rows = conn.execute(select(table)).mappings().all()
    return {r["contract_no"]: dict(r) for r in rows}


def _number(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _all_json(client: Any, path: str, query: str) -> list[dict[str, Any]]:
    body = client.get(f"{path}?{query}&page_size=500&format=json").get_json()
    assert body["pages"] == 1, "the demo's contracts fit one page"
    return list(body["rows"])


def test_both_grids_answer_the_stored_figures_in_json_csv_and_xlsx(client, login, demo_bridge) -> None:  # type: ignore[no-untyped-def]
    login(client, DEMO_ADMIN_LOGIN)
    stored = _stored(demo_bridge)
    account_no = walk_customer(demo_bridge)["account_no"]
    for path in ("/contracts", f"/customers/{account_no}/contracts"):
        rows = _all_json(client, path, "tab=all")
        assert rows
        for row in rows:
            for key in PROFIT_COLUMNS:
                assert _number(row[key]) == stored[row["contract_no"]][key], (path, row["contract_no"], key)

        table = list(
            csv.reader(io.StringIO(client.get(f"{path}?tab=all&format=csv").get_data().decode("utf-8-sig")))
        )
        header = table[0]
        # the header row is the column labels, as the XLSX's
        assert all(LABELS[key] in header for key in PROFIT_COLUMNS), header
        for line in table[1:]:
            record = dict(zip(header, line))
            for key in PROFIT_COLUMNS:
                want = stored[record["Contract No"]][key]
                cell = record[LABELS[key]]
                assert (None if cell == "" else Decimal(cell)) == want, (path, key)

        book = openpyxl.load_workbook(io.BytesIO(client.get(f"{path}?tab=all&format=xlsx").data))
        sheet = list(book["contracts"].iter_rows(values_only=True))
        labels = list(sheet[0])
        number_at = labels.index("Contract No")
        for line in sheet[1:]:
            for key in PROFIT_COLUMNS:
                got = line[labels.index(LABELS[key])]
                want = stored[line[number_at]][key]
                assert _number(got) == (None if want is None else Decimal(str(float(want)))), (path, key)


def test_sorting_by_margin_puts_empty_margins_last_both_ways(client, login, demo_bridge) -> None:  # type: ignore[no-untyped-def]
    login(client, DEMO_ADMIN_LOGIN)
    stored = _stored(demo_bridge)
    assert any(r["margin_12m"] is None for r in stored.values()), "the demo has contracts without revenue"
    for sort in ("margin_12m", "-margin_12m"):
        rows = _all_json(client, "/contracts", f"tab=all&sort={sort}")
        margins = [_number(r["margin_12m"]) for r in rows]
        given = [m for m in margins if m is not None]
        assert margins == given + [None] * (len(margins) - len(given)), sort
        assert given == sorted(given, reverse=sort.startswith("-")), sort
        assert len(rows) == len(stored)


def test_filter_row_and_create_filter_on_margin_and_window(client, login, demo_bridge) -> None:  # type: ignore[no-untyped-def]
    login(client, DEMO_ADMIN_LOGIN)
    stored = _stored(demo_bridge)
    settings = demo_bridge.settings
    today = settings.today_date()
    end = window_end(today, settings.expiring_window_months)

    def expiring(r: dict[str, Any]) -> bool:
        expiry: dt.date | None = r["expiry_date"]
        return expiry is not None and today <= expiry <= end and r["status"] not in settings.excluded_statuses

    # the demo's margins run high: the threshold is their median, so the filter splits them
    margins = sorted(r["margin_12m"] for r in stored.values() if r["margin_12m"] is not None)
    limit = margins[len(margins) // 2]
    low = {no for no, r in stored.items() if r["margin_12m"] is not None and r["margin_12m"] < limit}
    assert low and len(low) < len(stored)
    rows = _all_json(client, "/contracts", f"tab=all&f_margin_12m=%3C{limit}")
    assert {r["contract_no"] for r in rows} == low

    both = {no for no in low if expiring(stored[no])}
    assert both, "the demo has low-margin contracts expiring"
    query = "tab=all&filter=" + quote(f'margin_12m < {limit} AND window = "expiring"')
    rows = _all_json(client, "/contracts", query)
    assert {r["contract_no"] for r in rows} == both
    # as the issue writes it: no contract of the demo is below 20 %
    rows = _all_json(
        client, "/contracts", "tab=all&filter=" + quote('margin_12m < 20 AND window = "expiring"')
    )
    assert {r["contract_no"] for r in rows} == {
        no for no, r in stored.items() if r["margin_12m"] is not None and r["margin_12m"] < 20 and expiring(r)
    }

    trend = {no for no, r in stored.items() if r["volume_trend"] is not None and r["volume_trend"] <= -20}
    rows = _all_json(client, "/contracts", "tab=all&f_volume_trend=%3C%3D-20")
    assert {r["contract_no"] for r in rows} == trend


def test_the_columns_are_hidden_on_the_page_until_chosen(client, login, demo_bridge) -> None:  # type: ignore[no-untyped-def]
    login(client, DEMO_ADMIN_LOGIN)
    html = client.get("/contracts?tab=all").get_data(as_text=True)
    head = html.split("<thead", 1)[1].split("</thead>", 1)[0]
    assert "Margin 12m %" not in head and "Contract No" in head
    # the column chooser offers them, unticked
    for key in PROFIT_COLUMNS:
        assert f'name="cols" value="{key}">' in html, key
    chosen = client.get("/contracts?tab=all&cols=contract_no,margin_12m").get_data(as_text=True)
    head = chosen.split("<thead", 1)[1].split("</thead>", 1)[0]
    assert "Margin 12m %" in head and "Expiry Date" not in head
