"""``flask emails list|import|reset|test|setup|fire``: system e-mails from the command line."""
import click
from flask.cli import AppGroup
from sqlalchemy import select

from ..core.cli import echo_safe
from ..core.extensions import db
from ..network.services import find_customer
from . import services
from .jobs import deliver_send
from .models import SystemEmail, SystemEmailSend

emails_cli = AppGroup("emails", help="System e-mails: list, import, reset, test, set up, fire.")


def _email(slug) -> SystemEmail:
    email = db.session.scalar(select(SystemEmail).where(SystemEmail.slug == slug))
    if email is None:
        raise click.ClickException(f"No installed system e-mail {slug!r} (see `flask emails list`).")
    return email


@emails_cli.command("list")
def list_command():
    """List installed e-mails with their state, counts and last send; then what can be imported."""
    for state in services.installed_states():
        email = state.email
        flags = [word for word, on in (("active", email.active), ("modified", state.modified),
                                       ("update-available", state.update_available),
                                       ("plugin-inactive", not state.available)) if on]
        last = email.last_sent_at.strftime("%Y-%m-%d %H:%M") if email.last_sent_at else "never"
        click.echo(f"{email.slug:28} {email.event:26} {email.audience:8} sent {email.sent_count:>6} "
                   f"failed {email.failed_count:>4} last {last:16} {','.join(flags)}")
    importable = services.importable_defaults()
    if importable:
        click.echo(f"\nCan be imported ({len(importable)}): {' '.join(d.slug for d in importable)}")


@emails_cli.command("import")
@click.argument("slugs", nargs=-1)
@click.option("--all", "import_all", is_flag=True, help="Import every registered default not installed.")
def import_command(slugs, import_all):
    """Install registered default e-mails SLUGS (or --all) that are not installed yet."""
    if import_all:
        slugs = [d.slug for d in services.importable_defaults()]
    if not slugs:
        raise click.ClickException("Name the e-mails to import, or --all (see `flask emails list`).")
    _apply(services.import_defaults, slugs, "Imported")


@emails_cli.command("reset")
@click.argument("slugs", nargs=-1, required=True)
def reset_command(slugs):
    """Reset e-mails SLUGS to their registered default (keeps id, statistics and settings)."""
    _apply(services.reset_emails, slugs, "Reset")


def _apply(action, slugs, verb):
    try:
        done = action(list(slugs))
    except services.ServiceError as error:
        raise click.ClickException(str(error))
    db.session.commit()
    click.echo(f"{verb} {len(done)}: {' '.join(e.slug for e in done)}")


@emails_cli.command("test")
@click.argument("slug")
@click.option("--to", "address", required=True, help="Where the test goes.")
def test_command(slug, address):
    """Send e-mail SLUG with its event's sample data to ADDRESS now, and print the server's answer."""
    email = _email(slug)
    try:
        send = services.send_test(email, address, enqueue=False)
    except services.ValidationFailed as failure:
        raise click.ClickException(str(failure))
    db.session.commit()
    status = deliver_send(send.id)
    send = db.session.get(SystemEmailSend, send.id)
    message = f"{status}: {send.recipient} ({send.reply or send.reason or 'no reply'})"
    if status == "deferred":
        message += "; a worker (flask rq worker) retries it"
    if status != "sent":
        raise click.ClickException(message)
    click.echo(message)


@emails_cli.command("fire")
@click.argument("event")
@click.option("--customer", required=True, help="Customer number or e-mail address.")
def fire_command(event, customer):
    """Fire EVENT for a customer with the event's sample data (its active e-mails really go)."""
    person = find_customer(customer)
    if person is None:
        raise click.ClickException(f"No customer {customer!r}.")
    try:
        sends = services.fire_event_by_hand(event, person)
    except services.ServiceError as error:
        raise click.ClickException(str(error))
    db.session.commit()
    for send in sends:
        echo_safe(f"{send.status:8} {send.recipient or '-':32} {send.reason or ''}")
