"""Settings domain: declared network settings and the Settings page."""


def init_app(app):
    """Register the Settings page and its menu entry."""
    from ..menu import add_core_menu_item
    from .checks import non_empty_name
    from .services import SettingSpec
    from .views import bp

    app.register_blueprint(bp)
    app.extensions["herald_settings"].declare(SettingSpec(
        "network.name", "Herald Network", "Network name",
        "Shown to customers and in e-mails as {{ network_name }}.", validate=non_empty_name))
    add_core_menu_item(app, "Settings", "settings.index", 90)
