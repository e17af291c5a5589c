"""Emailing the report: address checks, the per-user hourly limit, SMTP, and the email log.

Every attempt that gets past the address checks is written to the store's email_log with who,
to whom, when, which contract and the outcome (sent, failed, refused: a subject that could write
headers of its own, or the hourly limit). The hourly limit counts a
user's sent and failed attempts in the last hour, so a broken mail server cannot be hammered either.
"""

from __future__ import annotations

import datetime as dt
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, getaddresses, make_msgid
from typing import Any

from sqlalchemy import Engine, func, insert, select

from ..settings import Settings
from ..store.database import email_log
from .figures import Report
from .formatting import NumberFormat

MAX_RECIPIENTS = 20
LIMIT_WINDOW = dt.timedelta(hours=1)


class EmailError(Exception):
    """The email was not sent; the message tells the user why."""


class InvalidInput(EmailError):
    """A field of the email was refused (400 on the web, exit 2 on the CLI)."""


class InvalidAddress(InvalidInput):
    pass


class InvalidSubject(InvalidInput):
    pass


class LimitReached(EmailError):
    pass


class SendFailed(EmailError):
    pass


@dataclass(frozen=True)
class Outgoing:
    to: list[str]
    cc: list[str]
    subject: str
    message: str


def parse_addresses(raw: str, label: str, *, required: bool) -> list[str]:
    """Addresses from a To/Cc field (commas or semicolons), each checked; InvalidAddress if not."""
    text = (raw or "").replace(";", ",").strip()
    if not text:
        if required:
            raise InvalidAddress(f"{label}: enter at least one email address.")
        return []
    out = []
    for piece in (p.strip() for p in text.split(",")):
        if not piece:
            continue
        parsed = getaddresses([piece])
        if len(parsed) != 1:
            raise InvalidAddress(f"{label}: {piece!r} is not one email address.")
        name, address = parsed[0]
        local, at, domain = address.rpartition("@")
        if (
            not at
            or not local
            or not domain
            or "." not in domain.strip(".")
            or any(ch.isspace() or ch in '<>,;"()[]\\' for ch in address)
        ):
            raise InvalidAddress(f"{label}: {piece!r} is not a valid email address.")
        out.append(formataddr((name, address)) if name else address)
    if len(out) > MAX_RECIPIENTS:
        raise InvalidAddress(f"{label}: at most {MAX_RECIPIENTS} addresses.")
    return out


MAX_SUBJECT = 250


def subject_problem(subject: str) -> str | None:
    """Why a subject cannot be sent, or None. A line break would let the text write headers of
    its own (header injection); other control characters have no place in a subject either."""
    if any(ch in subject for ch in "\r\n\x0b\x0c\x85\u2028\u2029"):
        return "Subject: must be one line (no line breaks)."
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in subject):
        return "Subject: must not contain control characters."
    if len(subject) > MAX_SUBJECT:
        return f"Subject: at most {MAX_SUBJECT} characters."
    return None


def default_recipient(report: Report) -> str:
    """The customer's email, else the first contact with one."""
    if report.contract.get("customer_email"):
        return str(report.contract["customer_email"])
    return report.recipients[0]["email"] if report.recipients else ""


def default_subject(report: Report, settings: Settings) -> str:
    c = report.contract
    return f"Contract Performance report {c['contract_no']} — {c['customer_name']} ({settings.company_name})"


def default_message(report: Report, settings: Settings, sender: str) -> str:
    c = report.contract
    numbers = NumberFormat.from_settings(settings)
    return (
        f"Good day,\n\n"
        f"Please find attached the Contract Performance report for contract {c['contract_no']} "
        f"({c['customer_name']}) as of {report.today.isoformat()}.\n\n"
        f"Revenue to date: {numbers.money(report.to_date.revenue_total)}; "
        f"last 12 months: {numbers.money(report.last_12.revenue_total)}.\n\n"
        f"Kind regards,\n{sender}\n{settings.company_name}\n"
    )


def attempts_in_last_hour(store: Engine, user_login: str, now: dt.datetime) -> int:
    with store.connect() as conn:
        return int(
            conn.execute(
                select(func.count())
                .select_from(email_log)
                .where(
                    email_log.c.user_login == user_login,
                    email_log.c.sent_at > now - LIMIT_WINDOW,
                    email_log.c.outcome.in_(("sent", "failed")),
                )
            ).scalar_one()
        )


def _log(store: Engine, **values: Any) -> None:
    with store.begin() as conn:
        conn.execute(insert(email_log).values(**values))


