"""Plugins domain: discovery, the host API, activation state and the Plugins page."""


def init_app(app):
    """Register the Plugins page, its menu entry, ``flask plugins`` and ``flask emails setup``."""
    from ..core.menu import add_core_menu_item
    from ..system_emails.cli import emails_cli
    from .cli import plugins_cli
    from .network_setup import setup_command
    from .views import bp

    app.register_blueprint(bp)
    app.cli.add_command(plugins_cli)
    emails_cli.add_command(setup_command)
    add_core_menu_item(app, "Plugins", "plugins.index", 80)
