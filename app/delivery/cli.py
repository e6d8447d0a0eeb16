"""``flask delivery``: a run's status, pause/resume/cancel/resend-unknown, a live progress bar,
and one supervisor pass by hand."""
import time

import click
from flask.cli import AppGroup

from ..broadcasts.models import BroadcastRun
from ..core.cli import ROW_ID, FiniteRange, echo_safe, fetch_or_fail
from ..core.extensions import db
from . import duration, progress
from .reaper import active_run_ids, heal
from .services import RunStateError, resend_question, run_action

delivery_cli = AppGroup("delivery", help="Broadcast e-mail delivery: progress and control of runs.")


def _run(run_id) -> BroadcastRun:
    db.session.expire_all()
    return fetch_or_fail(BroadcastRun, run_id, "broadcast run")


@delivery_cli.command("status")
@click.argument("run_id", type=ROW_ID)
def status_command(run_id):
    """Show a run's status, sent and processed of total, and counts by status (live counters)."""
    snap = progress.snapshot(_run(run_id))
    click.echo(f"Run {run_id} (broadcast {snap['broadcast_id']}): {snap['status']}")
    if snap["status_reason"]:
        click.echo(f"  {snap['status_reason']}")
    if snap["status"] == "cancelled":
        click.echo(f"  cancelled after {snap['processed']} of {snap['total']}")
    if snap["finished"]:
        pace = "" if snap["average_rate"] is None else f"{snap['average_rate']}/s on average, "
    else:
        pace = f"{snap['rate']}/s, time left {duration(snap['eta_seconds'])}, "
    click.echo(f"  sent {snap['sent']}, processed {snap['processed']} of {snap['total']} "
               f"({snap['percent']}% processed), {pace}excluded {snap['excluded']}")
    for name, count in snap["counts"].items():
        click.echo(f"  {name:9} {count:>9}")
    for reason, count in snap["unknown_reasons"].items():
        echo_safe(f"  unknown: {count} {reason}")  # a reason may hold a server's words


def _control(action, run_id, expected_unknown=None):
    _run(run_id)
    try:
        message = run_action(run_id, action, expected_unknown)
        db.session.commit()
    except RunStateError as error:
        db.session.rollback()
        raise click.ClickException(str(error))
    click.echo(message)


@delivery_cli.command("pause")
@click.argument("run_id", type=ROW_ID)
def pause_command(run_id):
    """Pause a sending run."""
    _control("pause", run_id)


@delivery_cli.command("resume")
@click.argument("run_id", type=ROW_ID)
def resume_command(run_id):
    """Resume a paused run."""
    _control("resume", run_id)


@delivery_cli.command("cancel")
@click.argument("run_id", type=ROW_ID)
@click.confirmation_option(prompt="Cancel this run? Recipients not sent yet will be skipped.")
def cancel_command(run_id):
    """Cancel a run for good."""
    _control("cancel", run_id)


@delivery_cli.command("resend-unknown")
@click.argument("run_id", type=ROW_ID)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def resend_unknown_command(run_id, yes):
    """Queue again the recipients whose outcome is unknown (a worker died while sending to them);
    says how many and why, and asks first."""
    _run(run_id)
    reasons = progress.unknown_reasons(run_id)
    total = sum(reasons.values())
    if not total:
        raise click.ClickException(f"Run {run_id} has no recipient with an unknown outcome.")
    click.echo(f"{total} recipient(s) of run {run_id} have an unknown outcome:")
    for reason, count in sorted(reasons.items(), key=lambda item: -item[1]):
        echo_safe(f"  {count:>7}  {reason}")
    if not yes:
        click.confirm(resend_question(total), abort=True)
    _control("resend-unknown", run_id, total)  # refused when the number changed meanwhile


@delivery_cli.command("watch")
@click.argument("run_id", type=ROW_ID)
@click.option("--interval", default=1.0, show_default=True, type=FiniteRange(0.1, 3600),
              help="Seconds between refreshes (0.1 to 3600).")
def watch_command(run_id, interval):
    """Follow a run with a progress bar until it is finished or paused."""
    snap = progress.snapshot(_run(run_id))
    with click.progressbar(length=max(1, snap["total"]), label=f"Run {run_id}",
                           show_pos=True, item_show_func=lambda item: item) as bar:
        shown = 0
        while True:
            snap = progress.snapshot(_run(run_id))
            bar.update(max(0, snap["processed"] - shown), f"{snap['rate']}/s, left {duration(snap['eta_seconds'])}")
            shown = max(shown, snap["processed"])
            if snap["finished"] or snap["status"] == "paused":
                break
            time.sleep(interval)
    click.echo(f"Run {run_id} is {snap['status']}: sent {snap['sent']} of {snap['total']}"
               + (f" ({snap['status_reason']})" if snap["status_reason"] else ""))


@delivery_cli.command("supervise")
@click.argument("run_id", type=ROW_ID, required=False)
def supervise_command(run_id):
    """One supervisor pass by hand (every worker already runs one): settle rows left in sending
    by dead workers, re-plan or re-dispatch runs no job moves, finish settled runs (all active
    runs when no RUN_ID). A RUN_ID that is no run is an error, as in the other commands."""
    if run_id is not None:
        _run(run_id)
    for item in [run_id] if run_id is not None else active_run_ids():
        status = heal(item)
        db.session.commit()
        click.echo(f"Run {item}: {status}")
