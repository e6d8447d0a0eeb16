"""The customer dashboard: a customer's sites and memberships, and panels from other domains."""


def init_app(app):
    """Register the dashboard blueprint and its menu entry."""
    from ..core.menu import add_core_menu_item
    from .views import bp

    app.register_blueprint(bp)
    add_core_menu_item(app, "Overview", "dashboard.index", 10, menu="dashboard_menu")
