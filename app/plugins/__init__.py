"""Plugins domain: discovery, the host API, activation state and the Plugins page."""


def init_app(app):
    """Register the Plugins page and its menu entry."""
    from ..core.menu import add_core_menu_item
    from .cli import plugins_cli
    from .views import bp

    app.register_blueprint(bp)
    app.cli.add_command(plugins_cli)
    add_core_menu_item(app, "Plugins", "plugins.index", 80)
