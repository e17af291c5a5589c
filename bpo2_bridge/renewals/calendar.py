"""A user's calendar feed (RFC 5545): one all-day event per contract he may see expiring
within calendar_horizon_months, on its expiry date, with a reminder calendar_alarm_days before.

Each event's UID is made from the contract's id alone, so a calendar program that fetches the
feed again updates the events it has (a moved expiry date moves the event) instead of adding
copies. Excluded statuses are left out, as everywhere a contract counts as expiring.
"""

from __future__ import annotations

import datetime as dt

from icalendar import Alarm, Calendar, Event

from ..bridge import Bridge
from ..queries.crm import Viewer
from ..queries.windows import add_months
from .desk import flag_label
from .expiries import Expiring, expiring_between, report_url

PRODID = "-//bpo2-bridge//contract expiries//EN"
UID_DOMAIN = "bpo2-bridge"


def uid(contract: Expiring) -> str:
    return f"contract-{contract.contract_id}-expiry@{UID_DOMAIN}"


def _event(contract: Expiring, link: str, alarm_days: int, stamp: dt.datetime) -> Event:
    event = Event()
    event.add("uid", uid(contract))
    event.add("dtstamp", stamp)
    event.add("dtstart", contract.expiry_date)  # a date: an all-day event
    event.add("dtend", contract.expiry_date + dt.timedelta(days=1))
    event.add("summary", f"Contract {contract.contract_no} expires — {contract.customer_name}")
    flags = ", ".join(flag_label(f) for f in contract.flags)
    event.add(
        "description",
        f"{contract.customer_name} ({contract.account_no}), {contract.contract_type or 'contract'} "
        f"{contract.contract_no}, status {contract.status}, expires {contract.expiry_date.isoformat()}."
        + (f" Flags: {flags}." if flags else "")
        + f"\nReport: {link}",
    )
    event.add("url", link)
    event.add("transp", "TRANSPARENT")  # a reminder, not time the user is busy
    alarm = Alarm()
    alarm.add("action", "DISPLAY")
    alarm.add("description", f"Contract {contract.contract_no} expires on {contract.expiry_date.isoformat()}")
    alarm.add("trigger", dt.timedelta(days=-alarm_days))
    event.add_component(alarm)
    return event


def feed(bridge: Bridge, user: Viewer, name: str) -> bytes:
    """The feed of `user` (named `name` in calendar programs), as iCalendar bytes."""
    settings = bridge.settings
    today = bridge.today()
    last = add_months(today, settings.calendar_horizon_months)
    with bridge.cache.connect() as conn:
        contracts = expiring_between(conn, settings, user, today, last, today=today)
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", f"Contract expiries — {name}")
    stamp = dt.datetime.now(dt.UTC).replace(microsecond=0)
    for contract in contracts:
        link = report_url(settings.base_url, contract.contract_no)
        calendar.add_component(_event(contract, link, settings.calendar_alarm_days, stamp))
    return bytes(calendar.to_ical())
