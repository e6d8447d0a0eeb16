"""The admin and dashboard navigation, built through the ``admin_menu``/``dashboard_menu`` filters."""
from dataclasses import dataclass

from flask import current_app, request, url_for

from .hooks import apply_filters, registry


@dataclass(frozen=True)
class MenuItem:
    """One entry of the admin's (or the customer dashboard's) navigation."""
    label: str
    endpoint: str
    order: int = 100
    plugin: str | None = None


def add_core_menu_item(app, label, endpoint, order, menu="admin_menu"):
    """Register a core entry on ``menu`` for ``app`` (called from a domain's init_app)."""
    item = MenuItem(label, endpoint, order)
    app.extensions["herald_hooks"].add(menu, lambda items: [*items, item])


def _build(menu):
    items = apply_filters(menu, [])
    known = current_app.view_functions
    items = sorted((i for i in items if i.endpoint in known), key=lambda i: (i.order, i.label))
    urls = [url_for(i.endpoint) for i in items]
    # the current entry is the one whose address is the longest prefix of this page's path
    matches = [u for u in urls if request.path == u or request.path.startswith(u.rstrip("/") + "/")]
    current = max(matches, key=len) if matches else None
    return [(item, url == current) for item, url in zip(items, urls)]


def admin_menu():
    """The admin navigation: (MenuItem, is_current) pairs in order."""
    return _build("admin_menu")


def dashboard_menu():
    """The customer dashboard navigation: (MenuItem, is_current) pairs in order."""
    return _build("dashboard_menu")


__all__ = ["add_core_menu_item", "admin_menu", "dashboard_menu", "registry"]
