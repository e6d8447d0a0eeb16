"""Plugins domain: discovery, the host API, activation state, faults and the Plugins page."""
import os

from .context import Setting

__all__ = ["Setting", "init_app"]


def init_app(app):
    """Register the Plugins page, plugin static files, ``flask plugins``, ``flask emails setup``,
    the recovery-mode setting, the admins' recovery notice and the menu entry."""
    from ..core.menu import add_core_menu_item
    from ..core.settings.services import SettingSpec
    from ..system_emails.cli import emails_cli
    from .cli import plugins_cli
    from .faults import DEFAULT_THRESHOLD, DEFAULT_WINDOW, THRESHOLD_OPTION, WINDOW_OPTION
    from .network_setup import setup_command
    from .status import recovery_notices
    from .views import bp, static_bp

    app.register_blueprint(bp)
    app.register_blueprint(static_bp)
    # a plugin callback that returns after this many seconds is recorded as slow (not a fault)
    app.config.setdefault("PLUGIN_SLOW_SECONDS", float(os.environ.get("PLUGIN_SLOW_SECONDS", 2)))
    app.cli.add_command(plugins_cli)
    emails_cli.add_command(setup_command)
    app.extensions["herald_settings"].declare(SettingSpec(
        THRESHOLD_OPTION, DEFAULT_THRESHOLD, "Switch a plugin off after this many faults",
        "Recovery mode: a plugin whose hooks raise this many times within the window below is "
        "switched off everywhere and admins see a notice (faults of its own pages are shown but "
        "not counted); 0 never switches a plugin off.", "int", min=0, max=1_000_000))
    app.extensions["herald_settings"].declare(SettingSpec(
        WINDOW_OPTION, DEFAULT_WINDOW, "Count a plugin's faults within this many minutes",
        "Recovery mode counts the faults of the last this many minutes.", "int", min=1,
        max=10_080))
    app.jinja_env.globals["plugin_recovery_notices"] = recovery_notices
    add_core_menu_item(app, "Plugins", "plugins.index", 80)
