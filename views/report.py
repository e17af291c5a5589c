"""Report Viewer and Emailer: the Contract Performance report previewed, as PDF, and emailed."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, abort, flash, jsonify, redirect, render_template, request, url_for

from bpo2_bridge.queries import crm
from bpo2_bridge.report import mailer
from bpo2_bridge.report.figures import Report, ReportNotFound, load_report
from bpo2_bridge.report.payload import report_payload
from bpo2_bridge.report.render import pdf_filename
from bpo2_bridge.web.auth import current_user, safe_next
from bpo2_bridge.web.context import current_bridge, release_cache
from bpo2_bridge.web.grid import wants_json

bp = Blueprint("report", __name__)


def _report(contract_no: str) -> Report:
    """The report when the contract belongs to a customer the user may see; else 404."""
    bridge = current_bridge()
    with bridge.cache.connect() as conn:
        try:
            report = load_report(conn, contract_no, bridge.today())
        except ReportNotFound:
            abort(404)
        if crm.customer(conn, current_user(), report.contract["account_no"]) is None:
            abort(404)
    release_cache()  # a PDF may be drawn next, for seconds
    return report


def _back(report: Report) -> str:
    default = url_for("contracts.for_customer", account_no=report.contract["account_no"], tab="all")
    return safe_next(request.values.get("back"), default)


def _page(
    report: Report,
    form: dict[str, str],
    *,
    status: int = 200,
    error: str | None = None,
    field_errors: dict[str, str] | None = None,
) -> Any:
    bridge = current_bridge()
    back = _back(report)
    here = url_for("report.view", contract_no=report.contract_no, back=back)
    return (
        render_template(
            "report/page.html",
            report=report,
            body=bridge.reports.body(report),
            form=form,
            error=error,
            field_errors=field_errors or {},
            email_open=status != 200,
            back=back,
            here=here,
            pdf_url=url_for("report.pdf", contract_no=report.contract_no),
            customer_url=url_for("customers.dashboard", account_no=report.contract["account_no"], back=here),
            filename=pdf_filename(report),
            limit=bridge.settings.email_hourly_limit,
        ),
        status,
    )


def _default_form(report: Report) -> dict[str, str]:
    settings = current_bridge().settings
    return {
        "to": mailer.default_recipient(report),
        "cc": "",
        "subject": mailer.default_subject(report, settings),
        "message": mailer.default_message(report, settings, current_user().display_name),
    }


@bp.get("/contracts/<contract_no>/report")
def view(contract_no: str) -> Any:
    report = _report(contract_no)
    if wants_json():  # ?format=json or Accept: application/json: the figures, no page
        return jsonify(report_payload(report))
    return _page(report, _default_form(report))


@bp.get("/contracts/<contract_no>/report.pdf")
def pdf(contract_no: str) -> Response:
    report = _report(contract_no)
    data = current_bridge().reports.pdf_bytes(report)
    disposition = "inline" if request.args.get("inline") == "1" else "attachment"
    response = Response(data, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'{disposition}; filename="{pdf_filename(report)}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.post("/contracts/<contract_no>/report")
@bp.post("/contracts/<contract_no>/report/email")
def email(contract_no: str) -> Any:
    """Send the report. The form posts to the report's own URL, so a refused or failed send
    answers there (the address bar keeps the report), with the form as it was typed."""
    report = _report(contract_no)
    bridge = current_bridge()
    form = {key: request.form.get(key, "") for key in ("to", "cc", "subject", "message")}
    # contacts ticked in the panel join the typed To addresses
    picked = [p.strip() for p in request.form.getlist("pick") if p.strip()]
    typed = [a.strip() for a in form["to"].replace(";", ",").split(",") if a.strip()]
    form["to"] = ", ".join(dict.fromkeys([*typed, *picked]))
    addresses: dict[str, list[str]] = {}
    field_errors: dict[str, str] = {}
    for key, label, required in (("to", "To", True), ("cc", "Cc", False)):
        try:
            addresses[key] = mailer.parse_addresses(form[key], label, required=required)
        except mailer.InvalidAddress as exc:
            field_errors[key] = str(exc)
    if field_errors:
        return _page(report, form, status=400, field_errors=field_errors)
    outgoing = mailer.Outgoing(
        to=addresses["to"],
        cc=addresses["cc"],
        subject=form["subject"].strip() or mailer.default_subject(report, bridge.settings),
        message=form["message"],
    )
    try:
        done = mailer.send_report(
            bridge.settings,
            bridge.store,
            user_login=current_user().login,
            contract_no=report.contract_no,
            outgoing=outgoing,
            pdf=bridge.reports.pdf_bytes(report),
            filename=pdf_filename(report),
        )
    except mailer.InvalidInput as exc:
        return _page(report, form, status=400, error=str(exc))
    except mailer.LimitReached as exc:
        return _page(report, form, status=429, error=str(exc))
    except mailer.SendFailed as exc:
        return _page(report, form, status=502, error=str(exc))
    flash(done)
    query = urlencode({"back": _back(report)})
    return redirect(f"{url_for('report.view', contract_no=report.contract_no)}?{query}", code=303)
