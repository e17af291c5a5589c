"""Sample contracts with known shapes, for the report's tests and benchmark.

Rows are keyed by logical column names, so they insert as they are into the cache tables
(`cache_schema.cache_metadata()`) and into a BPO2-like source built from the mapping
(`mapping.physical_metadata()`, whose columns carry the logical names as keys).
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Table

from ..queries.windows import add_months

Rows = dict[str, list[dict[str, Any]]]
ORDER = (
    "site",
    "employee",
    "contract_type",
    "customer",
    "customer_salesman",
    "customer_contact",
    "contract",
    "asset",
    "contract_item",
    "invoice_line",
    "service_call",
    "call_cost",
)
COST_TYPES = ("Part", "Toner", "Labour", "Travel", "Other")


@dataclass(frozen=True)
class SampleContract:
    """The shape of one sample contract; ids start at `base` so several fit in one database."""

    base: int
    contract_no: str
    start: dt.date
    expiry: dt.date | None
    machines: int = 3
    invoices: bool = True
    calls: bool = True
    colour_every: int = 2  # every n-th machine has a colour meter
    status: str = "Active"
    seed: int = 1


def reference_rows() -> Rows:
    """Sites, salesmen and contract types shared by every sample contract."""
    return {
        "site": [{"site_id": 1, "site_name": "Durban"}, {"site_id": 2, "site_name": "Pretoria"}],
        "employee": [
            {
                "employee_id": 1,
                "login_name": "jsmith",
                "full_name": "John Smith",
                "email": "jsmith@example.test",
                "is_crm_administrator": False,
            },
            {
                "employee_id": 2,
                "login_name": "admin",
                "full_name": "Ann Admin",
                "email": "admin@example.test",
                "is_crm_administrator": True,
            },
        ],
        "contract_type": [
            {"contract_type_id": i, "description": d}
            for i, d in enumerate(("Service", "Rental", "Prepaid", "Short Term"), start=1)
        ],
    }


def _cents(value: int) -> Decimal:
    return Decimal(value).scaleb(-2)


def contract_rows(spec: SampleContract, today: dt.date) -> Rows:
    """Customer, contact, contract, machines, monthly invoice lines and service calls of `spec`."""
    rng = random.Random(spec.seed * 7919 + spec.base)
    b = spec.base
    rows: Rows = {name: [] for name in ORDER}
    rows["customer"].append(
        {
            "customer_id": b,
            "account_no": f"ACC{b:06d}",
            "customer_name": f"Sample Customer {b}",
            "site_id": 1,
            "status": "Active",
            "tel": "031 555 0100",
            "email": f"accounts{b}@customer.test",
            "modified_date": dt.datetime(2024, 1, 1, 8, 0),
        }
    )
    rows["customer_salesman"].append({"customer_id": b, "employee_id": 1, "is_main": True})
    rows["customer_contact"].append(
        {
            "contact_id": b,
            "customer_id": b,
            "name": "Pat Buyer",
            "tel": None,
            "cell": "082 555 0101",
            "email": f"pat{b}@customer.test",
        }
    )
    rows["contract"].append(
        {
            "contract_id": b,
            "contract_no": spec.contract_no,
            "customer_id": b,
            "contract_type_id": 1,
            "site_id": 1,
            "status": spec.status,
            "start_date": spec.start,
            "expiry_date": spec.expiry,
            "billing_cycle": "Monthly",
            "modified_date": dt.datetime(2024, 1, 1, 8, 0),
        }
    )
    assets = []
    for i in range(spec.machines):
        asset_id = b + i
        assets.append(asset_id)
        rows["asset"].append(
            {
                "asset_id": asset_id,
                "serial_no": f"SN{asset_id:08d}",
                "model_no": f"MX-{3000 + i % 4 * 100}",
                "part_code": f"P{i % 4}",
                "description": "Multifunction copier",
            }
        )
        rows["contract_item"].append(
            {
                "contract_item_id": asset_id,
                "contract_id": b,
                "asset_id": asset_id,
                "location_desc": f"Floor {i + 1}",
            }
        )
    end = min(today, spec.expiry) if spec.expiry else today
    line_id, call_id = b * 1000, b * 1000
    month = spec.start.replace(day=1)
    while month <= end.replace(day=1):
        day = min(add_months(month, 1) - dt.timedelta(days=1), end)
        if spec.invoices and day >= spec.start:
            lines: list[tuple[str, int | None, str | None, int | None, int]] = [
                ("Fee", None, None, None, rng.randint(50_000, 900_000))
            ]
            for i, asset_id in enumerate(assets):
                mono = rng.randint(200, 20_000)
                lines.append(("Meter", asset_id, "Mono", mono, mono * rng.randint(8, 30)))
                if i % spec.colour_every == 0:
                    colour = rng.randint(0, 4_000)
                    lines.append(("Meter", asset_id, "Colour", colour, colour * rng.randint(80, 160)))
            if rng.random() < 0.3:
                lines.append(("MinBilling", None, None, None, rng.randint(1, 50_000)))
            for line_type, line_asset, meter_type, volume, cents in lines:
                line_id += 1
                rows["invoice_line"].append(
                    {
                        "invoice_line_id": line_id,
                        "contract_id": b,
                        "invoice_date": day,
                        "line_type": line_type,
                        "asset_id": line_asset,
                        "meter_type": meter_type,
                        "volume": volume,
                        "amount": _cents(cents),
                        "modified_date": dt.datetime.combine(day, dt.time(6, 30)),
                    }
                )
        if spec.calls and assets:
            for _ in range(rng.choice((0, 1, 1, 2))):
                logged = dt.datetime.combine(month + dt.timedelta(days=rng.randint(0, 27)), dt.time(9, 15))
                if logged.date() > end or logged.date() < spec.start:
                    continue
                call_id += 1
                rows["service_call"].append(
                    {
                        "call_id": call_id,
                        "call_no": f"SC{call_id:08d}",
                        "customer_id": b,
                        "contract_id": b,
                        "asset_id": rng.choice(assets) if rng.random() < 0.9 else None,
                        "logged_date": logged,
                        "closed_date": logged + dt.timedelta(hours=5),
                        "status": "Closed",
                        "modified_date": logged + dt.timedelta(hours=5),
                    }
                )
                for cost_type in rng.sample(COST_TYPES, rng.randint(0, 3)):
                    rows["call_cost"].append(
                        {
                            "call_cost_id": call_id * 10 + COST_TYPES.index(cost_type),
                            "call_id": call_id,
                            "cost_type": cost_type,
                            "quantity": Decimal(rng.randint(1, 4)),
                            "cost_amount": _cents(rng.randint(100, 250_000)),
                        }
                    )
        month = add_months(month, 1)
    return rows


def insert_rows(conn: Connection, tables: Mapping[str, Table], rows: Rows) -> None:
    """Insert `rows` (entity -> logical rows) in dependency order."""
    for name in ORDER:
        if rows.get(name):
            conn.execute(tables[name].insert(), rows[name])


def merge(*parts: Rows) -> Rows:
    out: Rows = {}
    for part in parts:
        for name, items in part.items():
            out.setdefault(name, []).extend(items)
    return out
