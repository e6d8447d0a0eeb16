"""Every state-changing route and ``flask`` command is either audited or exempt for a stated
reason, and the actions added for the gaps (caught mail, memberships, demo data) are recorded."""
import mailbox
import re
from datetime import timedelta
from pathlib import Path

import click

from app.core.utils import utcnow
from app.testing import audit_entries, csrf_token, make_customer, make_membership, make_product

ROOT = Path(__file__).resolve().parents[2]
CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
CUSTOMER = "a customer's own choice about their own account, not an admin action"

# endpoint -> the audit actions its changes record (each must be recorded somewhere in app/)
AUDITED_ROUTES = {
    "broadcasts_api.create": "broadcast.created", "broadcasts_api.update": "broadcast.edited",
    "broadcasts_api.cancel_": "broadcast.cancelled", "broadcasts_api.send": "broadcast.sent",
    "broadcasts_api.grant_mailing": "product.mailing_granted",
    "scheduling_api.replace": "schedule.saved", "scheduling_api.change": "schedule.paused",
    "delivery_keyed_api.run_control": "run.paused", "delivery_api.run_control": "run.paused",
    "broadcasts.change_status": "broadcast.cancelled broadcast.unscheduled",
    "broadcasts.delete": "broadcast.deleted", "broadcasts.duplicate": "broadcast.duplicated",
    "broadcasts.wizard_step": "broadcast.edited broadcast.sent broadcast.test_sent",
    "broadcasts.new": "broadcast.created", "delivery.control": "run.paused",
    "delivery.resend_unknown": "run.resent_unknown",
    "mailcatcher.clear_all": "caught_mail.cleared",
    "billing.record_json": "payment.recorded", "billing.payments": "payment.recorded",
    "plugins.change": "plugin.activated plugin.deactivated",
    "plugins.clear_faults": "plugin.faults_cleared", "plugins.settings": "settings.changed",
    "plugins.uninstall_page": "plugin.uninstalled",
    "api_keys.create": "api_key.created", "api_keys.revoke_key": "api_key.revoked",
    "auth.end_other_sessions": "user.sessions_ended", "auth.change_password": "user.password_changed",
    "scheduling.edit": "schedule.saved", "scheduling.change": "schedule.ended",
    "settings.index": "settings.changed", "network.site_publish": "site.published",
    "suppressions.add": "suppression.added", "suppressions.import_file": "suppression.imported",
    "suppressions.remove": "suppression.removed",
    "system_emails.edit": "system_email.edited system_email.test_sent",
    "system_emails.delete": "system_email.deleted", "system_emails.fire": "system_event.fired",
    "system_emails.reset_import": "system_email.reset system_email.imported",
    "system_emails_api.email_detail": "system_email.edited",
    "plugin_domain_mapping.index": "domain_mapping.created",  # the bundled plugin, active here
    "plugin_domain_mapping.delete": "domain_mapping.deleted",
}
EXEMPT_ROUTES = {
    "broadcasts.live_preview": "renders a preview, changes nothing",
    "system_emails.preview": "renders a preview, changes nothing",
    "auth.login": "not an admin change (failures are throttled, see docs)",
    "auth.logout": "the user's own session; nothing else changes",
    "notices.dismiss_notice": CUSTOMER, "preferences.preferences": CUSTOMER,
    "tracking.unsubscribe_link": CUSTOMER, "tracking.resubscribe_link": CUSTOMER,
    "tracking_hooks.bounces": "a provider's bounce reports (system input, like `bounces fetch` "
                              "entries' content); signed, not an admin",
}
AUDITED_COMMANDS = {
    "seed-demo": "network.seeded", "expire-memberships": "memberships.expired",
    "plugins activate": "plugin.activated", "plugins deactivate": "plugin.deactivated",
    "plugins uninstall": "plugin.uninstalled", "plugins clear-faults": "plugin.faults_cleared",
    "plugins forget-migration": "plugin.migration_forgotten", "bounces fetch": "bounces.fetched",
    "suppressions import": "suppression.imported",
    "broadcasts send": "broadcast.sent", "delivery pause": "run.paused",
    "delivery resume": "run.resumed", "delivery cancel": "run.cancelled",
    "delivery resend-unknown": "run.resent_unknown", "schedules pause": "schedule.paused",
    "schedules resume": "schedule.resumed", "schedules end": "schedule.ended",
    "payments record": "payment.recorded", "emails import": "system_email.imported",
    "emails reset": "system_email.reset", "emails test": "system_email.test_sent",
    "emails fire": "system_event.fired", "emails setup": "plugin.activated system_email.imported",
    "api-keys create": "api_key.created", "api-keys revoke": "api_key.revoked",
    "create-admin": "user.created", "db upgrade": "database.upgraded",
    "users set-password": "user.password_changed", "users set-role": "user.role_changed",
    "auth unthrottle": "login_throttle.cleared", "db downgrade": "database.downgraded",
}
READS = "reads only"
EXEMPT_COMMANDS = {
    **{f"db {name}": "Flask-Migrate's developer tooling (migration files, stamps); production "
                     "runs `flask db upgrade` only" for name in (
        "list-templates", "init", "revision", "migrate", "edit", "merge", "show",
        "history", "heads", "branches", "current", "stamp", "check")},
    "audit list": READS, "plugins list": READS, "plugins faults": READS, "bounces show": READS,
    "broadcasts list": READS, "delivery status": READS, "delivery watch": READS,
    "schedules list": READS, "schedules preview": READS, "emails list": READS,
    "api-keys list": READS, "check": READS, "rq info": READS,
    "plugins new": "writes a plugin skeleton into a folder; the database is not touched",
    "mailcatcher": "the development mail catcher (a server)", "dev": "the development servers",
    "rq worker": "a worker: its jobs act as `system`", "scheduler run": "a daemon (system)",
    "delivery supervise": "a daemon (system)",
}


