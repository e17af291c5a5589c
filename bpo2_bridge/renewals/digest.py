"""The weekly expiry digest: per salesman, the contracts of his customers that expired since
his last digest, those that entered the expiring window since then, and the renewals in the
window that Renewals flags (unprofitable, volume falling, no recent billing, cost rising),
each with a link to its report.

"Since the last digest" counts from the day the user's previous digest went out, kept in the
application store (user_options), so restarts and cache rebuilds change nothing; before a
first digest it is a week. A contract expired since then when its expiry date lies between
that day and yesterday; it entered the window when its expiry date lies after the window's
end as of that day and no later than today's window end.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from importlib.resources import files
from pathlib import Path

import jinja2

from ..bridge import Bridge
from ..queries.crm import employee_by_login
from ..queries.windows import window_end
from ..report.mailer import EmailError, send_logged
from ..store import user_options
from ..store.users import Account, get_user, list_users
from .desk import FLAGS
from .expiries import Expiring, expiring_between, report_url

log = logging.getLogger(__name__)

FIRST_DIGEST_DAYS = 7  # before a user's first digest, "since the last one" is a week
LOG_LABEL = "digest"  # what the email log's contract column says for a digest


class DigestError(ValueError):
    """No digest for this login; the message says why."""


@dataclass  # not frozen: crm.Viewer's employee_id is a plain attribute
class Recipient:
    """A bridge user as the digest sees him (fits crm.Viewer for visibility)."""

    login: str
    employee_id: int | None
    email: str | None
    full_name: str
    sees_all: bool

    @property
    def is_admin(self) -> bool:
        return self.sees_all


@dataclass(frozen=True)
class Digest:
    recipient: Recipient
    since: dt.date
    today: dt.date
    expired: list[Expiring]
    entering: list[Expiring]
    flagged: list[Expiring]
    base_url: str
    company: str
    flag_labels: dict[str, str] = field(default_factory=lambda: dict(FLAGS))

    @property
    def empty(self) -> bool:
        return not (self.expired or self.entering or self.flagged)

    @property
    def subject(self) -> str:
        return (
            f"Expiry digest {self.today.isoformat()}: {len(self.expired)} expired, "
            f"{len(self.entering)} entering the window, {len(self.flagged)} flagged renewals"
        )

    def link(self, contract: Expiring) -> str:
        """The contract's report, as an absolute URL."""
        return report_url(self.base_url, contract.contract_no)

    def sections(self) -> list[tuple[str, str, list[Expiring]]]:
        """(key, title, contracts) of each part, in the order they are read."""
        return [
            ("expired", f"Expired since {self.since.isoformat()}", self.expired),
            ("entering", f"Entered the expiring window since {self.since.isoformat()}", self.entering),
            ("flagged", "Flagged renewals in the expiring window", self.flagged),
        ]

    def text(self) -> str:
        """The plain-text part."""
        lines = [
            f"Expiry digest for {self.recipient.full_name}, {self.today.isoformat()}",
            "",
        ]
        for _key, title, contracts in self.sections():
            lines.append(f"{title}: {len(contracts)}")
            if not contracts:
                lines.append("  (none)")
            for c in contracts:
                flags = ", ".join(self.flag_labels[f] for f in c.flags)
                lines.append(
                    f"  {c.contract_no}  {c.customer_name} ({c.account_no})  expires "
                    f"{c.expiry_date.isoformat()}  margin {percent(c.margin_12m)}  "
                    f"volume trend {percent(c.volume_trend)}" + (f"  [{flags}]" if flags else "")
                )
                lines.append(f"    {self.link(c)}")
            lines.append("")
        lines.append(f"Stop these emails on My settings: {self.base_url}/me/settings")
        lines.append(f"-- {self.company}")
        return "\n".join(lines) + "\n"


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} %"


def _templates() -> jinja2.Environment:
    # the web pages' templates folder: the preview page includes the same partial
    folder = Path(str(files("bpo2_bridge.templates")))
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(folder)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["percent"] = percent
    return env


def html(digest: Digest) -> str:
    """The HTML part: a whole document, styled inline (mail programs drop style sheets)."""
    return _templates().get_template("digest/email.html").render(digest=digest)


def message(bridge: Bridge, digest: Digest) -> EmailMessage:
    settings = bridge.settings
    msg = EmailMessage()
    msg["From"] = settings.mail_from
    msg["To"] = formataddr((digest.recipient.full_name, digest.recipient.email or ""))
    msg["Subject"] = digest.subject
    msg["Message-ID"] = make_msgid(domain=settings.mail_from.rpartition("@")[2] or None)
    msg.set_content(digest.text())
    msg.add_alternative(html(digest), subtype="html")
    return msg


# -- who gets one ------------------------------------------------------------------------


def recipient(bridge: Bridge, account: Account) -> Recipient:
    """The account with its BPO2 employee (as sign-in links them) and what it may see."""
    employee = employee_by_login(bridge, account.employee_login or account.login)
    crm_admin = bool(employee and employee["is_crm_administrator"])
    return Recipient(
        login=account.login,
        employee_id=int(employee["employee_id"]) if employee else None,
        email=(employee or {}).get("email") or None,
        full_name=str(employee["full_name"]) if employee else account.login,
        sees_all=account.role == "admin" or crm_admin,
    )


