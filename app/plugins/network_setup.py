"""Network set-up: the default plugins activated once, then their system e-mails installed once."""
import click
from flask import current_app
from flask.cli import with_appcontext

from ..core.extensions import db
from ..system_emails.models import SystemEmail
from ..system_emails.services import install_defaults_once
from .models import PluginState
from .services import activate


def setup_network() -> list[SystemEmail]:
    """Activate the plugins that ask for it (``PLUGIN_INFO["default_active"]``) and were never
    activated or deactivated, then install every default system e-mail once; the caller commits.
    Runs in `flask emails setup` and on the first `make run`. Returns the e-mails installed."""
    host = current_app.extensions["herald_plugins"]
    for slug, info in host.plugins.items():
        wanted = (getattr(info.module, "PLUGIN_INFO", None) or {}).get("default_active")
        if wanted and info.loaded and db.session.get(PluginState, slug) is None:
            activate(slug)
    return install_defaults_once()


@click.command("setup")
@with_appcontext
def setup_command():
    """Network set-up: activate the default plugins and install their e-mails (once)."""
    done = setup_network()
    db.session.commit()
    click.echo(f"Installed {len(done)} system e-mail(s)." if done else "The network was already set up.")
