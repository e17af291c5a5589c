"""The simulated intranet user of `bench load`: a signed-in keep-alive session, what it clicks,
and a recorder of every response (kind, route, status, latency, as_of)."""

from __future__ import annotations

import http.client
import itertools
import json
import random
import re
import socket
import statistics
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import quote, urlencode

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
FILE_LINK = re.compile(r'href="/files/(\d+)')
GRID_KINDS = ("grid", "filter", "tab")
TARGET_P99_MS = 300.0


@dataclass(frozen=True)
class Action:
    kind: str  # grid | filter | tab | page | report | pdf | file | refresh
    route: str  # the URL with its values taken out: what the figures are grouped by
    path: str
    method: str = "GET"
    form: dict[str, str] | None = None


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


class Session:
    """One user: a keep-alive connection and the session cookie, like a browser tab."""

    def __init__(self, port: int, login: str, seed: int) -> None:
        self.port, self.login, self.seed = port, login, seed
        self.cookie = ""
        self.token = ""
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    @staticmethod
    def answers(port: int) -> bool:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            return False

    def request(self, method: str, path: str, form: dict[str, str] | None = None) -> Response:
        headers = {"Cookie": self.cookie} if self.cookie else {}
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            self.conn.request(method, path, body=body, headers=headers)
            raw = self.conn.getresponse()
            data = raw.read()
        except Exception:
            self.conn.close()  # a browser would open a new connection next time
            raise
        for value in raw.headers.get_all("Set-Cookie") or []:
            if value.startswith("bpo2_session="):
                self.cookie = value.split(";")[0]
        return Response(raw.status, {k.lower(): v for k, v in raw.getheaders()}, data)

    def perform(self, action: Action, recorder: Recorder) -> None:
        form = {**action.form, "csrf_token": self.token} if action.form is not None else None
        started = time.monotonic()
        try:
            response = self.request(action.method, action.path, form)
        except Exception as exc:
            recorder.add(action, started, time.monotonic(), None, f"{type(exc).__name__}: {exc}")
            return
        ended = time.monotonic()
        problem = _problem(action, response)
        recorder.add(action, started, ended, response, problem)
        if action.kind == "refresh" and problem is None:
            # the browser follows the redirect to the contracts page, which shows the outcome
            page = Action("tab", "/customers/<acc>/contracts (after refresh)", response.headers["location"])
            started = time.monotonic()
            try:
                after = self.request("GET", page.path)
            except Exception as exc:
                recorder.add(page, started, time.monotonic(), None, f"{type(exc).__name__}: {exc}")
                return
            failed = b"flash-refresh-error" in after.body
            problem = _problem(page, after) or ("Refresh said it failed" if failed else None)
            recorder.add(page, started, time.monotonic(), after, problem)


def _problem(action: Action, response: Response) -> str | None:
    expected = 302 if action.method == "POST" else 200
    if response.status != expected:
        return f"status {response.status}"
    if action.kind == "pdf" and not response.body.startswith(b"%PDF"):
        return "not a PDF"
    return None


def sign_in(port: int, login: str, seed: int) -> Session:
    from bpo2_bridge.store.users import DEMO_PASSWORD

    session = Session(port, login, seed)
    page = session.request("GET", "/login")
    token = TOKEN.search(page.body.decode())
    assert token, "no sign-in form"
    form = {"login": login, "password": DEMO_PASSWORD, "csrf_token": token.group(1)}
    answer = session.request("POST", "/login", form)
    assert answer.status == 302, f"sign-in of {login} answered {answer.status}"
    home = session.request("GET", "/")
    token = TOKEN.search(home.body.decode())  # the session's token: valid for all its forms
    assert token, "no form token on the home page"
    session.token = token.group(1)
    return session


# -- what a user may click ------------------------------------------------------------------


