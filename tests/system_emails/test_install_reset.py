"""Installed versus registered: set-up, import, reset (id, statistics, settings kept), delete, updates."""
import pytest
from sqlalchemy import func, select

from app.core.extensions import db
from app.network.services import register_customer
from app.plugins.models import PluginState
from app.plugins.services import activate
from app.system_emails.models import SystemEmail, SystemEmailSend
from app.plugins.network_setup import setup_network
from app.system_emails.services import (ServiceError, delete_email, email_state, import_defaults,
                                        importable_defaults, reset_emails, resettable_states,
                                        update_email)

from sysemail_helpers import email, sends
from app.testing import write_plugin

CORE_SLUGS = {"welcome", "new_customer_admin", "confirm_email", "payment_received",
              "payment_received_admin", "payment_failed", "renewal_payment", "membership_expired",
              "site_published"}


def installed_slugs():
    return set(db.session.scalars(select(SystemEmail.slug)))


@pytest.mark.committed  # activation is read on the plugin host's own connection
def test_setup_activates_core_emails_and_installs_its_defaults_once(app):
    assert installed_slugs() == set()
    installed = setup_network()
    assert {e.slug for e in installed} == CORE_SLUGS == installed_slugs()
    assert db.session.get(PluginState, "core_emails").active
    assert db.session.get(PluginState, "domain_mapping") is None
    assert setup_network() == []


def test_a_plugin_activated_later_waits_on_import_and_is_never_added_silently(network):
    activate("domain_mapping")
    assert "domain_mapping_created" not in installed_slugs()
    assert [d.slug for d in importable_defaults()] == ["domain_mapping_created"]
    [imported] = import_defaults(["domain_mapping_created"])
    db.session.commit()
    assert (imported.plugin, imported.active, imported.modified) == ("domain_mapping", True, False)
    assert importable_defaults() == []
    with pytest.raises(ServiceError):
        import_defaults(["domain_mapping_created"])


def test_defaults_of_inactive_plugins_cannot_be_imported(network):
    assert importable_defaults() == []
    with pytest.raises(ServiceError):
        import_defaults(["domain_mapping_created"])


def test_reset_keeps_id_statistics_log_and_settings(network, worker, smtp_sink):
    register_customer("sam@example.com", "Sam")
    db.session.commit()
    worker.work()
    welcome = email("welcome")
    original_id, original_subject = welcome.id, welcome.subject
    update_email(welcome, {"subject": "Hi {{ customer_name }}", "active": False, "copy_admins": True,
                           "delay_value": 3, "delay_unit": "days"})
    db.session.commit()
    assert email_state(welcome).modified and not email_state(welcome).update_available
    assert [s.email.slug for s in resettable_states()] == ["welcome"]

    reset_emails(["welcome"])
    db.session.commit()
    db.session.expire_all()
    welcome = email("welcome")
    assert (welcome.id, welcome.subject, welcome.modified) == (original_id, original_subject, False)
    assert (welcome.sent_count, welcome.last_sent_at is not None) == (1, True)
    assert (welcome.active, welcome.copy_admins, welcome.delay_value, welcome.delay_unit) == (
        False, True, 3, "days")
    assert len(sends("welcome")) == 1
    assert resettable_states() == []


def test_delete_then_import_loses_the_statistics(network, worker, smtp_sink):
    register_customer("sam@example.com", "Sam")
    db.session.commit()
    worker.work()
    old_id = email("welcome").id
    delete_email(email("welcome"))
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(SystemEmailSend)
                             .where(SystemEmailSend.email_id == old_id)) == 0
    import_defaults(["welcome"])
    db.session.commit()
    again = email("welcome")
    assert again.id != old_id and (again.sent_count, again.last_sent_at) == (0, None)


PLUGIN = '''
PLUGIN_INFO = {{"name": "Reminders", "version": "{version}"}}

def setup(host):
    host.register_event("trial_ending", "Trial ending", "", {{"customer_email": "", "days": ""}},
                        {{"customer_email": "a@example.com", "days": 3}})
    host.register_system_email("trial_reminder", "trial_ending", "customer",
                               "{subject}", "<p>{{{{ days }}}} days left</p>", "Trial reminder")
'''


def test_a_new_plugin_version_of_a_default_shows_update_available(app, make_app, plugin_dir):
    write_plugin(plugin_dir, "reminders", PLUGIN.format(version="1.0", subject="Your trial ends soon"))
    with make_app(PLUGINS_DIR=str(plugin_dir)).app_context():
        activate("reminders")
        import_defaults(["trial_reminder"])
        db.session.commit()
        installed = email("trial_reminder")
        assert installed.default_version == "1.0" and not email_state(installed).update_available

    (plugin_dir / "reminders" / "__init__.py").write_text(
        PLUGIN.format(version="1.1", subject="{{ days }} days left in your trial"))
    with make_app(PLUGINS_DIR=str(plugin_dir)).app_context():
        state = email_state(email("trial_reminder"))
        assert state.update_available and not state.modified
        assert [s.email.slug for s in resettable_states()] == ["trial_reminder"]
        reset_emails(["trial_reminder"])
        db.session.commit()
        installed = email("trial_reminder")
        assert (installed.subject, installed.default_version) == ("{{ days }} days left in your trial", "1.1")
        assert not email_state(installed).update_available
