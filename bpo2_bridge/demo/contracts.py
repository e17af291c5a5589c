"""Contracts of one customer with their machines, meters, readings, invoice lines and calls.

Contract dates fall in every window relative to today: expired, expiring (within 6 months),
current, open-ended and cancelled. Readings rise every month; each billed month has a Fee line
(where the contract has a fee), a Meter line per meter whose volume is the reading delta and
whose amount is volume x rate, and a MinBilling line topping meter charges up to the minimum.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from . import content as c
from .world import Customer, World

CATEGORIES = (
    ("expired", 25),
    ("expiring", 14),
    ("current", 35),
    ("open", 10),
    ("cancelled", 8),
    ("new", 4),
    ("suspended", 4),
)
TERMS = (12, 24, 36, 36, 48, 60)
BILLING_CYCLES = (("Monthly", 85), ("Quarterly", 10), ("Annually", 5))


@dataclass(frozen=True)
class Plan:
    """What one contract should look like before its rows are drawn."""

    category: str
    expiry: dt.date | None = None  # pin the expiry date (edge cases)
    start: dt.date | None = None  # pin the start date
    machines: int | None = None
    months: int | None = None  # readings to keep (default: the profile's)
    call_rate: float | None = None
    kind: str | None = None  # contract type description
    minimum: int | None = None  # minimum billing per month, in cents


def _showcase_plans(world: World) -> list[Plan]:
    """The first customer: the benchmark contract and one contract per window edge."""
    today = world.today
    bench_start = c.add_months(today, -(c.BENCH_CONTRACT_MONTHS + 2))
    bench_expiry = c.add_months(bench_start, 60) - dt.timedelta(days=1)
    return [
        Plan(
            "current", bench_expiry, bench_start, c.BENCH_CONTRACT_MACHINES, c.BENCH_CONTRACT_MONTHS + 1, 0.3
        ),
        Plan("expired", today - dt.timedelta(days=1)),  # expired yesterday: months remaining -1
        Plan("expired"),
        Plan("expiring", today),  # expiry day: months remaining 0
        Plan("expiring", c.add_months(today, 6)),  # last day of the expiring window
        # metered below its minimum every month: MinBilling lines
        Plan(
            "current", c.add_months(today, 12), c.add_months(today, -12), 1, kind="Service", minimum=900_000
        ),
        Plan("open"),
        Plan("cancelled", c.add_months(today, 2)),  # would be expiring, but cancelled
    ]


def emit_contracts(world: World, customer: Customer) -> None:
    rng = world.rng
    profile = world.profile
    if customer.index == 1:
        plans = _showcase_plans(world)
    elif customer.index == 2 and profile.bench_customer:
        plans = [Plan(c.weighted(rng.random(), CATEGORIES)) for _ in range(c.BENCH_CUSTOMER_CONTRACTS)]
    else:
        count = rng.randint(*profile.contracts)
        plans = [Plan(c.weighted(rng.random(), CATEGORIES)) for _ in range(count)]
    for plan in plans:
        _emit_contract(world, customer, plan)


def _dates(world: World, plan: Plan) -> tuple[str, dt.date, dt.date | None, dt.date | None]:
    """(status, start, expiry, last day of service) for the plan's window."""
    rng, today = world.rng, world.today
    term = rng.choice(TERMS)
    category = plan.category
    horizon = c.add_months(today, 6)
    if category == "open":
        start = world.days_ago(60, 1500)
        return "Active", start, None, world.yesterday
    if category == "new":
        start = today + dt.timedelta(days=rng.randint(1, 45))
        return rng.choice(("New", "Released")), start, c.add_months(start, term) - dt.timedelta(days=1), None
    if plan.expiry is not None:
        expiry = plan.expiry
    elif category == "expired":
        expiry = today - dt.timedelta(days=rng.randint(1, 720))
    elif category == "expiring":
        expiry = today + dt.timedelta(days=rng.randint(0, (horizon - today).days))
    elif category == "cancelled":
        expiry = today + dt.timedelta(days=rng.randint(-400, 900))
    else:
        expiry = horizon + dt.timedelta(days=rng.randint(1, 1400))
    start = plan.start or c.add_months(expiry + dt.timedelta(days=1), -term)
    if start > today:
        start = world.days_ago(0, 120)
    if category == "expired":
        return "Expired", start, expiry, expiry
    if category == "cancelled":
        end = min(world.yesterday, expiry) - dt.timedelta(days=rng.randint(0, 150))
        return "Cancelled", start, expiry, max(end, start)
    return ("Suspended" if category == "suspended" else "Active"), start, expiry, world.yesterday