def _commands(group, path=()):
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from _commands(command, (*path, name))
        else:
            yield " ".join((*path, name))


def _recorded_actions() -> set:
    """Every action name a ``record(...)`` or ``audit_log`` call in app/ or plugins/ spells out
    (or builds from the schedule verbs)."""
    source = "\n".join(path.read_text() for folder in ("app", "plugins")
                       for path in (ROOT / folder).rglob("*.py"))
    found = set(re.findall(r'(?:record\(|"audit_log",)\s*"([a-z_]+\.[a-z_]+)"', source))
    return found | {f"schedule.{verb}" for verb in ("paused", "resumed", "ended")} | {"settings.changed"}


def test_every_state_changing_route_and_command_is_audited_or_exempt(app):
    routes = {rule.endpoint for rule in app.url_map.iter_rules() if rule.methods & CHANGING}
    assert routes == set(AUDITED_ROUTES) | set(EXEMPT_ROUTES)
    assert set(_commands(app.cli)) == set(AUDITED_COMMANDS) | set(EXEMPT_COMMANDS)
    named = {action for table in (AUDITED_ROUTES, AUDITED_COMMANDS) for actions in table.values()
             for action in actions.split()}
    assert named - _recorded_actions() == set()


def test_clearing_caught_mail_is_audited(app, admin_client):
    folder = mailbox.Maildir(app.config["MAILCATCHER_DIR"], create=True)
    folder.add(b"Subject: caught\r\n\r\nbody\r\n")
    token = csrf_token(admin_client, "/network/caught-mail/")
    assert admin_client.post("/network/caught-mail/clear", data={"csrf_token": token}).status_code == 302
    (entry,) = audit_entries(action="caught_mail.cleared")
    assert (entry.actor, entry.summary) == ("admin@example.com", "1 message(s) deleted")
    assert len(folder) == 0


def test_expiring_memberships_is_audited(app, db, runner):
    product = make_product("starter")
    ended = make_membership(make_customer("a@example.com"), product,
                            expires_at=utcnow() - timedelta(days=1))
    make_membership(make_customer("b@example.com"), product, expires_at=utcnow() + timedelta(days=1))
    assert "Expired 1 membership(s)." in runner.invoke(args=["expire-memberships"]).output
    (entry,) = audit_entries(action="memberships.expired")
    assert (entry.actor_kind, entry.summary) == ("cli", f"1 expired: #{ended.id}")
    assert runner.invoke(args=["expire-memberships"]).exit_code == 0
    assert len(audit_entries(action="memberships.expired")) == 1  # nothing expired: no entry


def test_seeding_demo_data_is_audited(app, committed, runner):
    result = runner.invoke(args=["seed-demo", "--customers", "3", "--products", "1"])
    assert result.exit_code == 0, result.output
    (entry,) = audit_entries(action="network.seeded")
    assert entry.actor_kind == "cli" and entry.summary.startswith("3 customers, 1 products, seed 42")
