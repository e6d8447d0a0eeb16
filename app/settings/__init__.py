"""Settings domain: declared network settings and the Settings page."""


def init_app(app):
    """Register the Settings page and its menu entry."""
    from ..menu import add_core_menu_item
    from .views import bp

    app.register_blueprint(bp)
    add_core_menu_item(app, "Settings", "settings.index", 90)
