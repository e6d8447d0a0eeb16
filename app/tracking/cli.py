"""``flask bounces``: read the bounce mailbox, or show how Herald reads one message; ``flask
suppressions import``: load a suppression list of any length."""
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
from .bounces import MAX_READ_BYTES, BounceRefused, parse_bounce
from ..mail.suppression import REASONS
from .mailboxes import fetch_bounces
from .suppression_csv import import_csv


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
@click.option("--recheck", is_flag=True, help="Read again the messages earlier fetches left in place "
              "(unknown, refused, unreadable), which are otherwise skipped for 30 days.")
@with_appcontext
def fetch_command(mailbox, keep, limit, recheck):
    """Read DSNs and complaint reports from MAILBOX and record them.

    MAILBOX is imaps://user:pass@host/INBOX, imap://...?starttls=1, or the path of a Maildir
    (default: BOUNCE_MAILBOX or the tracking.bounce_mailbox setting). Messages not matched to a
    delivery are left untouched, and skipped by later fetches for 30 days (--recheck reads
    them again); so are messages past the parser's limits (refused, each said on a line).
    """
    mailbox = mailbox or _default_mailbox()
    if not mailbox:
        raise click.ClickException("Give a MAILBOX or set BOUNCE_MAILBOX (imaps://user:pass@host/INBOX "
                                   "or a Maildir path).")
    notes = []
    try:
        counts = fetch_bounces(mailbox, keep=keep, limit=limit, commit=db.session.commit,
                               recheck=recheck, notes=notes)
    except ValueError as error:
        raise click.ClickException(str(error))
    for note in notes:
        echo_safe(note, err=True)
    total = sum(counts.values()) - counts["skipped"]
    parts = [f"{counts[k]} {k}" for k in ("bounce", "complaint", "delay", "unsubscribe") if counts[k]]
    if total:
        record("bounces.fetched", ("mailbox", None, without_credentials(mailbox)),
               f"{total} messages read: {', '.join(parts) or 'nothing matched'}")
        db.session.commit()
    left = [f"{counts[k]} {k}" for k in ("refused", "unreadable") if counts[k]]
    click.echo(f"{total} messages read: {', '.join(parts) or 'nothing matched'}; "
               f"{counts['unknown']} unknown left untouched"
               + (f" ({', '.join(left)} also left)" if left else "")
               + (f"; {counts['skipped']} left by earlier fetches skipped (--recheck reads them)"
                  if counts["skipped"] else "") + ".")


@bounces_cli.command("show")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def show_command(path):
    """Show what Herald reads in one message file (to check a provider's bounce format)."""
    with path.open("rb") as file:
        raw = file.read(MAX_READ_BYTES)
    try:
        parsed = parse_bounce(raw)
    except BounceRefused as refusal:
        raise click.ClickException(f"refused: {refusal}")
    size = path.stat().st_size
    if size > len(raw):
        click.echo(f"{size:,} bytes: only the first {len(raw):,} read")
    echo_safe(f"original Message-ID: {parsed.original_message_id or '-'}")
    echo_safe(f"VERP token: {parsed.verp_token or '-'}")
    if not parsed.reports:
        click.echo("not a bounce or complaint report")
    for report in parsed.reports:
        echo_safe(f"{report.kind} {report.bounce_type or ''} {report.recipient or '-'}: {report.detail}")


@click.group("suppressions")
def suppressions_cli():
    """The suppression list."""


@suppressions_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--reason", type=click.Choice(REASONS), default="unsubscribed", show_default=True,
              help="The reason of rows that name none.")
@click.option("--skip-invalid", is_flag=True, help="Import the valid rows even when some rows are invalid.")
@with_appcontext
def import_command(path, reason, skip_invalid):
    """Import a CSV file of any length into the suppression list (the admin page's format, without
    its line limit): every row validated, nothing written when one is bad unless --skip-invalid."""
    result = import_csv(path.read_bytes(), reason, skip_invalid, max_lines=None, max_bytes=None)
    if result.file_error:
        raise click.ClickException(f"nothing imported: {result.file_error}")
    for line, message in result.errors[:20]:
        echo_safe(f"line {line}: {message}" if line else message, err=True)
    if len(result.errors) > 20:
        click.echo(f"... and {len(result.errors) - 20:,} more invalid rows", err=True)
    if not result.applied:
        db.session.rollback()
        raise click.ClickException(f"nothing imported: {len(result.errors):,} invalid rows"
                                   + ("" if result.errors else ", no valid row") + " (--skip-invalid imports the rest)")
    record("suppression.imported", ("suppression", None, path.name),
           f"{result.added} added, {result.already} already listed, {len(result.errors)} invalid rows skipped "
           f"(default reason {reason}; flask suppressions import)")
    db.session.commit()
    click.echo(f"{result.rows:,} rows read: {result.added:,} added, {result.already:,} already on the list, "
               f"{len(result.errors):,} invalid rows skipped.")
