"""CRM rows of one customer: cases owned by different salesmen, their activities (some
scheduled today, many changed in the last 14 days) and attachments as real small files,
most stored as bytes in the database and some as files under the share folder."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from . import content as c
from . import samples
from .world import Customer, Employee, World


@dataclass(frozen=True)
class CasePlan:
    status: str
    owner: Employee
    attachments: tuple[tuple[str, bool], ...] | None = None  # (extension, stored as a path)


def emit_crm(world: World, customer: Customer) -> None:
    rng = world.rng
    if customer.index == 1:
        other = world.salesman(c.DEMO_OTHER_SALESMAN_LOGIN)
        plans = [
            CasePlan("Open", customer.main, (("pdf", False), ("png", True), ("txt", False))),
            CasePlan("Closed", customer.main, (("txt", True), ("pdf", False))),
            CasePlan("Won", customer.main, (("png", False),)),
            CasePlan("Open", other, (("pdf", False),)),  # another salesman's open case
        ]
    else:
        plans = [_case_plan(world, customer) for _ in range(rng.randint(*world.profile.cases))]
    open_cases = []
    for plan in plans:
        case = _emit_case(world, customer, plan)
        if plan.status == "Open":
            open_cases.append((case, plan.owner))
    # Today's agenda: forced for the first customers so every salesman has rows on the Today tab.
    if customer.index <= 2 * len(world.salesmen) or rng.random() < world.profile.today_share:
        for _ in range(rng.randint(1, 2)):
            case_id, owner = rng.choice(open_cases) if open_cases else (None, customer.main)
            _emit_activity(world, customer, case_id, owner, today=True)
    if customer.index == 1 and open_cases:
        case_id, owner = open_cases[-1]
        _emit_activity(world, customer, case_id, owner, today=True)


def _case_plan(world: World, customer: Customer) -> CasePlan:
    rng = world.rng
    status = c.weighted(rng.random(), c.CASE_STATUSES)
    roll = rng.random()
    if roll < 0.7 or not customer.linked:
        owner = customer.main if roll < 0.9 else rng.choice(world.salesmen)
    else:
        owner = rng.choice(customer.linked)
    return CasePlan(status, owner)


def _subject(world: World, customer: Customer, templates: Mapping[str, tuple[str, ...]], kind: str) -> str:
    rng = world.rng
    month = (world.today.replace(day=1) - dt.timedelta(days=1)).strftime("%B %Y")
    return rng.choice(templates[kind]).format(
        place=rng.choice(c.LOCATIONS),
        contract=rng.choice(customer.contract_nos) if customer.contract_nos else "on file",
        model=rng.choice(customer.models) if customer.models else "the copier",
        month=month,
        contact=rng.choice(customer.contact_names),
    )


def _emit_case(world: World, customer: Customer, plan: CasePlan) -> int:
    rng = world.rng
    case_id = world.next_id("crm_case")
    case_no = f"CS{case_id:06d}"
    case_type = rng.choice(c.CASE_TYPES)
    subject = _subject(world, customer, c.CASE_SUBJECTS, case_type)
    if plan.status == "Open":
        opened = world.at(world.days_ago(1, 60))
        modified = world.recent() if rng.random() < 0.6 else opened
    else:
        opened = world.at(world.days_ago(30, 700))
        modified = opened + dt.timedelta(days=rng.randint(3, 25), hours=rng.randint(0, 8))
    information = (
        f"{subject}. Raised with {rng.choice(customer.contact_names)} of {customer.name}. "
        f"Account {customer.account_no}; {len(customer.contract_nos)} contract(s) on file. "
        f"Next step agreed with the customer and noted in the activities."
    )
    world.emit(
        "crm_case",
        {
            "case_id": case_id,
            "case_no": case_no,
            "customer_id": customer.customer_id,
            "contact_id": rng.choice(customer.contact_ids),
            "salesman_id": plan.owner.employee_id,
            "subject": subject,
            "information": information,
            "case_type": case_type,
            "case_date": opened,
            "status": plan.status,
            "modified_date": modified,
        },
    )
    for _ in range(rng.randint(1, 3)):
        _emit_activity(world, customer, case_id, plan.owner, closed_case=plan.status != "Open", opened=opened)
    attachments = plan.attachments
    if attachments is None:
        attachments = tuple(
            (rng.choice(("pdf", "pdf", "png", "txt")), rng.random() < 0.2)
            for _ in range(rng.randint(*world.profile.attachments))
        )
    for extension, as_path in attachments:
        _emit_attachment(world, customer, case_id, case_no, subject, plan.owner, opened, extension, as_path)
    return case_id


def _emit_activity(
    world: World,
    customer: Customer,
    case_id: int | None,
    owner: Employee,
    *,
    today: bool = False,
    closed_case: bool = False,
    opened: dt.datetime | None = None,
) -> None:
    rng = world.rng
    kind = rng.choice(c.ACTIVITY_TYPES)
    subject = _subject(world, customer, c.ACTIVITY_SUBJECTS, kind)
    completed_date = None
    if today:
        slot = rng.randrange(18)  # half-hour slots from 08:00
        scheduled = dt.datetime.combine(world.today, dt.time(8 + slot // 2, 30 * (slot % 2)))
        modified = world.recent()
    elif closed_case or rng.random() < 0.5:
        base = opened or world.at(world.days_ago(15, 400))
        scheduled = min(base + dt.timedelta(days=rng.randint(0, 20)), world.at(world.days_ago(1, 2)))
        completed_date = scheduled + dt.timedelta(hours=rng.randint(0, 6))
        modified = completed_date if rng.random() < 0.7 else world.recent()
    else:
        scheduled = world.at(world.today + dt.timedelta(days=rng.randint(1, 30)))
        modified = world.recent()
    world.emit(
        "activity",
        {
            "activity_id": world.next_id("activity"),
            "case_id": case_id,
            "customer_id": customer.customer_id,
            "activity_type": kind,
            "subject": subject,
            "scheduled_for": scheduled,
            "salesman_id": owner.employee_id,
            "completed": completed_date is not None,
            "completed_date": completed_date,
            "modified_date": max(modified, completed_date) if completed_date else modified,
        },
    )


FILE_TITLES = MappingProxyType(
    {
        "pdf": ("Quotation", "Signed Contract", "Service Report", "Proposal"),
        "png": ("Meter Photo", "Machine Placement", "Error Screen"),
        "txt": ("Site Notes", "Call Notes", "Meeting Notes"),
    }
)


def _emit_attachment(
    world: World,
    customer: Customer,
    case_id: int,
    case_no: str,
    subject: str,
    owner: Employee,
    opened: dt.datetime,
    extension: str,
    as_path: bool,
) -> None:
    rng = world.rng
    file_id = world.next_id("case_attachment")
    title = rng.choice(FILE_TITLES[extension])
    file_name = f"{title} {case_no}.{extension}"
    lines = [f"Customer: {customer.name} ({customer.account_no})", f"Case: {case_no} - {subject}"]
    if extension == "pdf":
        data = samples.pdf_bytes(title, [*lines, f"Prepared by {owner.full_name}"])
    elif extension == "png":
        colour = (rng.randrange(40, 160), rng.randrange(40, 160), rng.randrange(40, 160))
        data = samples.png_bytes(48, 32, colour)
    else:
        data = samples.text_bytes(title, [*lines, f"Noted by {owner.full_name}."])
    uploaded = min(opened + dt.timedelta(days=rng.randint(0, 10)), world.at(world.yesterday, 16, 17))
    relative = None
    if as_path:
        relative = f"cases/{case_no}/{file_id}-{file_name}"
        world.share.write(relative, data)
    world.emit(
        "case_attachment",
        {
            "file_id": file_id,
            "case_id": case_id,
            "customer_id": customer.customer_id,
            "file_name": file_name,
            "content_type": samples.CONTENT_TYPES[extension],
            "file_size": len(data),
            "uploaded_by": owner.full_name,
            "uploaded_date": uploaded,
            "content": None if as_path else data,
            "file_path": relative,
            "modified_date": world.stamp(uploaded, file_id),
        },
    )