@dataclass
class Catalog:
    """What one login can see: the ids its clicks use."""

    accounts: list[str]
    customer_pages: int
    contracts: list[str]
    contract_pages: int
    files: list[int]
    names: list[str]

    def summary(self) -> str:
        return (
            f"{len(self.accounts)} customers sampled ({self.customer_pages} pages), "
            f"{len(self.contracts)} contracts sampled ({self.contract_pages} pages), {len(self.files)} files"
        )

    def action(self, kind: str, rng: random.Random) -> Action:
        acc = rng.choice(self.accounts)
        no = rng.choice(self.contracts)
        if kind == "grid":
            return rng.choice(
                [
                    Action(kind, "/customers?page", f"/customers?page={_page(rng, self.customer_pages)}"),
                    Action(
                        kind, "/customers?sort", f"/customers?sort=-active_contracts&page={rng.randint(1, 5)}"
                    ),
                    Action(
                        kind, "/contracts?page", f"/contracts?tab=all&page={_page(rng, self.contract_pages)}"
                    ),
                    Action(kind, "/contracts?sort", "/contracts?tab=all&sort=-expiry_date&page_size=50"),
                    Action(kind, "/customers/<acc>/contracts", f"/customers/{acc}/contracts?tab=all"),
                    Action(kind, "/customers/<acc>/files", f"/customers/{acc}/files"),
                ]
            )
        if kind == "filter":
            prefix = rng.choice(self.names)[:4]
            builder = 'status = "Active" AND (months_remaining < 6 OR contract_type = "Rental")'
            return rng.choice(
                [
                    Action(kind, "/contracts?q json", f"/contracts?tab=all&q={no[:7]}&format=json"),
                    Action(kind, "/customers?q", f"/customers?q={quote(prefix)}"),
                    Action(
                        kind,
                        "/contracts?f_status&f_months",
                        "/contracts?tab=all&f_status=Active&f_months_remaining=%3C0",
                    ),
                    Action(
                        kind,
                        "/contracts?f_expiry_date json",
                        "/contracts?tab=all&f_expiry_date=2026-12-01..2027-03-31&format=json",
                    ),
                    Action(kind, "/contracts?filter", f"/contracts?tab=all&filter={quote(builder)}"),
                    Action(
                        kind, "/customers/<acc>/contracts?q", f"/customers/{acc}/contracts?tab=all&q=Rental"
                    ),
                    # a contract number's first characters, as typed before the rest
                    Action(
                        kind, "/customers/<acc>/contracts?q=CPC", f"/customers/{acc}/contracts?tab=all&q=CPC0"
                    ),
                ]
            )
        if kind == "tab":
            tab = rng.choice(["expired", "expiring", "all"])
            return rng.choice(
                [
                    Action(
                        kind, f"/customers/<acc>/contracts?tab={tab}", f"/customers/{acc}/contracts?tab={tab}"
                    ),
                    Action(kind, f"/contracts?tab={tab}", f"/contracts?tab={tab}"),
                ]
            )
        if kind == "page":
            return rng.choice([Action(kind, "/", "/"), Action(kind, "/customers/<acc>", f"/customers/{acc}")])
        if kind == "report":
            return Action(kind, "/contracts/<no>/report", f"/contracts/{no}/report")
        if kind == "pdf":
            return Action(kind, "/contracts/<no>/report.pdf", f"/contracts/{no}/report.pdf")
        if kind == "file" and self.files:
            return Action(kind, "/files/<id>", f"/files/{rng.choice(self.files)}")
        if kind == "refresh":
            back = f"/customers/{acc}/contracts?tab=all"
            form = {"csrf_token": "", "next": back}
            return Action(kind, "POST /customers/<acc>/refresh", f"/customers/{acc}/refresh", "POST", form)
        return Action("grid", "/customers?page", "/customers")


def _page(rng: random.Random, pages: int) -> int:
    # most people stay on the first pages; some jump far
    return rng.randint(1, min(pages, 5)) if rng.random() < 0.8 else rng.randint(1, max(1, pages))