def _reading_dates(start: dt.date, end: dt.date | None, day: int, keep: int) -> list[dt.date]:
    """Monthly reading dates on `day` of the month, the last `keep` of them within [start, end]."""
    if end is None or end < start:
        return []
    year, month = end.year, end.month
    if dt.date(year, month, day) > end:
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    dates: list[dt.date] = []
    while len(dates) < keep:
        current = dt.date(year, month, day)
        if current < start:
            break
        dates.append(current)
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    dates.reverse()
    return dates


def _money(cents: int) -> Decimal:
    return Decimal(cents).scaleb(-2)


def _emit_contract(world: World, customer: Customer, plan: Plan) -> None:
    rng, emit, profile = world.rng, world.emit, world.profile
    contract_id = world.next_id("contract")
    contract_no = f"CPC{contract_id:07d}"
    customer.contract_nos.append(contract_no)
    type_index = rng.randrange(len(c.CONTRACT_TYPES))
    if plan.kind is not None:
        type_index = c.CONTRACT_TYPES.index(plan.kind)
    status, start, expiry, service_end = _dates(world, plan)
    touched = (
        world.recent()
        if rng.random() < 0.15
        else world.at(min(max(start, world.days_ago(14, 900)), world.yesterday))
    )
    emit(
        "contract",
        {
            "contract_id": contract_id,
            "contract_no": contract_no,
            "customer_id": customer.customer_id,
            "contract_type_id": type_index + 1,
            "site_id": customer.site_id if rng.random() < 0.9 else rng.randint(1, len(c.SITES)),
            "status": status,
            "start_date": start,
            "expiry_date": expiry,
            "billing_cycle": c.weighted(rng.random(), BILLING_CYCLES),
            "modified_date": touched,
        },
    )
    kind = c.CONTRACT_TYPES[type_index]
    machines = plan.machines or rng.choice(profile.machines)
    fee = 0 if kind == "Service" else rng.randint(8, 35) * 10_000 * machines
    minimum = rng.randint(5, 30) * 10_000 if kind in ("Service", "Short Term") and rng.random() < 0.6 else 0
    if plan.minimum is not None:
        minimum = plan.minimum
    mono_rate, colour_rate = rng.randint(1000, 2600), rng.randint(8000, 16000)  # 1/100 cent per page
    dates = _reading_dates(start, service_end, rng.randint(20, 28), plan.months or profile.reading_months)
    billed = dates[-(profile.invoice_months + 1) :] if plan.months is None else dates
    first_billed = len(dates) - len(billed)

    meters = []  # (asset_id, meter type, rate, readings)
    assets = []
    for _ in range(machines):
        model = rng.choice(c.MACHINE_MODELS)
        asset_id = world.next_id("asset")
        assets.append(asset_id)
        customer.models.append(model.model_no)
        emit(
            "asset",
            {
                "asset_id": asset_id,
                "serial_no": f"{model.serial_prefix}{(asset_id * 7919 + 1_234_567) % 10_000_000:07d}",
                "model_no": model.model_no,
                "part_code": model.part_code,
                "description": model.description,
                "modified_date": world.stamp(touched, asset_id),
            },
        )
        item_id = world.next_id("contract_item")
        emit(
            "contract_item",
            {
                "contract_item_id": item_id,
                "contract_id": contract_id,
                "asset_id": asset_id,
                "location_desc": rng.choice(c.LOCATIONS),
                "modified_date": world.stamp(touched, item_id),
            },
        )
        kinds = [("Mono", model.mono_volume, mono_rate)]
        if model.colour:
            kinds.append(("Colour", model.colour_volume, colour_rate))
        for meter_type, volume, rate in kinds:
            meter_id = world.next_id("meter")
            emit(
                "meter",
                {
                    "meter_id": meter_id,
                    "asset_id": asset_id,
                    "meter_type": meter_type,
                    "modified_date": world.stamp(touched, meter_id),
                },
            )
            readings = _emit_readings(world, meter_id, dates, volume)
            meters.append((asset_id, meter_type, rate, readings))

    for position in range(max(first_billed, 1), len(dates)):
        invoice_date = dates[position]
        run = dt.datetime.combine(invoice_date, dt.time())
        lines: list[tuple[str, int | None, str | None, int | None, int]] = []
        if fee:
            lines.append(("Fee", None, None, None, fee))
        metered = 0
        for asset_id, meter_type, rate, readings in meters:
            volume = readings[position] - readings[position - 1]
            cents = (volume * rate + 50) // 100
            metered += cents
            lines.append(("Meter", asset_id, meter_type, volume, cents))
        if minimum > metered:
            lines.append(("MinBilling", None, None, None, minimum - metered))
        for line_type, line_asset, line_meter, line_volume, cents in lines:
            line_id = world.next_id("invoice_line")
            emit(
                "invoice_line",
                {
                    "invoice_line_id": line_id,
                    "contract_id": contract_id,
                    "invoice_date": invoice_date,
                    "line_type": line_type,
                    "asset_id": line_asset,
                    "meter_type": line_meter,
                    "volume": line_volume,
                    "amount": _money(cents),
                    "modified_date": _posted(run, line_id),
                },
            )
        if rng.random() < (plan.call_rate if plan.call_rate is not None else profile.call_rate):
            _emit_call(world, customer, contract_id, rng.choice(assets), dates[position - 1])


