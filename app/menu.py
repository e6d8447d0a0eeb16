"""The admin and dashboard navigation, built through the ``admin_menu``/``dashboard_menu`` filters."""
from flask import current_app, request

from .hooks import apply_filters, registry
from .plugins.host import MenuItem


def add_core_menu_item(app, label, endpoint, order, menu="admin_menu"):
    """Register a core entry on ``menu`` for ``app`` (called from a domain's init_app)."""
    item = MenuItem(label, endpoint, order)
    app.extensions["herald_hooks"].add(menu, lambda items: [*items, item])


def _build(menu):
    items = apply_filters(menu, [])
    known = current_app.view_functions
    items = sorted((i for i in items if i.endpoint in known), key=lambda i: (i.order, i.label))
    return [(i, _is_current(i)) for i in items]


def _is_current(item) -> bool:
    endpoint = request.endpoint or ""
    prefix = item.endpoint.rsplit(".", 1)[0]
    return endpoint == item.endpoint or (prefix and endpoint.startswith(prefix + ".")
                                         and not item.endpoint.endswith(".index_root"))


def admin_menu():
    """The admin navigation: (MenuItem, is_current) pairs in order."""
    return _build("admin_menu")


def dashboard_menu():
    """The customer dashboard navigation: (MenuItem, is_current) pairs in order."""
    return _build("dashboard_menu")


__all__ = ["add_core_menu_item", "admin_menu", "dashboard_menu", "registry"]