def discover(session: Session) -> Catalog:
    """Sample what this login sees through the JSON grids and the files pages."""
    customers = json.loads(session.request("GET", "/customers?format=json&page_size=200").body)
    contracts = json.loads(
        session.request("GET", "/contracts?tab=all&format=json&page_size=200&sort=-expiry_date").body
    )
    accounts = [row["account_no"] for row in customers["rows"]]
    files: list[int] = []
    for acc in accounts[:40]:
        html = session.request("GET", f"/customers/{acc}/files?page_size=50").body.decode()
        files += [int(x) for x in FILE_LINK.findall(html)]
    return Catalog(
        accounts=accounts,
        customer_pages=int(customers["pages"]),
        contracts=[row["contract_no"] for row in contracts["rows"]],
        contract_pages=max(1, int(contracts["total"]) // 20),
        files=sorted(set(files)),
        names=[row["customer_name"] for row in customers["rows"]],
    )


# -- what happened ------------------------------------------------------------------------------


@dataclass
class Record:
    kind: str
    route: str
    started: float
    ended: float
    error: str | None
    as_of: str | None


@dataclass
class Recorder:
    records: list[Record] = field(default_factory=list)
    origin: float | None = None  # measuring starts here (after the warm-up)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        self.origin = time.monotonic()

    def add(
        self, action: Action, started: float, ended: float, response: Response | None, error: str | None
    ) -> None:
        if self.origin is None or started < self.origin:
            return
        as_of = None
        if response is not None and response.body[:1] == b"{":
            as_of = json.loads(response.body).get("as_of")
        record = Record(
            action.kind,
            action.route,
            started - self.origin,
            ended - self.origin,
            f"{action.method} {action.path}: {error}" if error else None,
            as_of,
        )
        with self.lock:
            self.records.append(record)

    def summary(self, seconds: float, sync_started: float | None, sync_ended: float | None) -> dict:
        records = sorted(self.records, key=lambda r: r.ended)
        kinds: dict[str, dict] = {}
        for kind in sorted({r.kind for r in records}):
            kinds[kind] = _figures([r for r in records if r.kind == kind])
        kinds["all grids"] = _figures([r for r in records if r.kind in GRID_KINDS])
        start, end = sync_started or seconds, sync_ended or seconds
        phases = {
            "before sync": [r for r in records if r.started < start],
            "during sync": [r for r in records if start <= r.started < end],
            "after switch": [r for r in records if r.started >= end],
        }
        routes = {}
        for route in {r.route for r in records}:
            routes[route] = _figures([r for r in records if r.route == route])["p99"]
        # where a grid p99 miss comes from: the grid requests over the target, by route
        slow: dict[str, int] = {}
        for r in records:
            if r.kind in GRID_KINDS and (r.ended - r.started) * 1000 >= TARGET_P99_MS:
                slow[r.route] = slow.get(r.route, 0) + 1
        ok = [r.ended for r in records if r.error is None]
        gaps = [(b - a, a) for a, b in itertools.pairwise(ok)]
        gap, gap_at = max(gaps, default=(0.0, 0.0))
        stale, switches = _as_of_check(records)
        return {
            "requests": len(records),
            "rps": len(records) / seconds if seconds else 0.0,
            "errors": sum(1 for r in records if r.error),
            "kinds": kinds,
            "phases": {
                name: _figures([r for r in rows if r.kind in GRID_KINDS]) for name, rows in phases.items()
            },
            "slowest": sorted(routes.items(), key=lambda kv: -kv[1])[:6],
            "grids_over_target": sorted(slow.items(), key=lambda kv: -kv[1]),
            "error_samples": [r.error for r in records if r.error][:10],
            "longest_gap_ms": gap * 1000,
            "longest_gap_at": gap_at,  # seconds into the run: compare with the sync's start and end
            "stale_after_switch": stale,
            "as_of_switches": switches,
        }


def _figures(records: list[Record]) -> dict[str, float]:
    ms = sorted((r.ended - r.started) * 1000 for r in records)
    if not ms:
        return {"count": 0, "p50": 0.0, "p95": 0.0, "p99": 0.0, "max": 0.0, "errors": 0}

    def pct(p: float) -> float:
        return ms[min(len(ms) - 1, int(len(ms) * p))]

    return {
        "count": len(ms),
        "p50": statistics.median(ms),
        "p95": pct(0.95),
        "p99": pct(0.99),
        "max": ms[-1],
        "errors": sum(1 for r in records if r.error),
    }


def _as_of_check(records: list[Record]) -> tuple[int, int]:
    """(responses showing older data than one already served before they started, switches)."""
    seen = [r for r in records if r.as_of]
    newest_at: dict[str, float] = {}  # as_of -> when a response first showed it
    for r in seen:
        newest_at.setdefault(r.as_of, r.ended)  # type: ignore[arg-type]
    stale = 0
    for r in seen:
        newer_served = [t for value, t in newest_at.items() if value > r.as_of and t < r.started]  # type: ignore[operator]
        stale += bool(newer_served)
    return stale, max(0, len(newest_at) - 1)