INVOICE_RUN = 3 * 86_400  # seconds over which a month's invoice lines are posted, before the invoice date


def _posted(invoice_day: dt.datetime, line_id: int) -> dt.datetime:
    """When the billing run posted a line: spread over the days before the invoice date, to the
    second (a real run takes days; lines sharing one stamp would all look freshly changed)."""
    return invoice_day - dt.timedelta(seconds=1 + line_id * 7919 % INVOICE_RUN)


def _emit_readings(world: World, meter_id: int, dates: list[dt.date], volume: int) -> list[int]:
    rng_random, emit, combine = world.rng.random, world.emit, dt.datetime.combine
    counter = world.rng.randint(0, 400_000) if rng_random() < 0.7 else world.rng.randint(0, 3000)
    base = volume * (0.5 + rng_random())
    values = []
    stamp_time = dt.time(8 + meter_id % 9, meter_id * 7 % 60)
    first_id = world.reserve("meter_reading", len(dates))
    for offset, day in enumerate(dates):
        counter += 1 + int(base * (0.6 + 0.8 * rng_random()))
        values.append(counter)
        emit(
            "meter_reading",
            {
                "reading_id": first_id + offset,
                "meter_id": meter_id,
                "reading_date": day,
                "reading": counter,
                "modified_date": combine(day, stamp_time),
            },
        )
    return values


def _emit_call(world: World, customer: Customer, contract_id: int, asset_id: int, after: dt.date) -> None:
    rng, today = world.rng, world.today
    day = after + dt.timedelta(days=rng.randint(1, 27))
    if day >= today:
        return
    logged = world.at(day)
    call_id = world.next_id("service_call")
    would_close = logged + dt.timedelta(hours=rng.randint(2, 72))
    closed: dt.datetime | None = None
    if would_close.date() < today and (day < today - dt.timedelta(days=5) or rng.random() < 0.3):
        closed, status = would_close, "Closed"
    else:
        status = rng.choice(c.CALL_STATUSES_OPEN)
    world.emit(
        "service_call",
        {
            "call_id": call_id,
            "call_no": f"SC{call_id:07d}",
            "customer_id": customer.customer_id,
            "contract_id": contract_id,
            "asset_id": asset_id,
            "logged_date": logged,
            "closed_date": closed,
            "status": status,
            "modified_date": closed or logged,
        },
    )
    chances = {"Labour": 1.0, "Travel": 0.7, "Part": 0.4, "Toner": 0.25, "Other": 0.1}
    for cost_type, chance in chances.items():
        if rng.random() >= chance:
            continue
        (low, high), quantities = c.CALL_COSTS[cost_type]
        hundredths = round(rng.choice(quantities) * 100)
        unit = rng.randint(low, high) // 100 * 100
        cost_id = world.next_id("call_cost")
        world.emit(
            "call_cost",
            {
                "call_cost_id": cost_id,
                "call_id": call_id,
                "cost_type": cost_type,
                "quantity": _money(hundredths),
                "cost_amount": _money((hundredths * unit + 50) // 100),
                "modified_date": world.stamp(closed or logged, cost_id),
            },
        )
