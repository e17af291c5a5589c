"""`bpo2-bridge digest`: the weekly expiry digest, sent (or shown) by hand."""

from __future__ import annotations

import json
from dataclasses import asdict

import click
from sqlalchemy.exc import SQLAlchemyError

from ..bridge import Bridge
from ..cache.snapshots import CacheMissing
from ..renewals.digest import DigestError, send_digests
from .common import AppContext, fail, output_options, pass_app, print_rows


@click.command("digest")
@click.option("--dry-run", is_flag=True, help="Print what would be sent; send nothing, change nothing.")
@click.option(
    "--login", default=None, metavar="LOGIN", help="Only this user's digest (any user, administrators too)."
)
@output_options
@pass_app
def digest_command(app: AppContext, dry_run: bool, login: str | None, fmt: str) -> None:
    """Email the weekly expiry digest now: to every salesman, or to --login LOGIN.

    Each digest lists the user's contracts that expired or entered the expiring window since
    his last digest, and the flagged renewals (margin below renewal_margin_below, volume trend
    below renewal_trend_below), with links under public_url. Users who opted out on My
    settings are left out. Every send is in the email log. The scheduler sends it on
    digest_day at digest_time while digest_enabled is on; this command sends it either way.
    """
    if login is not None and not login.strip():
        fail("--login must name a user")
    bridge = Bridge(app.settings)
    try:
        outcomes = send_digests(bridge, login=login, dry_run=dry_run)
    except DigestError as exc:
        fail(str(exc))
    except CacheMissing as exc:
        fail(f"no cache to read: {exc}", 1)
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        fail(f"the digest could not be built: {reason}", 1)
    finally:
        bridge.dispose()
    if dry_run and fmt == "table":
        for o in outcomes:
            click.echo(f"== {o.login} <{o.to}>: {o.outcome}")
            if o.detail:
                click.echo(o.detail)
        click.echo(f"dry run: nothing sent ({len(outcomes)} users)")
        return
    if fmt == "json":
        click.echo(json.dumps([asdict(o) for o in outcomes], indent=2))
    else:
        print_rows(
            ("login", "to", "outcome", "expired", "entering", "flagged", "detail"),
            [
                (
                    o.login,
                    o.to,
                    o.outcome,
                    o.expired,
                    o.entering,
                    o.flagged,
                    o.detail.splitlines()[0] if o.detail else "",
                )
                for o in outcomes
            ],
            fmt,
        )
    if any(o.outcome == "failed" for o in outcomes):
        raise SystemExit(1)
