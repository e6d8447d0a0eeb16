"""The registry: what plugins register through host.register_event / host.register_system_email."""
from datetime import timedelta

import pytest

from app.system_emails.registry import RegistrationError, SystemEmailRegistry, parse_delay

from app.testing import write_plugin

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
