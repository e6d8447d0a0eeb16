"""CLI commands of the shell: create-admin, check, `flask db upgrade` across plugin branches, an
audited `flask db downgrade`, helpers."""
import re

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_migrate import downgrade as alembic_downgrade
from flask_migrate import upgrade as alembic_upgrade
from flask_migrate.cli import db as db_group
from sqlalchemy.exc import SQLAlchemyError

from .auth.forms import MIN_PASSWORD_LENGTH
from .auth.services import create_user
from .core.cli import echo_safe, refuse_undecodable_arguments
from .core.extensions import db
from .core.health import ServiceUnavailable, check_services
from .core.settings.services import stored_problems
from .core.worker import rq_cli
from .devserver import dev_command
from .network.stored_addresses import report_lines, stored_address_reports


@click.command("create-admin")
@click.option("--email", prompt=True)
@click.option("--name", default="Network admin", show_default=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@with_appcontext
def create_admin_command(email, name, password):
    """Create a network super admin."""

    if len(password) < MIN_PASSWORD_LENGTH:
        raise click.ClickException(f"The password must have at least {MIN_PASSWORD_LENGTH} characters.")
    try:
        create_user(email, password, name, super_admin=True)
    except ValueError as error:
        raise click.ClickException(str(error))
    db.session.commit()
    click.echo(f"Super admin {email} created.")


@click.command("check")
@click.option("--no-addresses", is_flag=True, help="Only check that the database and Redis answer.")
@with_appcontext
def check_command(no_addresses):
    """Check that the database and Redis answer (one line each), report plugin problems, stored
    settings their rules refuse now, then stored e-mail addresses the address rules refuse or write differently (never rewritten).
    Exits with status 1 when a plugin problem was reported."""
    from .plugins.status import problem_lines

    try:
        for line in check_services(current_app):
            click.echo(line)
    except ServiceUnavailable as error:
        raise click.ClickException(str(error))
    plugin_problems = problem_lines()
    for line in plugin_problems:
        echo_safe(line)
    if not plugin_problems:
        click.echo("plugins ok")
    try:
        setting_lines = [f"setting {key} to fix on the Settings page: {reason}"  # saved before a rule came
                         for key, reason in stored_problems()] or ["settings ok"]
    except SQLAlchemyError as error:
        db.session.rollback()
        setting_lines = [f"settings not checked: {str(getattr(error, 'orig', error)).splitlines()[0]}"]
    for line in setting_lines:
        echo_safe(line)
    if not no_addresses:
        try:
            lines = report_lines(stored_address_reports())
        except SQLAlchemyError as error:
            db.session.rollback()
            lines = [f"addresses not checked: {str(getattr(error, 'orig', error)).splitlines()[0]}"]
        for line in lines:
            echo_safe(line)  # stored addresses: anything a customer or an import wrote
    if plugin_problems:
        raise click.exceptions.Exit(1)


@click.command("upgrade")
@click.argument("revision", default="heads")
@click.option("--sql", is_flag=True, help="Print SQL instead of running it.")
@with_appcontext
def upgrade_command(revision, sql):
    """Upgrade the database to the latest revision of the core and of every plugin branch.

    With the default ``heads``, the core migrates first, then each plugin's branch in its own
    transaction (a plugin whose migration fails is reported and switched off, the others still
    migrate; the exit status is then 1), then ``upgrade()`` of plugins whose version changed."""
    if revision != "heads" or sql:
        alembic_upgrade(revision=revision, sql=sql)
        return
    from .plugins.lifecycle import upgrade_network

    report = upgrade_network()
    for line in report.lines:
        echo_safe(line, err=True)
    if report.failed:
        raise click.ClickException(f"{len(report.failed)} plugin(s) could not be migrated or "
                                   f"upgraded: {', '.join(sorted(report.failed))}.")


AUDIT_LOG_REVISION = "0012_security"  # creates audit_entries: reverting it drops the audit log
RELATIVE_STEPS = re.compile(r"^-\d+$")  # "-1": steps down from the head, without saying which


def refuse_ambiguous_steps(revision: str) -> None:
    """ClickException when the database has several heads (the core and plugin branches): a
    relative ``revision`` such as -1 does not say which to revert, and Alembic would only warn
    and pick one (it reverted the core's newest migration). Names every head and the REVISION
    that reverts it alone."""
    from .plugins.schema import head_downgrades

    heads = head_downgrades()
    if len(heads) < 2:
        return
    lines = "\n".join(f"  {head} ({owner}): flask db downgrade {target}" for head, owner, target in heads)
    raise click.ClickException(
        f"The database has {len(heads)} heads, so {revision!r} does not say which to revert. "
        f"Nothing was changed. Name the revision to go down to:\n{lines}")


@click.command("downgrade")
@click.argument("revision", default="-1")
@click.option("--sql", is_flag=True, help="Print SQL instead of running it (nothing is checked).")
@click.option("--force", is_flag=True, help=f"Also revert {AUDIT_LOG_REVISION}, dropping the audit log.")
@with_appcontext
def downgrade_command(revision, sql, force):
    """Revert migrations down to REVISION (default -1: one step).

    Every downgrade is first recorded in the audit log (``database.downgraded``, committed
    before any migration is reverted); one that would revert the audit log's own migration
    is refused unless --force is given."""
    if sql:
        alembic_downgrade(revision=revision, sql=True)
        return
    from alembic.script.revision import RevisionError
    from alembic.util import CommandError

    from .audit.services import record
    from .plugins.schema import revisions_to_revert

    if RELATIVE_STEPS.match(revision):
        refuse_ambiguous_steps(revision)
    try:
        reverted = revisions_to_revert(revision)
    except (CommandError, RevisionError) as error:
        raise click.ClickException(f"Cannot downgrade to {revision!r}: {error}")
    if not reverted:
        click.echo("Nothing to downgrade.")
        return
    if AUDIT_LOG_REVISION in reverted and not force:
        raise click.ClickException(
            f"Downgrading to {revision!r} reverts {AUDIT_LOG_REVISION}, which drops the audit log "
            "and every entry in it. Nothing was changed; add --force to do it anyway.")
    record("database.downgraded", ("database", None, "schema"),
           f"reverting {', '.join(reverted)}" + (" (audit log dropped)" if AUDIT_LOG_REVISION in reverted else ""))
    db.session.commit()
    alembic_downgrade(revision=revision)


def register_cli(app):
    """Register the shell's commands, the RQ group, the multi-head ``db upgrade`` and the
    audited ``db downgrade``."""

    app.cli.add_command(create_admin_command)
    app.cli.add_command(check_command)
    app.cli.add_command(rq_cli)
    app.cli.add_command(dev_command)
    db_group.add_command(upgrade_command)
    db_group.add_command(downgrade_command)
    refuse_undecodable_arguments(app.cli)  # every command, the domains' and plugins' too