def recipient_for_login(bridge: Bridge, login: str, *, header_user: bool = False) -> Recipient:
    """The user of this login; DigestError when there is no such account, unless
    `header_user`: in header sign-in mode a login without an account signs in as a user linked
    to the BPO2 employee of the same login (as web.auth builds him)."""
    account = get_user(bridge.store, login)
    if account is None:
        if not header_user:
            raise DigestError(f"no user {login!r}")
        account = Account(
            login=login, role="user", employee_login=login, session_version=0, has_password=False
        )
    return recipient(bridge, account)


def salesmen(bridge: Bridge) -> list[Recipient]:
    """Who the scheduled digest goes to: every user linked to a BPO2 employee with an email
    address who sees only his own customers (administrators see every customer: their list
    would be the whole company's; they can preview it or ask for it with --login)."""
    out = []
    for account in list_users(bridge.store):
        who = recipient(bridge, account)
        if who.employee_id is not None and who.email and not who.sees_all:
            out.append(who)
    return out


# -- building and sending ----------------------------------------------------------------


def since_day(bridge: Bridge, who: Recipient, today: dt.date) -> dt.date:
    last = user_options.last_digest(bridge.store, who.login)
    return last.date() if last else today - dt.timedelta(days=FIRST_DIGEST_DAYS)


def build(
    bridge: Bridge, who: Recipient, *, base_url: str | None = None, today: dt.date | None = None
) -> Digest:
    """The user's digest as of `today` (the settings' today), links under `base_url`
    (default: the public_url setting)."""
    settings = bridge.settings
    today = today or bridge.today()
    since = min(since_day(bridge, who, today), today)
    months = settings.expiring_window_months
    end = window_end(today, months)
    entering_from = max(window_end(since, months) + dt.timedelta(days=1), today)
    with bridge.cache.connect() as conn:
        expired = expiring_between(conn, settings, who, since, today - dt.timedelta(days=1), today=today)
        entering = expiring_between(conn, settings, who, entering_from, end, today=today)
        flagged = expiring_between(conn, settings, who, today, end, today=today, flagged=True)
    return Digest(
        recipient=who,
        since=since,
        today=today,
        expired=expired,
        entering=entering,
        flagged=flagged,
        base_url=(base_url or settings.base_url).rstrip("/"),
        company=settings.company_name,
    )


@dataclass(frozen=True)
class Outcome:
    login: str
    to: str
    outcome: str  # sent | failed | empty | opted_out | no_email | dry_run
    expired: int = 0
    entering: int = 0
    flagged: int = 0
    detail: str = ""


def _outcome(who: Recipient, outcome: str, digest: Digest, detail: str = "") -> Outcome:
    counts = len(digest.expired), len(digest.entering), len(digest.flagged)
    return Outcome(who.login, who.email or "", outcome, *counts, detail=detail)


def send_one(bridge: Bridge, who: Recipient, *, dry_run: bool = False) -> Outcome:
    """Build and (unless `dry_run`) send one user's digest; the last digest time moves on when
    it was sent, or when there was nothing to say (nothing was missed)."""
    to = who.email or ""
    if user_options.digest_opted_out(bridge.store, who.login):
        return Outcome(who.login, to, "opted_out")
    if not to:
        return Outcome(who.login, to, "no_email", detail="no BPO2 employee with an email address")
    digest = build(bridge, who)
    if dry_run:
        return _outcome(who, "dry_run", digest, digest.text())
    now = bridge.settings.now()
    if digest.empty:
        user_options.record_digest(bridge.store, who.login, now)
        return _outcome(who, "empty", digest)
    try:
        send_logged(
            bridge.settings,
            bridge.store,
            message(bridge, digest),
            user_login=who.login,
            what=LOG_LABEL,
            now=now,
        )
    except EmailError as exc:
        log.warning("digest for %s not sent: %s", who.login, exc)
        return _outcome(who, "failed", digest, str(exc))
    user_options.record_digest(bridge.store, who.login, now)
    return _outcome(who, "sent", digest)


def send_digests(bridge: Bridge, *, login: str | None = None, dry_run: bool = False) -> list[Outcome]:
    """Every salesman's digest, or only `login`'s (DigestError for an unknown login)."""
    people = [recipient_for_login(bridge, login)] if login else salesmen(bridge)
    return [send_one(bridge, who, dry_run=dry_run) for who in people]


def run_job(bridge: Bridge) -> list[Outcome]:
    """The scheduled job: sends only while digest_enabled is on."""
    if not bridge.settings.digest_enabled:
        log.info("weekly digest not sent: digest_enabled is off")
        return []
    outcomes = send_digests(bridge)
    sent = sum(1 for o in outcomes if o.outcome == "sent")
    log.info("weekly digest: %d sent of %d salesmen", sent, len(outcomes))
    return outcomes
