"""The registry: what plugins register through host.register_event / host.register_system_email."""
from datetime import timedelta

import pytest

from app.system_emails.registry import RegistrationError, SystemEmailRegistry, parse_delay

from app.testing import write_plugin
from tests.plugins.helpers import BUNDLED, cli, network

GOOD_PLUGIN = '''
PLUGIN_INFO = {"name": "Invoices", "version": "2.0"}

def setup(host):
    host.register_event("invoice_sent", "Invoice sent", "An invoice went out.",
                        {"customer_email": "Where it goes", "total": "The total"},
                        lambda: {"customer_email": "jane@example.com", "total": "42.00"})
    host.register_system_email("invoice", "invoice_sent", "both", "Invoice: {{ total }}",
                               "Total {{ total }}", "Invoice", style="plain", delay="2 days")
'''
BAD_PLUGIN = '''
def setup(host):
    host.register_event("thing_done", "Thing done", payload_keys=["customer_email"])
    host.register_system_email("thing", "thing_done", "customer", "Hi {{ nme }}", "x", "Thing")
'''


def test_plugins_register_events_and_defaults_tagged_with_their_slug(make_app, plugin_dir):
    write_plugin(plugin_dir, "invoices", GOOD_PLUGIN)
    write_plugin(plugin_dir, "broken", BAD_PLUGIN)
    app = make_app(PLUGINS_DIR=str(plugin_dir))
    registry = app.extensions["herald_system_emails"]
    event = registry.events["invoice_sent"]
    assert (event.plugin, event.sample_payload()) == ("invoices", {"customer_email": "jane@example.com",
                                                                    "total": "42.00"})
    assert set(event.placeholders) == {"customer_email", "total", "network_name", "network_url"}
    default = registry.defaults["invoice"]
    assert (default.plugin, default.audience, default.style, default.delay_value, default.delay_unit) == (
        "invoices", "both", "plain", 2, "days")
    broken = app.extensions["herald_plugins"].plugins["broken"]
    assert "unknown placeholder {{ nme }}" in broken.error  # recorded, the app keeps running
    assert "thing" not in registry.defaults


INTRUDER = '''
def setup(host):
    host.register_event("bad_thing", "Bad thing", payload_keys=["customer_email"])
    host.register_system_email("new_customer_admin", "bad_thing", "admins", "Mine now", "Mine", "Mine")
'''
TWICE = '''
def setup(host):
    host.register_event("twin_thing", "Twin thing")
    host.register_system_email("twin", "twin_thing", "admins", "First", "First", "Twin")
    host.register_system_email("twin", "twin_thing", "admins", "Second", "Second", "Twin")
'''


def test_a_bundled_plugins_email_slug_stays_its_own_and_the_intruder_fails(make_app, plugin_dir):
    # bad_email sorts before core_emails: set up in slug order, it took new_customer_admin and
    # core_emails failed ("already registered by bad_email"), its defaults gone.
    (plugin_dir / "core_emails").symlink_to(BUNDLED / "core_emails", target_is_directory=True)
    write_plugin(plugin_dir, "bad_email", INTRUDER)
    write_plugin(plugin_dir, "aa_twice", TWICE)
    app = make_app(PLUGINS_DIR=str(plugin_dir))
    plugins, registry = app.extensions["herald_plugins"].plugins, app.extensions["herald_system_emails"]
    assert list(plugins) == ["aa_twice", "bad_email", "core_emails"]  # listed in slug order still
    assert plugins["core_emails"].loaded and plugins["core_emails"].bundled
    assert "system e-mail 'new_customer_admin' is already registered by core_emails" in plugins["bad_email"].error
    assert "system e-mail 'twin' is registered twice by aa_twice" in plugins["aa_twice"].error
    default = registry.defaults["new_customer_admin"]
    assert (default.plugin, default.subject) != ("bad_email", "Mine now") and default.plugin == "core_emails"
    assert "twin" not in registry.defaults and "bad_thing" not in registry.events  # dropped with their plugins
    network(app)
    listed = cli(app, "emails", "list").output
    assert "new_customer_admin" in listed and "update-available" not in listed


@pytest.mark.parametrize("kwargs, message", [
    ({"event": "nope"}, "register event 'nope' first"),
    ({"audience": "everyone"}, "audience must be one of"),
    ({"style": "markdown"}, "style must be"),
    ({"slug": "Bad Slug"}, "must be lower-case"),
    ({"body": "{% if secret.__class__ %}x{% endif %}"}, "Refused"),
    ({"body": "{{ secret.__class__ }}"}, "body: Line 1, column 10: expected }} or"),
    ({"delay": "soon"}, "delay 'soon' is not understood"),
    # what the database cannot store, said at registration, not as a 500 when an admin imports it
    ({"subject": "Paid\x00"}, "system e-mail receipt: subject holds a character that is not allowed \\(U\\+0000"),
    ({"body": "Thanks\x00"}, "system e-mail receipt: body holds a NUL or a lone surrogate"),
    ({"body": "x" * 200_001}, "body is too long \\(at most 200,000"),
    ({"name": "R" * 201}, "name is too long \\(at most 200"),
    ({"description": "\ud800"}, "description holds a character that is not allowed"),
    ({"subject": 42}, "subject must be text"),
])
def test_wrong_registrations_say_what_to_fix(kwargs, message):
    registry = SystemEmailRegistry()
    registry.register_event("paid", "Paid", payload_keys={"secret": ""})
    arguments = dict(slug="receipt", event="paid", audience="customer", subject="Paid",
                     body="Thanks", name="Receipt", **{})
    arguments.update(kwargs)
    with pytest.raises(RegistrationError, match=message):
        registry.register_email(**arguments)


def test_an_event_whose_name_cannot_be_stored_is_refused():
    with pytest.raises(RegistrationError, match="event paid: name holds a character"):
        SystemEmailRegistry().register_event("paid", "Pa\x00id")


def test_an_event_slug_belongs_to_one_plugin():
    registry = SystemEmailRegistry()
    registry.register_event("paid", "Paid", plugin="a")
    with pytest.raises(RegistrationError, match="already registered by a"):
        registry.register_event("paid", "Paid", plugin="b")


@pytest.mark.parametrize("delay, expected", [
    (0, (0, "minutes")), (90, (90, "minutes")), ("3 days", (3, "days")), ("2h", (2, "hours")),
    ((5, "hours"), (5, "hours")), (timedelta(days=2), (2, "days")), (timedelta(minutes=90), (90, "minutes")),
])
def test_delays_in_minutes_hours_or_days(delay, expected):
    assert parse_delay(delay) == expected
