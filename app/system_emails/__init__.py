"""System e-mails: plugin-registered notifications fired by events, edited, reset and imported by admins."""
from ..mail.addresses import normalise_sender, optional
from .events import CUSTOMER_PLACEHOLDERS, SAMPLE_CUSTOMER, fire_event

__all__ = ["init_app", "fire_event", "CUSTOMER_PLACEHOLDERS", "SAMPLE_CUSTOMER"]


def init_app(app):
    """Create the registry (before plugins load), register pages, API, CLI, settings and menu."""
    from ..core.menu import add_core_menu_item
    from ..core.settings.services import SettingSpec
    from . import models  # noqa: F401
    from .api import api_bp
    from .cli import emails_cli
    from .healing import supervisor_tasks
    from .registry import SystemEmailRegistry
    from .views import bp

    app.extensions["herald_system_emails"] = SystemEmailRegistry()
    app.register_blueprint(bp)
    app.register_blueprint(api_bp)
    app.cli.add_command(emails_cli)
    settings = app.extensions["herald_settings"]
    settings.declare(SettingSpec("system_emails.mail_from", "", "System e-mail sender",
                                 "From header of system e-mails, e.g. 'Acme <hello@acme.example>'. "
                                 "Empty: MAIL_FROM.", validate=optional(normalise_sender)))
    add_core_menu_item(app, "System emails", "system_emails.index", 60)
    app.extensions["herald_hooks"].add("event_occurred", send_event_emails)
    app.extensions["herald_hooks"].add("supervisor_tasks", supervisor_tasks)


def send_event_emails(slug, customer, payload):
    """``event_occurred``: queue the e-mails of event ``slug`` (nothing when none is registered)."""
    fire_event(slug, customer=customer, **payload)
