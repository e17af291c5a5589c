"""The logical BPO2 model: entities and columns by logical (snake_case) name.

Physical names live only in the mapping file. The cache mirrors this model one table per
entity, and the demo generator builds its BPO2-like source from it through the mapping.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType

from sqlalchemy import BigInteger, Boolean, Date, DateTime, Integer, LargeBinary, Numeric, String, Text
from sqlalchemy.types import TypeEngine


@dataclass(frozen=True)
class Col:
    name: str
    type: TypeEngine
    pk: bool = False
    nullable: bool = True
    cached: bool = True  # False: stays in BPO2 (attachment bytes), read on demand


@dataclass(frozen=True)
class Parent:
    """How an entity's rows belong to one customer: through `column` -> parent.parent_column."""

    column: str
    entity: str
    parent_column: str


@dataclass(frozen=True)
class Entity:
    name: str
    columns: tuple[Col, ...]
    # None: global reference data; "customer_id" column: owned directly; Parent: owned via a parent
    customer_link: str | Parent | None = None
    indexes: tuple[tuple[str, ...], ...] = field(default_factory=tuple)

    @property
    def pk(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.pk)

    @property
    def cached_columns(self) -> tuple[Col, ...]:
        return tuple(c for c in self.columns if c.cached)

    def col(self, name: str) -> Col:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name}.{name}")


def _id(name: str, pk: bool = False, nullable: bool = False) -> Col:
    return Col(name, Integer(), pk=pk, nullable=nullable and not pk)


def _s(name: str, length: int, nullable: bool = True) -> Col:
    return Col(name, String(length), nullable=nullable)


def _money(name: str) -> Col:
    return Col(name, Numeric(18, 2))


