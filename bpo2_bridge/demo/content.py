"""What the demo BPO2 is made of: sizes, people, places, machines and words.

Everything here is fixed data; the generator draws from it with one seeded random source, so
the same seed and `today` always give the same database.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True)
class Profile:
    """How much of everything one demo size holds."""

    customers: int
    salesmen: int
    contracts: tuple[int, int]  # contracts per customer (inclusive range)
    machines: tuple[int, ...]  # machines per contract, drawn uniformly from this tuple
    reading_months: int  # monthly readings kept per meter (the last months of service)
    invoice_months: int  # billed months per contract (the most recent ones)
    call_rate: float  # chance of a service call per contract and billed month
    cases: tuple[int, int]  # cases per customer
    attachments: tuple[int, int]  # attachments per case
    today_share: float  # share of customers with an activity scheduled today
    bench_customer: bool  # include the customer with exactly BENCH_CUSTOMER_CONTRACTS contracts


PROFILES: MappingProxyType[str, Profile] = MappingProxyType(
    {
        # the smallest build that still has every category (tests on slow drivers)
        "tiny": Profile(20, 3, (2, 4), (1, 2), 6, 6, 0.2, (1, 3), (1, 2), 0.5, False),
        "small": Profile(300, 9, (1, 6), (1, 1, 2, 3), 24, 24, 0.08, (0, 4), (0, 2), 0.3, True),
        "large": Profile(50_000, 60, (16, 26), (1, 1, 1, 1, 2), 4, 1, 0.05, (0, 2), (0, 1), 0.03, True),
    }
)
SIZES = tuple(PROFILES)

# Demo logins (BPO2 employees): a salesman with customers, cases and today's activities,
# a second salesman, and a CRM administrator who sees every customer.
DEMO_SALESMAN_LOGIN = "sales1"
DEMO_OTHER_SALESMAN_LOGIN = "sales2"
DEMO_ADMIN_LOGIN = "admin"

# Benchmark rows: the customer with exactly 200 contracts (small and large builds) and the
# contract with 36 months of history on 10 machines (every build).
BENCH_CUSTOMER_ACCOUNT = "ACC00002"
BENCH_CUSTOMER_CONTRACTS = 200
BENCH_CONTRACT_NO = "CPC0000001"
BENCH_CONTRACT_MONTHS = 36
BENCH_CONTRACT_MACHINES = 10

SITES = ("Durban", "Pretoria", "Johannesburg", "Cape Town", "Port Elizabeth")
SITE_AREA_CODES = ("031", "012", "011", "021", "041")

CONTRACT_TYPES = ("Service", "Rental", "Prepaid", "Short Term")
CUSTOMER_STATUSES = (("Active", 80), ("Released", 12), ("New - CRM", 8))

# (login, full name, CRM administrator, salesman)
NAMED_EMPLOYEES = (
    (DEMO_ADMIN_LOGIN, "Thandi Mokoena", True, False),
    (DEMO_SALESMAN_LOGIN, "Ravi Naidoo", False, True),
    (DEMO_OTHER_SALESMAN_LOGIN, "Pieter van der Merwe", False, True),
    ("jnaidoo", "Jayden Naidoo", False, True),
    ("lpillay", "Leshni Pillay", False, True),
    ("snkosi", "Sibusiso Nkosi", False, True),
    ("mmaharaj", "Mohan Maharaj", True, True),
    ("dbotha", "Danie Botha", False, True),
    ("kgovender", "Kavitha Govender", False, True),
    ("zdlamini", "Zanele Dlamini", False, True),
)

FIRST_NAMES = (
    "Aisha", "Bongani", "Charl", "Deshni", "Ettienne", "Fatima", "Gugu", "Hendrik", "Imran", "Jabu",
    "Karen", "Lerato", "Marius", "Nomvula", "Oupa", "Priya", "Riaan", "Sanele", "Tanya", "Vusi",
    "Willem", "Yusuf", "Zodwa", "Anton", "Busisiwe", "Candice", "Dumisani", "Elize", "Kagiso", "Naledi",
)  # fmt: skip
LAST_NAMES = (
    "Naidoo", "Pillay", "Govender", "Dlamini", "Nkosi", "Botha", "Pretorius", "Mokoena", "Maharaj",
    "Khumalo", "Smith", "Van Wyk", "Ndlovu", "Moodley", "Du Plessis", "Mthembu", "Jacobs", "Singh",
    "Fourie", "Zulu", "Coetzee", "Chetty", "Mahlangu", "Venter", "Petersen", "Sithole", "Reddy",
)  # fmt: skip

NAME_PLACES = (
    "Umhlanga", "Berea", "Sandton", "Hatfield", "Rosebank", "Bellville", "Summerstrand", "Ballito",
    "Menlyn", "Midrand", "Pinetown", "Westville", "Centurion", "Stellenbosch", "Newton Park", "Kloof",
    "Durbanville", "Brooklyn", "Fourways", "Walmer", "Gateway", "Waterfall", "Tygervalley", "Ridgeside",
)  # fmt: skip
NAME_TRADES = (
    "Office", "Legal", "Medical", "Logistics", "Engineering", "Accounting", "Property", "Motors",
    "Print", "Insurance", "Freight", "Dental", "Schools", "Pharmacy", "Architects", "Auditors",
)  # fmt: skip
NAME_KINDS = ("Solutions", "Group", "Partners", "Holdings", "Services", "Associates", "Trading", "Consulting")
NAME_SUFFIXES = ("(Pty) Ltd", "(Pty) Ltd", "CC", "Inc", "")


@dataclass(frozen=True)
class MachineModel:
    model_no: str
    part_code: str
    description: str
    serial_prefix: str
    colour: bool
    mono_volume: int  # typical pages per month
    colour_volume: int


MACHINE_MODELS = (
    MachineModel("MP 2555", "417958", "Ricoh MP 2555 A3 mono MFP", "E17", False, 6000, 0),
    MachineModel("MP C3004", "417999", "Ricoh MP C3004 A3 colour MFP", "C76", True, 4500, 2200),
    MachineModel("IM C3000", "418262", "Ricoh IM C3000 A3 colour MFP", "3C1", True, 5000, 2500),
    MachineModel(
        "bizhub C300i", "AA2J021", "Konica Minolta bizhub C300i A3 colour MFP", "AA2J", True, 5500, 3000
    ),
    MachineModel(
        "bizhub 4050i", "AAJR021", "Konica Minolta bizhub 4050i A4 mono MFP", "AAJR", False, 4000, 0
    ),
    MachineModel(
        "TASKalfa 3253ci", "1102RL3NL0", "Kyocera TASKalfa 3253ci A3 colour MFP", "RVP", True, 6000, 2800
    ),
    MachineModel(
        "ECOSYS M3655idn", "1102TB3NL0", "Kyocera ECOSYS M3655idn A4 mono MFP", "R4M", False, 3500, 0
    ),
    MachineModel(
        "iR-ADV DX C3826i", "4911C005", "Canon imageRUNNER ADVANCE DX C3826i", "2ZB", True, 5000, 2400
    ),
    MachineModel(
        "VersaLink C7025", "C7025V_S", "Xerox VersaLink C7025 A3 colour MFP", "3TB", True, 4000, 2000
    ),
    MachineModel("AltaLink B8045", "B8045V_F", "Xerox AltaLink B8045 A3 mono MFP", "MX6", False, 12000, 0),
)
LOCATIONS = (
    "Reception", "Accounts", "Boardroom", "1st Floor", "2nd Floor", "Warehouse", "Admin Office",
    "Dispatch", "Sales Office", "Print Room", "Staff Room", "Branch Office",
)  # fmt: skip

CASE_TYPES = ("Sales Opportunity", "Renewal", "Service Complaint", "Upgrade", "Query")
CASE_SUBJECTS = MappingProxyType(
    {
        "Sales Opportunity": (
            "Additional colour device for {place}",
            "Quote for A4 printers",
            "Scanning solution",
        ),
        "Renewal": (
            "Renewal of contract {contract}",
            "Contract renewal discussion",
            "Early upgrade on renewal",
        ),
        "Service Complaint": (
            "Paper jams on {model}",
            "Poor print quality on {model}",
            "Slow response times",
        ),
        "Upgrade": ("Upgrade {model} to a faster model", "Add finisher to {model}", "Move to managed print"),
        "Query": ("Meter reading query", "Invoice query for {month}", "Minimum billing query"),
    }
)
CASE_STATUSES = (("Open", 40), ("Closed", 30), ("Won", 15), ("Lost", 15))
ACTIVITY_TYPES = ("Meeting", "Email", "Phone Call", "Site Inspection")
ACTIVITY_SUBJECTS = MappingProxyType(
    {
        "Meeting": ("Meet {contact} about proposal", "Quarterly business review", "Present renewal options"),
        "Email": ("Send quotation to {contact}", "Email meter history", "Follow up on proposal"),
        "Phone Call": ("Call {contact} re renewal", "Confirm delivery date", "Check on service satisfaction"),
        "Site Inspection": ("Site survey for new device", "Inspect print room", "Check machine placement"),
    }
)
CALL_STATUSES_OPEN = ("Open", "In Progress", "Awaiting Parts")
# cost type: (unit cost range in cents, quantity choices)
CALL_COSTS = MappingProxyType(
    {
        "Labour": ((45_000, 45_000), (0.5, 1.0, 1.5, 2.0, 3.0)),
        "Travel": ((450, 450), (12, 25, 40, 65, 110)),
        "Part": ((15_000, 350_000), (1, 1, 2)),
        "Toner": ((60_000, 240_000), (1, 1, 2)),
        "Other": ((5_000, 50_000), (1,)),
    }
)


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day `months` later, clamped to the month's end (31 Jan + 1 = 28/29 Feb)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(day.day, last))


def weighted(rng_value: float, options: tuple[tuple[str, int], ...]) -> str:
    """Pick from (option, weight) pairs with a uniform number in [0, 1)."""
    total = sum(weight for _, weight in options)
    mark = rng_value * total
    for option, weight in options:
        mark -= weight
        if mark < 0:
            return option
    return options[-1][0]