def build_message(settings: Settings, outgoing: Outgoing, pdf: bytes, filename: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = settings.mail_from
    msg["To"] = ", ".join(outgoing.to)
    if outgoing.cc:
        msg["Cc"] = ", ".join(outgoing.cc)
    msg["Subject"] = outgoing.subject
    msg["Message-ID"] = make_msgid(domain=settings.mail_from.rpartition("@")[2] or None)
    msg.set_content(outgoing.message)
    msg.add_attachment(pdf, maintype="application", subtype="pdf", filename=filename)
    return msg


def _deliver(settings: Settings, msg: EmailMessage) -> dict[str, Any]:
    """Hand `msg` to the SMTP server of the settings; the refused recipients come back."""
    host, port, timeout = settings.smtp_host, settings.smtp_port, settings.smtp_timeout
    smtp: smtplib.SMTP
    if settings.smtp_security == "ssl":
        smtp = smtplib.SMTP_SSL(host, port, timeout=timeout, context=ssl.create_default_context())
    else:
        smtp = smtplib.SMTP(host, port, timeout=timeout)
    with smtp:
        if settings.smtp_security == "starttls":
            smtp.starttls(context=ssl.create_default_context())
        if settings.smtp_user:
            smtp.login(settings.smtp_user, settings.smtp_password)
        return dict(smtp.send_message(msg))


def _reason(exc: BaseException, settings: Settings) -> str:
    where = f"{settings.smtp_host}:{settings.smtp_port}"
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return f"the mail server {where} did not accept the user name or password"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "the mail server refused every recipient"
    if isinstance(exc, smtplib.SMTPResponseException):
        detail = (
            exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else exc.smtp_error
        )
        return f"the mail server {where} answered {exc.smtp_code} {detail}".strip()
    if isinstance(exc, (TimeoutError, smtplib.SMTPServerDisconnected)):
        return f"the mail server {where} did not answer in time or closed the connection"
    if isinstance(exc, ssl.SSLError):
        return f"a secure connection to the mail server {where} failed ({exc.reason or exc})"
    if isinstance(exc, OSError):
        return f"the mail server {where} could not be reached ({exc.strerror or exc})"
    return f"{type(exc).__name__}: {exc}"


def send_report(
    settings: Settings,
    store: Engine,
    *,
    user_login: str,
    contract_no: str,
    outgoing: Outgoing,
    pdf: bytes,
    filename: str,
    now: dt.datetime | None = None,
) -> str:
    """Send the report PDF; the confirmation for the user, or EmailError saying why not."""
    now = now or settings.now()
    entry = {
        "sent_at": now,
        "user_login": user_login,
        "contract_no": contract_no,
        "to_addr": ", ".join(outgoing.to),
        "cc_addr": ", ".join(outgoing.cc) or None,
        "subject": outgoing.subject,
    }
    problem = subject_problem(outgoing.subject)
    if problem is not None:
        # recorded like every other attempt (who tried what); refused attempts do not count
        # towards the hourly limit
        _log(store, **entry, outcome="refused", error=problem)
        raise InvalidSubject(problem)
    limit = settings.email_hourly_limit
    if attempts_in_last_hour(store, user_login, now) >= limit:
        message = f"You have reached the limit of {limit} report emails per hour. Please try again later."
        _log(store, **entry, outcome="refused", error=message)
        raise LimitReached(message)
    try:
        refused = _deliver(settings, build_message(settings, outgoing, pdf, filename))
    except (smtplib.SMTPException, OSError) as exc:
        reason = _reason(exc, settings)
        _log(store, **entry, outcome="failed", error=reason)
        raise SendFailed(f"The email was not sent: {reason}.") from exc
    note = f"refused by the server: {', '.join(sorted(refused))}" if refused else None
    _log(store, **entry, outcome="sent", error=note)
    recipients = ", ".join(outgoing.to + outgoing.cc)
    done = f"The report for {contract_no} was emailed to {recipients}."
    return f"{done} Some recipients were {note}." if note else done


def send_logged(
    settings: Settings, store: Engine, msg: EmailMessage, *, user_login: str, what: str, now: dt.datetime
) -> None:
    """Send a message the bridge composed itself (the weekly digest) and log it as `what` in the
    contract column; SendFailed (logged too) when the server did not take it."""
    entry = {
        "sent_at": now,
        "user_login": user_login,
        "contract_no": what,
        "to_addr": str(msg["To"]),
        "cc_addr": None,
        "subject": str(msg["Subject"]),
    }
    try:
        refused = _deliver(settings, msg)
    except (smtplib.SMTPException, OSError) as exc:
        reason = _reason(exc, settings)
        _log(store, **entry, outcome="failed", error=reason)
        raise SendFailed(reason) from exc
    note = f"refused by the server: {', '.join(sorted(refused))}" if refused else None
    _log(store, **entry, outcome="sent", error=note)