ENTITIES: tuple[Entity, ...] = (
    Entity("site", (_id("site_id", pk=True), _s("site_name", 60, False))),
    Entity(
        "employee",
        (
            _id("employee_id", pk=True),
            _s("login_name", 60, False),
            _s("full_name", 100, False),
            _s("email", 120),
            Col("is_crm_administrator", Boolean(), nullable=False),
        ),
        indexes=(("login_name",),),
    ),
    Entity(
        "customer",
        (
            _id("customer_id", pk=True),
            _s("account_no", 20, False),
            _s("customer_name", 120, False),
            _id("site_id", nullable=True),
            _s("status", 20, False),
            _s("tel", 30),
            _s("email", 120),
            Col("modified_date", DateTime()),
        ),
        customer_link="customer_id",
        indexes=(("account_no",), ("customer_name",)),
    ),
    Entity(
        "customer_salesman",
        (_id("customer_id", pk=True), _id("employee_id", pk=True), Col("is_main", Boolean(), nullable=False)),
        customer_link="customer_id",
        indexes=(("employee_id", "customer_id"),),
    ),
    Entity(
        "customer_contact",
        (
            _id("contact_id", pk=True),
            _id("customer_id"),
            _s("name", 100, False),
            _s("tel", 30),
            _s("cell", 30),
            _s("email", 120),
        ),
        customer_link="customer_id",
        indexes=(("customer_id",),),
    ),
    Entity("contract_type", (_id("contract_type_id", pk=True), _s("description", 60, False))),
    Entity(
        "contract",
        (
            _id("contract_id", pk=True),
            _s("contract_no", 20, False),
            _id("customer_id"),
            _id("contract_type_id"),
            _id("site_id", nullable=True),
            _s("status", 20, False),
            Col("start_date", Date()),
            Col("expiry_date", Date()),
            _s("billing_cycle", 20),
            Col("modified_date", DateTime()),
        ),
        customer_link="customer_id",
        # (customer_id, status, expiry_date): a customer's active / expiring counts read from the
        # index alone (derived_rows counts them for every customer); the grids read contract_row
        indexes=(
            ("customer_id", "status", "expiry_date"),
            ("contract_no",),
        ),
    ),
    Entity(
        "contract_item",
        (_id("contract_item_id", pk=True), _id("contract_id"), _id("asset_id"), _s("location_desc", 120)),
        customer_link=Parent("contract_id", "contract", "contract_id"),
        indexes=(("contract_id",), ("asset_id",)),
    ),
    Entity(
        "asset",
        (
            _id("asset_id", pk=True),
            _s("serial_no", 40, False),
            _s("model_no", 40),
            _s("part_code", 40),
            _s("description", 120),
        ),
        customer_link=Parent("asset_id", "contract_item", "asset_id"),
    ),
    Entity(
        "meter",
        (_id("meter_id", pk=True), _id("asset_id"), _s("meter_type", 10, False)),
        customer_link=Parent("asset_id", "asset", "asset_id"),
        indexes=(("asset_id",),),
    ),
    Entity(
        "meter_reading",
        (
            _id("reading_id", pk=True),
            _id("meter_id"),
            Col("reading_date", Date(), nullable=False),
            Col("reading", BigInteger(), nullable=False),
            Col("modified_date", DateTime()),
        ),
        customer_link=Parent("meter_id", "meter", "meter_id"),
        indexes=(("meter_id", "reading_date"),),
    ),
    Entity(
        "invoice_line",
        (
            _id("invoice_line_id", pk=True),
            _id("contract_id"),
            Col("invoice_date", Date(), nullable=False),
            _s("line_type", 20, False),
            _id("asset_id", nullable=True),
            _s("meter_type", 10),
            Col("volume", BigInteger()),
            _money("amount"),
            Col("modified_date", DateTime()),
        ),
        customer_link=Parent("contract_id", "contract", "contract_id"),
        indexes=(("contract_id", "invoice_date"),),
    ),
    Entity(
        "service_call",
        (
            _id("call_id", pk=True),
            _s("call_no", 20, False),
            _id("customer_id"),
            _id("contract_id", nullable=True),
            _id("asset_id", nullable=True),
            Col("logged_date", DateTime(), nullable=False),
            Col("closed_date", DateTime()),
            _s("status", 20, False),
            Col("modified_date", DateTime()),
        ),
        customer_link="customer_id",
        indexes=(("contract_id",), ("customer_id",)),
    ),
    Entity(
        "call_cost",
        (
            _id("call_cost_id", pk=True),
            _id("call_id"),
            _s("cost_type", 20, False),
            Col("quantity", Numeric(12, 2)),
            _money("cost_amount"),
        ),
        customer_link=Parent("call_id", "service_call", "call_id"),
        indexes=(("call_id",),),
    ),
    Entity(
        "crm_case",
        (
            _id("case_id", pk=True),
            _s("case_no", 20, False),
            _id("customer_id"),
            _id("contact_id", nullable=True),
            _id("salesman_id", nullable=True),
            _s("subject", 200, False),
            Col("information", Text()),
            _s("case_type", 40),
            Col("case_date", DateTime(), nullable=False),
            _s("status", 20, False),
            Col("modified_date", DateTime()),
        ),
        customer_link="customer_id",
        indexes=(("customer_id",), ("case_no",)),
    ),
    Entity(
        "activity",
        (
            _id("activity_id", pk=True),
            _id("case_id", nullable=True),
            _id("customer_id"),
            _s("activity_type", 40, False),
            _s("subject", 200, False),
            Col("scheduled_for", DateTime()),
            _id("salesman_id", nullable=True),
            Col("completed", Boolean(), nullable=False),
            Col("completed_date", DateTime()),
            Col("modified_date", DateTime()),
        ),
        customer_link="customer_id",
        # a salesman's own (Home's Today and Recent "mine"): their few rows, not every one of
        # the day or fortnight tested for the salesman
        indexes=(
            ("scheduled_for",),
            ("modified_date",),
            ("customer_id",),
            ("salesman_id", "scheduled_for"),
            ("salesman_id", "modified_date"),
        ),
    ),
    Entity(
        "case_attachment",
        (
            _id("file_id", pk=True),
            _id("case_id"),
            _id("customer_id"),
            _s("file_name", 255, False),
            _s("content_type", 100),
            Col("file_size", BigInteger()),
            _s("uploaded_by", 100),
            Col("uploaded_date", DateTime()),
            Col("content", LargeBinary(), cached=False),
            _s("file_path", 400),
        ),
        customer_link="customer_id",
        indexes=(("customer_id",), ("case_id",)),
    ),
)

BY_NAME: MappingProxyType[str, Entity] = MappingProxyType({e.name: e for e in ENTITIES})


def entity(name: str) -> Entity:
    try:
        return BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown entity {name!r}") from None
