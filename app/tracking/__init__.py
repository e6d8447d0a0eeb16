"""Tracking domain: suppression list, unsubscribes, bounces, complaints, opens and clicks."""
from ..core.settings.services import SettingSpec
from ..mail.addresses import normalise_address, optional
from .ledger import DeliveryRef
from .links import TrackedTemplate
from .services import record_bounce

SETTINGS = (
    SettingSpec("tracking.per_recipient", False, "Track opens and clicks per recipient",
                "Off: anonymous counting (totals per broadcast, no record of who opened or clicked).",
                "bool"),
    SettingSpec("tracking.soft_bounce_threshold", 3, "Soft bounces before an address is suppressed",
                "Counted within the window below; 0 never suppresses on soft bounces.", "int",
                min=0, max=1000),
    SettingSpec("tracking.soft_bounce_days", 30, "Soft bounce window (days)", "", "int",
                min=1, max=3650),
    SettingSpec("tracking.bounce_mailbox", "", "Bounce mailbox for `flask bounces fetch`",
                "imaps://user:password@host/INBOX or a Maildir path. The BOUNCE_MAILBOX environment "
                "variable, when set, wins (keeps the password out of the database).", "secret"),
    SettingSpec("tracking.webhook_secret", "", "Bounce webhook secret",
                "HMAC-SHA256 key for POST /hooks/bounces; the BOUNCE_WEBHOOK_SECRET environment "
                "variable, when set, wins.", "secret"),
    SettingSpec("tracking.unsubscribe_mailbox", "", "Unsubscribe mailbox (List-Unsubscribe mailto)",
                "Empty: unsubscribe@ the From domain. Read it with `flask bounces fetch`.", "str",
                validate=optional(normalise_address)),
)


def init_app(app):
    """Register the public, webhook, dashboard and admin blueprints, settings, menus and CLI."""
    from ..core.extensions import csrf
    from ..core.menu import add_core_menu_item
    from . import admin_views, models, report, views, webhook  # noqa: F401 - models registers the tables
    from .cli import bounces_cli, suppressions_cli

    for blueprint in (views.bp, views.preferences_bp, webhook.bp, admin_views.bp):
        app.register_blueprint(blueprint)
    # Only these two POST routes skip CSRF: the signed unsubscribe token and the webhook's HMAC
    # are their proof, and neither carries a session.
    csrf.exempt(views.unsubscribe_link)
    csrf.exempt(webhook.bounces)
    for spec in SETTINGS:
        app.extensions["herald_settings"].declare(spec)
    add_core_menu_item(app, "Suppression list", "suppressions.index", 70)
    add_core_menu_item(app, "E-mail preferences", "preferences.preferences", 50, menu="dashboard_menu")
    app.cli.add_command(bounces_cli)
    app.cli.add_command(suppressions_cli)
    hooks = app.extensions["herald_hooks"]
    hooks.add("delivery_results_recorded", record_rejections)
    hooks.add("broadcast_tracking", tracked_template)
    hooks.add("delivery_run_panels", report.engagement_panel)


def tracked_template(tracking, html, run_id, opens, clicks, mask):
    """``broadcast_tracking``: the run's HTML with its links and pixel tracked (TrackedTemplate)."""
    return TrackedTemplate(html, run_id, opens, clicks, mask) if run_id is not None else tracking


def record_rejections(run_id, outcomes):
    """``delivery_results_recorded``: mailbox rejections (a 5xx at RCPT or DATA, RFC 5321 section
    4.2.2; not a bounce, which is a report that comes back later, RFC 3464) are recorded as hard
    bounce events of the run, as the report and the suppression policy count them; the delivery
    engine has already suppressed the address."""
    for outcome in (o for o in outcomes if o.rejected):
        record_bounce(outcome.email, "hard", "smtp", f"{outcome.code} {outcome.reply}"[:500],
                      delivery=DeliveryRef(outcome.id, run_id, outcome.email, outcome.message_id),
                      event_key=f"smtp:{outcome.id}")
