"""Audit domain: the append-only log of who changed what (web, API, CLI), its page and commands.

It imports only app.core, so every other domain may call ``app.audit.services.record``.
"""


def init_app(app):
    """Register the Audit log page, ``flask audit``, its menu entry and hook listeners."""
    from ..core.menu import add_core_menu_item
    from . import models  # noqa: F401 - registers the table
    from .cli import audit_cli
    from .services import changes_summary, record
    from .views import bp

    app.register_blueprint(bp)
    app.cli.add_command(audit_cli)
    add_core_menu_item(app, "Audit log", "audit.index", 88)
    hooks = app.extensions["herald_hooks"]
    hooks.add("audit_log", lambda action, target, summary="": record(action, target, summary))
    hooks.add("settings_saved", lambda changes: record(
        "settings.changed", ("settings", None, "Settings"),
        changes_summary({k: old for k, (old, _) in changes.items()},
                        {k: new for k, (_, new) in changes.items()})) if changes else None)
