"""``flask plugins list|activate|deactivate|uninstall|faults|clear-faults|forget-migration|new``."""
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from ..core.cli import echo_safe
from ..core.extensions import db
from .lifecycle import refused_slugs, uninstall, uninstall_plan
from .scaffold import ScaffoldError, scaffold
from .schema import forget_revision
from .services import PluginError, activate, clear_faults, deactivate, plugin_host, plugin_info
from .status import plugin_rows, upgrade_advice

plugins_cli = AppGroup("plugins", help="List, activate, deactivate, uninstall and create plugins.")


def _run(action, *args):
    try:
        return action(*args)
    except PluginError as error:
        raise click.ClickException(str(error))


@plugins_cli.command("list")
def list_command():
    """List plugins with their state, fault count and problems."""
    for row in plugin_rows():
        info = row.info
        faults = sum(record.count for record in row.faults)
        extra = f"  {faults} fault(s)" if faults else ""
        echo_safe(f"{info.slug:24} {info.version or '-':10} {row.state}{extra}")
        if row.problem and row.state != "active":
            echo_safe(f"{'':24} {row.problem}")
        if row.upgrade_from is not None:
            echo_safe(f"{'':24} {upgrade_advice(row)}")


@plugins_cli.command("activate")
@click.argument("slug")
def activate_command(slug):
    """Activate plugin SLUG (or resume it after recovery mode switched it off)."""
    _run(activate, slug)
    click.echo(f"Activated {slug}.")


@plugins_cli.command("deactivate")
@click.argument("slug")
def deactivate_command(slug):
    """Deactivate plugin SLUG."""
    warning = _run(deactivate, slug)
    click.echo(warning or f"Deactivated {slug}.")


@plugins_cli.command("uninstall")
@click.argument("slug")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def uninstall_command(slug, yes):
    """Uninstall inactive plugin SLUG: its uninstall(host), e-mails, settings and tables."""
    plan = _run(uninstall_plan, slug)
    click.echo(f"Uninstalling {plan.info.name} deletes:")
    click.echo(f"  system e-mails (with their send logs): {', '.join(e.name for e in plan.emails) or 'none'}")
    click.echo(f"  settings: {', '.join(plan.settings) or 'none'}")
    click.echo("  migrations downgraded to base (their tables dropped): "
               f"{', '.join(plan.revisions) or 'none'}")
    if not yes:
        click.confirm("Delete this data?", abort=True)
    _run(uninstall, slug)
    click.echo(f"Uninstalled {slug}: you can now delete its folder (or pip uninstall its package) "
               "and restart the web processes and workers.")


@plugins_cli.command("faults")
@click.argument("slug")
@click.option("--traceback", "full", is_flag=True, help="Print each fault's last traceback.")
def faults_command(slug, full):
    """Show the faults recorded for plugin SLUG (in every web process and worker)."""
    _run(plugin_info, slug)
    records = plugin_host().faults.faults([slug]).get(slug, [])
    if not records:
        click.echo(f"No faults recorded for {slug}.")
    for record in records:
        echo_safe(f"{record.where}: {record.count} time(s), first {record.first_at}, "
                   f"last {record.last_at}: {record.error}")
        if full:
            echo_safe(record.traceback, keep_newlines=True)


@plugins_cli.command("clear-faults")
@click.argument("slug")
def clear_faults_command(slug):
    """Forget the faults of plugin SLUG and lift a recovery-mode suspension."""
    _run(clear_faults, slug)
    db.session.commit()
    click.echo(f"Cleared the faults of {slug}.")


@plugins_cli.command("forget-migration")
@click.argument("revision")
def forget_migration_command(revision):
    """Forget REVISION, a migration of a deleted plugin folder, from alembic_version."""
    refused = refused_slugs()
    if refused:
        raise click.ClickException(
            f"Not while the plugin(s) {', '.join(refused)} are refused for sharing a slug: "
            f"{revision} is probably theirs and their tables are in use. Resolve the clash first.")
    if not forget_revision(revision):
        raise click.ClickException(f"{revision} is not a migration the database holds without "
                                   "its file; nothing to forget.")
    db.session.commit()
    click.echo(f"Forgot {revision}; tables it created stay (drop them by hand if you like).")


@plugins_cli.command("new")
@click.argument("slug")
@click.option("--name", help="The plugin's name (default: from the slug).")
@click.option("--dir", "target", type=click.Path(file_okay=False, path_type=Path),
              help="Where to create it (default: the plugins folder, HERALD_PLUGINS_DIR).")
def new_command(slug, name, target):
    """Create a working plugin SLUG: page, template, static file, model and migration, setting,
    event with a default system e-mail, and a test."""
    target = target or Path(current_app.config["PLUGINS_DIR"])
    try:
        folder = scaffold(slug, target, name)
    except ScaffoldError as error:
        raise click.ClickException(str(error))
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        click.echo(f"created {path}")
    click.echo(f"Next: restart the web processes and workers, run `flask db upgrade`, then "
               f"`flask plugins activate {slug}`; run its test with "
               f"`python -m pytest {folder / 'tests'}`.")
