"""``flask broadcasts``: list broadcasts and send a draft from scripts and deployments."""
import click
from flask.cli import AppGroup

from ..core.cli import ROW_ID, echo_safe, fetch_or_fail
from ..core.extensions import db
from .listing import ListFilters, list_broadcasts, run_counters
from .models import KINDS, STATUSES, Broadcast
from .sending import SendError, send_now

broadcasts_cli = AppGroup("broadcasts", help="List and send broadcasts.")


@broadcasts_cli.command("list")
@click.option("--kind", type=click.Choice(KINDS), help="Only notices or only e-mails.")
@click.option("--status", type=click.Choice(STATUSES), help="Only this status.")
@click.option("--label", default="", help="Only broadcasts with this label.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000))
def list_command(kind, status, label, limit):
    """Show the newest broadcasts: id, kind, status, audience, runs and subject."""
    page = list_broadcasts(ListFilters(kind or "", status or "", label), per_page=limit)
    counters = run_counters([b.id for b in page.items])
    if not page.items:
        click.echo("No broadcasts.")
        return
    click.echo(f"{'ID':>6}  {'KIND':6}  {'STATUS':9}  {'AUDIENCE':>8}  {'RUNS':>4}  SUBJECT")
    for item in page.items:
        audience = "" if item.audience_size is None else str(item.audience_size)
        runs = counters.get(item.id, {}).get("runs", 0)
        echo_safe(f"{item.id:>6}  {item.kind:6}  {item.status:9}  {audience:>8}  {runs:>4}  "
                   f"{item.subject or '(no subject)'}")


@broadcasts_cli.command("send")
@click.argument("broadcast_id", type=ROW_ID)
def send_command(broadcast_id):
    """Send draft BROADCAST_ID now (a notice is published, an e-mail goes to the delivery queue)."""
    broadcast = fetch_or_fail(Broadcast, broadcast_id, "broadcast")
    try:
        run = send_now(broadcast)
    except SendError as error:
        db.session.rollback()
        details = "".join(f"\n  - {p.message} (step: {p.step})" for p in error.problems)
        raise click.ClickException(str(error) + details) from None
    db.session.commit()
    what = "published" if broadcast.kind == "notice" else "queued for delivery"
    click.echo(f"Broadcast {broadcast.id} {what} (run {run.id}, audience {broadcast.audience_size}).")
