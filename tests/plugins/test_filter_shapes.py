"""A filter callback's wrong return value, or a change to its input before it raised, is that
plugin's fault: the value it was given goes on as it was (issue 16: the innocent are not charged)."""
import copy
from types import SimpleNamespace

import pytest
from markupsafe import Markup
from sqlalchemy import select

from app.billing.models import Payment
from app.core.extensions import db
from app.core.hooks.catalogue import declare_all
from app.core.hooks.registry import HookRegistry
from app.core.menu import MenuItem
from app.mail.builder import OutgoingMessage
from app.system_emails.models import SystemEmailSend
from app.testing import login
from tests.plugins.helpers import cli, network, work

MESSAGE = OutgoingMessage(SimpleNamespace(email="a@example.com"), 1, "bounce@example.com",
                          [("X-A", "1")], "text", "<p>html</p>")
# One valid value per declared filter: a new filter without one here fails the first test.
VALID = {
    "admin_profile_panels": [("Keys", Markup("<p>k</p>"))],
    "admin_menu": [MenuItem("Settings", "settings.index", 10)],
    "supervisor_tasks": [lambda: []],
    "dashboard_menu": [],
    "network_dashboard_panels": [("Title", Markup("<p>x</p>"))],
    "customer_dashboard_panels": [("", Markup("<p>notice</p>"))],
    "broadcast_placeholders": {"customer_name": "The customer's name"},
    "broadcast_placeholder_values": {"customer_name": "Ann"},
    "broadcast_tracking": None,
    "broadcast_detail_panels": [],
    "broadcast_readiness": [SimpleNamespace(step="content", message="No subject")],
    "system_email_payload": {"customer_name": "Ann"},
    "system_email_message": MESSAGE,
    "mail_transports": {"smtp": lambda url: None},
    "delivery_message": MESSAGE,
    "delivery_run_panels": [Markup("<section></section>")],
    "track_link": True,
    "bounce_webhook_verify": False,
    "bounce_webhook_payload": {"events": [{"email": "a@example.com", "type": "hard"}]},
}


def _filters(app):
    return {n: s for n, s in app.extensions["herald_hooks"].specs.items() if s.kind == "filter"}


def test_every_declared_filter_has_a_shape_that_refuses_wrong_values(app):
    specs = _filters(app)
    assert set(specs) == set(VALID)
    for name, spec in specs.items():
        assert spec.shape is not None, name
        assert spec.shape.test(VALID[name]), name
        assert not spec.shape.test(object()), name
        assert name == "bounce_webhook_payload" or not spec.shape.test("oops"), name  # any JSON


@pytest.mark.parametrize("name", sorted(VALID))
def test_a_wrong_value_or_a_change_before_raising_is_the_plugin_s_fault(app, name):
    """Through the registry, as the core calls it: the next plugin gets the value unchanged."""
    host = app.extensions["herald_plugins"]
    hooks = HookRegistry(is_active=lambda slug: True, guard=host.guard)  # no core callbacks
    declare_all(hooks)
    value, seen = VALID[name], []
    before = copy.deepcopy(value)

    def changes_then_raises(given, *args):
        if isinstance(given, list):
            given.append("half")
        elif isinstance(given, dict):
            given["half"] = "done"
        elif hasattr(given, "headers"):
            given.headers.append(("X-Half", "1"))
        raise RuntimeError("after changing its input")

    hooks.add(name, lambda given, *args: object(), plugin="wrong")
    hooks.add(name, changes_then_raises, plugin="changes")
    hooks.add(name, lambda given, *args: seen.append(given) or given, plugin="innocent")
    with app.test_request_context():
        assert hooks.apply_filters(name, value, None) == before
    assert seen == [before] and value == before  # the caller's own value is untouched too
    with app.app_context():
        faults = host.faults.faults(["wrong", "changes", "innocent"])
    assert faults["wrong"][0].error.startswith(f"BadReturnValue: {name} must return ")
    assert "after changing its input" in faults["changes"][0].error
    assert "innocent" not in faults


def test_a_payload_filter_returning_none_does_not_lose_the_payment(faulty_app, customer, smtp_sink):
    network(faulty_app, "bad_shapes")
    result = cli(faulty_app, "payments", "record", "--customer", "carol@example.com", "--amount", "9")
    assert result.exit_code == 0, result.output
    with faulty_app.app_context():
        assert db.session.scalars(select(Payment.status)).all() == ["paid"]
        faults = faulty_app.extensions["herald_plugins"].faults.faults(["bad_shapes"])["bad_shapes"]
    assert "system_email_payload must return a dict with str keys, not NoneType" in faults[0].error
    work(faulty_app)
    with faulty_app.app_context():
        assert set(db.session.scalars(select(SystemEmailSend.status))) == {"sent"}


@pytest.mark.parametrize("mode", ["wrong", "mutate"])
def test_wrong_menus_and_panels_break_no_page_and_charge_only_their_plugin(faulty_app, customer, mode):
    faulty_app.extensions["herald_plugins"].plugins["bad_shapes"].module.MODE = {mode}
    client = network(faulty_app, "bad_shapes", "titled_panel")
    page = client.get("/network/")
    assert page.status_code == 200 and ">Settings</a>" in page.get_data(as_text=True)
    assert ">Half</a>" not in page.get_data(as_text=True)
    dashboard = login(faulty_app.test_client(), customer.user_id).get("/dashboard/")
    assert dashboard.status_code == 200
    assert "<h2>Loyalty points</h2>" in dashboard.get_data(as_text=True)  # the next plugin's panel
    with faulty_app.app_context():
        faults = faulty_app.extensions["herald_plugins"].faults.faults(["bad_shapes", "titled_panel"])
    assert "titled_panel" not in faults
    assert {f.where for f in faults["bad_shapes"]} >= {"admin_menu", "customer_dashboard_panels"}
