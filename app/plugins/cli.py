"""``flask plugins list|activate|deactivate``."""
import click
from flask.cli import AppGroup

from .services import PluginError, activate, deactivate, plugin_rows

plugins_cli = AppGroup("plugins", help="List, activate and deactivate plugins.")


@plugins_cli.command("list")
def list_command():
    """List plugins with their state."""
    for row in plugin_rows():
        info = row["info"]
        state = "failed" if info.error else ("active" if row["active"] else "inactive")
        click.echo(f"{info.slug:24} {info.version:10} {state}")


@plugins_cli.command("activate")
@click.argument("slug")
def activate_command(slug):
    """Activate plugin SLUG."""
    try:
        activate(slug)
    except PluginError as error:
        raise click.ClickException(str(error))
    click.echo(f"Activated {slug}.")


@plugins_cli.command("deactivate")
@click.argument("slug")
def deactivate_command(slug):
    """Deactivate plugin SLUG."""
    try:
        deactivate(slug)
    except PluginError as error:
        raise click.ClickException(str(error))
    click.echo(f"Deactivated {slug}.")
