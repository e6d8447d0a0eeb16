"""Billing domain: payments recorded by the admin, the API or the CLI (they fire payment e-mails)."""


def init_app(app):
    """Register the Payments page, its JSON endpoint, the ``flask payments`` commands and the menu."""
    from ..core.menu import add_core_menu_item
    from . import models  # noqa: F401
    from .cli import payments_cli
    from .views import bp

    app.register_blueprint(bp)
    app.cli.add_command(payments_cli)
    add_core_menu_item(app, "Payments", "billing.payments", 35)
