"""``flask bounces``: read the bounce mailbox, or show how Herald reads one message."""
import os
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from ..audit.services import record
from ..core.cli import echo_safe
from ..core.extensions import db
from ..core.settings.services import get_option
from ..core.utils import without_credentials
from .bounces import parse_bounce
from .mailboxes import fetch_bounces


@click.group("bounces")
def bounces_cli():
    """Bounce and complaint processing."""


def _default_mailbox() -> str:
    return (current_app.config.get("BOUNCE_MAILBOX") or os.environ.get("BOUNCE_MAILBOX")
            or get_option("tracking.bounce_mailbox") or "")


@bounces_cli.command("fetch")
@click.argument("mailbox", required=False)
@click.option("--keep", is_flag=True, help="Flag processed messages as seen instead of deleting them.")
@click.option("--limit", type=click.IntRange(min=1), help="Read at most this many messages.")
@with_appcontext
def fetch_command(mailbox, keep, limit):
    """Read DSNs and complaint reports from MAILBOX and record them.

    MAILBOX is imaps://user:pass@host/INBOX, imap://...?starttls=1, or the path of a Maildir
    (default: BOUNCE_MAILBOX or the tracking.bounce_mailbox setting). Messages not matched to a
    delivery are left untouched.
    """
    mailbox = mailbox or _default_mailbox()
    if not mailbox:
        raise click.ClickException("Give a MAILBOX or set BOUNCE_MAILBOX (imaps://user:pass@host/INBOX "
                                   "or a Maildir path).")
    try:
        counts = fetch_bounces(mailbox, keep=keep, limit=limit, commit=db.session.commit)
    except ValueError as error:
        raise click.ClickException(str(error))
    total = sum(counts.values())
    parts = [f"{counts[k]} {k}" for k in ("bounce", "complaint", "delay", "unsubscribe") if counts[k]]
    if total:
        record("bounces.fetched", ("mailbox", None, without_credentials(mailbox)),
               f"{total} messages read: {', '.join(parts) or 'nothing matched'}")
        db.session.commit()
    click.echo(f"{total} messages read: {', '.join(parts) or 'nothing matched'}; "
               f"{counts['unknown']} unknown left untouched.")


@bounces_cli.command("show")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def show_command(path):
    """Show what Herald reads in one message file (to check a provider's bounce format)."""
    parsed = parse_bounce(path.read_bytes())
    echo_safe(f"original Message-ID: {parsed.original_message_id or '-'}")
    echo_safe(f"VERP token: {parsed.verp_token or '-'}")
    if not parsed.reports:
        click.echo("not a bounce or complaint report")
    for report in parsed.reports:
        echo_safe(f"{report.kind} {report.bounce_type or ''} {report.recipient or '-'}: {report.detail}")
