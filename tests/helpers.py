"""What many tests do the same way: read a form's CSRF token, sign in (test client or browser),
and the Contract Performance oracle (plain Python sums over BPO2 rows the report must equal)."""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from decimal import Decimal
from typing import Any

from sqlalchemy import Table, select

from bpo2_bridge.report.figures import Figures, Report
from bpo2_bridge.store.users import DEMO_PASSWORD

# -- forms and signing in ---------------------------------------------------------------------


def csrf_token(html: str) -> str:
    """The CSRF token of the (first) form on the page."""
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "page has no CSRF token"
    return match.group(1)


def page_token(client: Any, url: str) -> str:
    """The CSRF token of the form on the page at url (a Flask test client's GET)."""
    return csrf_token(client.get(url).get_data(as_text=True))


def sign_in(
    client: Any,
    login: str,
    password: str = DEMO_PASSWORD,
    environ: dict[str, Any] | None = None,
    **extra: str,
) -> Any:
    """POST /login with the sign-in form's token (extra fields, e.g. next, go with it); the
    response of the POST. environ: the WSGI environ of both requests (remote address, scheme)."""
    token = ""
    if client.application.config.get("WTF_CSRF_ENABLED", True):
        form = client.get("/login", environ_base=environ or {})
        # signed in already, /login forwards home; the token is the session's, on every page
        if form.status_code == 302:
            form = client.get("/", environ_base=environ or {})
        token = csrf_token(form.get_data(as_text=True))
    data = {"login": login, "password": password, "csrf_token": token, **extra}
    return client.post("/login", data=data, environ_base=environ or {})


def sign_in_browser(page: Any, base: str, login: str, password: str = DEMO_PASSWORD) -> None:
    """Sign in through the login form in a Playwright page; returns on Home."""
    page.goto(f"{base}/login")
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", password)
    page.click("form.signin button[type=submit]")
    page.wait_for_url(f"{base}/")


# -- the Contract Performance oracle ----------------------------------------------------------
# It reads the rows with SQLAlchemy (cache tables, or BPO2-like tables built from the mapping)
# and adds them up in Python, sharing no code with bpo2_bridge.report.


def _rows(conn: Any, table: Table, where: Any) -> list[dict[str, Any]]:
    stmt = select(*[c.label(c.key) for c in table.c]).where(where)
    return [dict(r) for r in conn.execute(stmt).mappings()]


def _day(value: Any) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


def oracle(conn: Any, tables: dict[str, Table], contract_no: str, today: dt.date) -> dict[str, Any]:
    """Totals of one contract by plain Python over its rows: {period: {measure: value}}."""
    contract = _rows(conn, tables["contract"], tables["contract"].c.contract_no == contract_no)[0]
    cid = contract["contract_id"]
    assets = {
        r["asset_id"]
        for r in _rows(conn, tables["contract_item"], tables["contract_item"].c.contract_id == cid)
    }
    year, month = today.year, today.month - 11
    if month <= 0:
        year, month = year - 1, month + 12
    since = dt.date(year, month, 1)
    out: dict[str, dict[str, Any]] = defaultdict(lambda: defaultdict(lambda: Decimal("0.00")))

    def periods(day: dt.date, asset_id: int | None) -> list[str]:
        keys = ["to_date", f"month:{day:%Y-%m}", f"asset:{asset_id if asset_id in assets else None}"]
        return keys + (["last_12"] if day >= since else [])

    for line in _rows(conn, tables["invoice_line"], tables["invoice_line"].c.contract_id == cid):
        day = _day(line["invoice_date"])
        if day > today:
            continue
        for key in periods(day, line["asset_id"]):
            out[key][f"revenue.{line['line_type']}"] += line["amount"] or 0
            out[key]["revenue_total"] += line["amount"] or 0
            if line["line_type"] == "Meter":
                out[key][f"volume.{line['meter_type']}"] += line["volume"] or 0
                out[key]["volume_total"] += line["volume"] or 0
    calls = _rows(conn, tables["service_call"], tables["service_call"].c.contract_id == cid)
    call_ids = [c["call_id"] for c in calls if _day(c["logged_date"]) <= today]
    costs = _rows(conn, tables["call_cost"], tables["call_cost"].c.call_id.in_(call_ids or [-1]))
    by_call: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for cost in costs:
        by_call[cost["call_id"]].append(cost)
    for call in calls:
        day = _day(call["logged_date"])
        if day > today:
            continue
        for key in periods(day, call["asset_id"]):
            out[key]["calls"] += 1
            for cost in by_call[call["call_id"]]:
                out[key][f"cost.{cost['cost_type']}"] += cost["cost_amount"] or 0
                out[key]["cost_total"] += cost["cost_amount"] or 0
    return out


def flatten(f: Figures) -> dict[str, Any]:
    values: dict[str, Any] = {"revenue_total": f.revenue_total, "cost_total": f.cost_total, "calls": f.calls}
    values["volume_total"] = f.volume_total
    values.update({f"revenue.{k}": v for k, v in f.revenue.items() if v})
    values.update({f"volume.{k}": v for k, v in f.volume.items() if v})
    values.update({f"cost.{k}": v for k, v in f.cost.items() if v})
    return {k: v for k, v in values.items() if v}


def expected(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v}


def assert_reconciles(report: Report, truth: dict[str, Any]) -> None:
    """Every figure of the report equals the oracle's sums (truth = oracle(...))."""
    assert flatten(report.to_date) == expected(truth["to_date"])
    assert flatten(report.last_12) == expected(truth["last_12"])
    for month in report.months:
        assert flatten(month.figures) == expected(truth[f"month:{month.start:%Y-%m}"]), month.start
    shown = {f"month:{m.start:%Y-%m}" for m in report.months}
    hidden = [k for k in truth if k.startswith("month:") and k not in shown and expected(truth[k])]
    assert report.earlier_months == len(hidden)
    for machine in report.machines:
        assert flatten(machine.figures) == expected(truth[f"asset:{machine.asset_id}"]), machine.serial_no
    assert flatten(report.unassigned) == expected(truth["asset:None"])
    # derived figures follow from the reconciled totals
    f = report.to_date
    assert f.gross_profit == f.revenue_total - f.cost_total
    if f.revenue_total:
        assert f.margin == (f.gross_profit * 100 / f.revenue_total).quantize(Decimal("0.1"))
    else:
        assert f.margin is None
    if f.volume_total:
        assert f.revenue_per_copy == (f.revenue_total / f.volume_total).quantize(Decimal("0.0001"))
    else:
        assert f.revenue_per_copy is None and f.cost_per_copy is None
