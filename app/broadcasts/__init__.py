"""Broadcasts domain: notices and e-mails to customers, targeted by customer or product."""


def init_app(app):
    """Register the admin pages and wizard, the JSON API (CSRF-exempt: API keys only), the
    dashboard notices, the CLI, settings and menu."""
    from ..core.extensions import csrf
    from ..core.menu import add_core_menu_item
    from ..core.settings.services import SettingSpec
    from ..core.timezones import check_timezone
    from . import lookups, models  # noqa: F401 - lookups adds the JSON routes to the blueprint
    from .api import bp as api_bp
    from .cli import broadcasts_cli
    from .notice_panel import notices_panel
    from .notice_views import bp as notices_bp
    from .views import bp

    csrf.exempt(api_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(bp)
    app.register_blueprint(notices_bp)
    app.cli.add_command(broadcasts_cli)
    add_core_menu_item(app, "Broadcasts", "broadcasts.index", 50)
    app.extensions["herald_hooks"].add("customer_dashboard_panels", notices_panel)
    settings = app.extensions["herald_settings"]
    settings.declare(SettingSpec("broadcasts.timezone", "UTC", "Default time zone for broadcasts",
                                 "An IANA name such as Europe/Amsterdam; admins can pick another "
                                 "zone per broadcast.", validate=check_timezone))
