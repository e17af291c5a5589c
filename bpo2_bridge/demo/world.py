"""The demo population: reference data, employees and customers, emitted row by row.

Rows are dicts keyed by logical column names (bpo2_bridge.model) and handed to `emit` one at a
time, so a build of any size streams. All randomness comes from one `random.Random(seed)` and
every date is relative to `today`: the same seed and today give the same rows in the same order.
Every change stamp (modified dates) lies before today, so an incremental sync's watermark never
runs ahead of real edits made later today.
"""

from __future__ import annotations

import datetime as dt
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import content as c
from .share import DemoShare

Emit = Callable[[str, dict[str, Any]], None]


@dataclass(frozen=True)
class Employee:
    employee_id: int
    login: str
    full_name: str


@dataclass
class Customer:
    customer_id: int
    index: int
    account_no: str
    name: str
    site_id: int
    domain: str
    main: Employee
    linked: list[Employee]
    contact_ids: list[int] = field(default_factory=list)
    contact_names: list[str] = field(default_factory=list)
    contract_nos: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)


class World:
    """Shared state of one build: the random source, today, id counters and the row sink."""

    def __init__(self, profile: c.Profile, seed: int, today: dt.date, emit: Emit, share: DemoShare) -> None:
        self.profile = profile
        self.rng = random.Random(seed)
        self.today = today
        self.yesterday = today - dt.timedelta(days=1)
        self.emit = emit
        self.share = share  # where path-stored attachments are written
        self.salesmen: list[Employee] = []
        self.admins: list[Employee] = []
        self._ids: dict[str, int] = {}

    def next_id(self, entity: str) -> int:
        value = self._ids.get(entity, 0) + 1
        self._ids[entity] = value
        return value

    def reserve(self, entity: str, count: int) -> int:
        """Take `count` consecutive ids at once; returns the first."""
        first = self._ids.get(entity, 0) + 1
        self._ids[entity] = first + count - 1
        return first

    def at(self, day: dt.date, first_hour: int = 7, last_hour: int = 17) -> dt.datetime:
        """A moment during office hours on `day` (whole minutes: every engine stores it alike)."""
        minute = self.rng.randrange((last_hour - first_hour + 1) * 60)
        return dt.datetime.combine(day, dt.time(first_hour + minute // 60, minute % 60))

    def days_ago(self, low: int, high: int) -> dt.date:
        return self.today - dt.timedelta(days=self.rng.randint(low, high))

    def recent(self) -> dt.datetime:
        """A moment within the last 14 days, before today."""
        return self.at(self.days_ago(1, 13))

    @staticmethod
    def stamp(moment: dt.datetime, row_id: int) -> dt.datetime:
        """A change stamp near `moment`, a number of seconds into its minute taken from the row id:
        rows written together still differ, as real edits do (no randomness drawn)."""
        return moment + dt.timedelta(seconds=row_id * 37 % 60)

    def salesman(self, login: str) -> Employee:
        return next(e for e in self.salesmen if e.login == login)


def populate(world: World, progress: Callable[[str, int], None] | None = None) -> None:
    """Emit the whole demo: reference data first, then each customer with everything it owns.
    `progress("customer", n)` reports customers done, about every percent."""
    from .contracts import emit_contracts
    from .crm import emit_crm

    _emit_reference(world)
    total = world.profile.customers
    step = max(1, total // 100)
    for index in range(1, total + 1):
        customer = _emit_customer(world, index)
        emit_contracts(world, customer)
        emit_crm(world, customer)
        if progress and (index % step == 0 or index == total):
            progress("customer", index)


def _emit_reference(world: World) -> None:
    for name in c.SITES:
        world.emit("site", {"site_id": world.next_id("site"), "site_name": name})
    for name in c.CONTRACT_TYPES:
        world.emit("contract_type", {"contract_type_id": world.next_id("contract_type"), "description": name})
    people = [(login, name, admin, sales) for login, name, admin, sales in c.NAMED_EMPLOYEES]
    wanted = world.profile.salesmen
    named_sales = [p for p in people if p[3]]
    people = [p for p in people if not p[3]] + named_sales[:wanted]
    logins = {p[0] for p in people}
    while sum(1 for p in people if p[3]) < wanted:
        first, last = world.rng.choice(c.FIRST_NAMES), world.rng.choice(c.LAST_NAMES)
        login = (first[0] + re.sub(r"[^a-z]", "", last.lower()))[:20]
        base, number = login, 1
        while login in logins:
            number += 1
            login = f"{base}{number}"
        logins.add(login)
        people.append((login, f"{first} {last}", False, True))
    for login, name, admin, sales in people:
        employee = Employee(world.next_id("employee"), login, name)
        world.emit(
            "employee",
            {
                "employee_id": employee.employee_id,
                "login_name": login,
                "full_name": name,
                "email": f"{login}@copierdealer.co.za",
                "is_crm_administrator": admin,
            },
        )
        if sales:
            world.salesmen.append(employee)
        if admin:
            world.admins.append(employee)


def _company_name(rng: random.Random) -> tuple[str, str]:
    place, trade, kind = rng.choice(c.NAME_PLACES), rng.choice(c.NAME_TRADES), rng.choice(c.NAME_KINDS)
    suffix = rng.choice(c.NAME_SUFFIXES)
    name = f"{place} {trade} {kind} {suffix}".strip()
    domain = re.sub(r"[^a-z]", "", f"{place}{trade}".lower()) + ".co.za"
    return name, domain


def phone(rng: random.Random, area: str) -> str:
    return f"{area} {rng.randint(200, 899)} {rng.randint(0, 9999):04d}"


def cell(rng: random.Random) -> str:
    return f"0{rng.choice((72, 73, 76, 79, 82, 83, 84))} {rng.randint(100, 999)} {rng.randint(0, 9999):04d}"


def _emit_customer(world: World, index: int) -> Customer:
    rng = world.rng
    salesmen = world.salesmen
    # The first two customers (the demo salesman's showcase and the benchmark customer) belong
    # to the demo salesman; the rest go round the sales team.
    main = salesmen[0] if index <= 2 else salesmen[(index - 1) % len(salesmen)]
    others = [s for s in salesmen if s is not main]
    if index == 1:
        linked = [world.salesman(c.DEMO_OTHER_SALESMAN_LOGIN)]
    else:
        linked = rng.sample(others, min(len(others), rng.choice((0, 0, 1, 1, 2))))
    site_id = rng.randint(1, len(c.SITES))
    name, domain = _company_name(rng)
    status = "Active" if index <= 2 else c.weighted(rng.random(), c.CUSTOMER_STATUSES)
    customer = Customer(
        world.next_id("customer"), index, f"ACC{index:05d}", name, site_id, domain, main, linked
    )
    modified = world.recent() if rng.random() < 0.2 else world.at(world.days_ago(14, 900))
    world.emit(
        "customer",
        {
            "customer_id": customer.customer_id,
            "account_no": customer.account_no,
            "customer_name": name,
            "site_id": site_id,
            "status": status,
            "tel": phone(rng, c.SITE_AREA_CODES[site_id - 1]),
            "email": f"accounts@{domain}",
            "modified_date": modified,
        },
    )
    for employee, is_main in [(main, True)] + [(e, False) for e in linked]:
        world.emit(
            "customer_salesman",
            {
                "customer_id": customer.customer_id,
                "employee_id": employee.employee_id,
                "is_main": is_main,
                "modified_date": world.stamp(modified, employee.employee_id),
            },
        )
    for _ in range(rng.randint(1, 3)):
        first, last = rng.choice(c.FIRST_NAMES), rng.choice(c.LAST_NAMES)
        contact_id = world.next_id("customer_contact")
        customer.contact_ids.append(contact_id)
        customer.contact_names.append(first)
        world.emit(
            "customer_contact",
            {
                "contact_id": contact_id,
                "customer_id": customer.customer_id,
                "name": f"{first} {last}",
                "tel": phone(rng, c.SITE_AREA_CODES[site_id - 1]),
                "cell": cell(rng),
                "email": f"{first.lower()}.{re.sub(r'[^a-z]', '', last.lower())}@{domain}",
                "modified_date": world.stamp(modified, contact_id),
            },
        )
    return customer
