"""Settings domain: declared network settings and the Settings page."""


def init_app(app):
    """Register the Settings page and its menu entry."""
    from ..menu import add_core_menu_item
    from .services import SettingSpec
    from .types import choice_pairs
    from .views import bp

    app.register_blueprint(bp)
    app.jinja_env.globals["choice_pairs"] = choice_pairs
    app.extensions["herald_settings"].declare(SettingSpec(
        "network.name", "Herald Network", "Network name",
        "Shown to customers and in e-mails as {{ network_name }}."))
    add_core_menu_item(app, "Settings", "settings.index", 90)
