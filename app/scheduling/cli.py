"""``flask scheduler run`` (the scheduler, app/scheduling/scheduler.py) and ``flask schedules …``."""
import sys
from datetime import datetime

import click
from flask import current_app
from flask.cli import AppGroup

from ..broadcasts.models import Broadcast
from ..core.cli import ROW_ID, echo_safe, fetch_or_fail
from ..core.extensions import db
from ..core.utils import utcnow
from .describe import describe_spec, notes_for
from .rules import RuleError, RuleSpec, preview
from .scheduler import DEFAULT_INTERVAL, run_due, scheduler_loop
from .services import ScheduleError, change_state, check_rule, upcoming

scheduler_cli = AppGroup("scheduler", help="Fire scheduled broadcasts.")
schedules_cli = AppGroup("schedules", help="List and control broadcast schedules.")


@scheduler_cli.command("run")
@click.option("--once", is_flag=True, help="Do one pass and exit (e.g. from cron).")
@click.option("--interval", default=DEFAULT_INTERVAL, show_default=True, help="Seconds between passes.")
def run_command(once, interval):
    """Fire due broadcasts; several schedulers may run at once without double sends."""
    app = current_app._get_current_object()
    if once:
        result = run_due()
        click.echo(f"{result.fired} fired, {result.skipped} skipped, {result.already_taken} already taken")
        if result.paused or result.retried:
            click.echo(f"{result.paused} paused (rule cannot be expanded), {result.retried} left for "
                       "the next pass (see the log)")
        return
    click.echo(f"Scheduler running every {interval:g}s; Ctrl-C stops it.")
    try:
        scheduler_loop(app, interval)
    except KeyboardInterrupt:
        pass


@schedules_cli.command("list")
def list_command():
    """The next scheduled sends."""
    rows = upcoming(limit=50)
    if not rows:
        click.echo("Nothing is scheduled.")
    for schedule in rows:
        echo_safe(f"{schedule.next_at:%Y-%m-%d %H:%M} UTC  broadcast {schedule.broadcast_id:<6} "
                   f"{schedule.kind:8} {schedule.timezone}  {schedule.broadcast.subject}")


@schedules_cli.command("preview")
@click.argument("rule")
@click.option("--timezone", "zone_name", default="UTC", show_default=True, help="The schedule's time zone.")
@click.option("--start", help="First send when the rule has no DTSTART (local, e.g. 2030-01-31T09:00).")
@click.option("--email", is_flag=True, help="Also apply the e-mail minimum interval.")
@click.option("--limit", default=5, show_default=True, type=click.IntRange(1, 100),
              help="How many sends to show (1 to 100).")
def preview_command(rule, zone_name, start, email, limit):
    """The next sends of RULE (RFC 5545 lines; "-" reads them from standard input) without saving.

    Exits 1 with the reason when the rule is refused or expanding it hits a bound.
    """

    text = sys.stdin.read() if rule == "-" else rule.replace("\\n", "\n")
    try:
        first = datetime.fromisoformat(start) if start else None
    except ValueError:
        raise click.ClickException(f"--start {start!r} is not an ISO date and time.") from None
    spec = RuleSpec("rrule", zone_name, first, rrule_text=text)
    try:
        check_rule(spec, "email" if email else "notice")
        sends = preview(spec, utcnow(), limit)
    except RuleError as error:
        raise click.ClickException(str(error)) from None
    click.echo(describe_spec(spec))
    for note in notes_for(spec):
        click.echo(f"Note: {note}")
    for send in sends:
        click.echo(f"{send:%a %Y-%m-%d %H:%M:%S} {zone_name}")


def _change(broadcast_id, action):
    broadcast = fetch_or_fail(Broadcast, broadcast_id, "broadcast")
    try:
        change_state(broadcast, action)
    except ScheduleError as error:
        raise click.ClickException(str(error))
    db.session.commit()
    click.echo(f"Broadcast {broadcast_id}: schedule {broadcast.schedule.status}.")


@schedules_cli.command("pause")
@click.argument("broadcast_id", type=ROW_ID)
def pause_command(broadcast_id):
    """Pause the schedule of BROADCAST_ID."""
    _change(broadcast_id, "pause")


@schedules_cli.command("resume")
@click.argument("broadcast_id", type=ROW_ID)
def resume_command(broadcast_id):
    """Resume the schedule of BROADCAST_ID (missed sends are not caught up)."""
    _change(broadcast_id, "resume")


@schedules_cli.command("end")
@click.argument("broadcast_id", type=ROW_ID)
def end_command(broadcast_id):
    """End the schedule of BROADCAST_ID for good."""
    _change(broadcast_id, "end")
