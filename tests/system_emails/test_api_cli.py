"""The JSON endpoints (list, get, update) and `flask emails list|import|reset|test|setup|fire`."""
from app.core.extensions import db
from app.core.jobs import get_queue
from app.plugins.services import activate

from sysemail_helpers import email, sends
from app.testing import audit_entries, csrf_token


def test_api_lists_and_gets_emails_and_events(network, admin_client):
    listed = admin_client.get("/network/system-emails/emails.json").get_json()["emails"]
    assert {e["slug"] for e in listed} >= {"welcome", "payment_received_admin"}
    one = admin_client.get(f"/network/system-emails/emails/{email('welcome').id}.json").get_json()
    assert (one["event"], one["audience"], one["modified"], one["stats"]["sent"]) == (
        "customer_registered", "customer", False, 0)
    events = admin_client.get("/network/system-emails/events.json").get_json()["events"]
    welcome = next(e for e in events if e["slug"] == "customer_registered")
    assert welcome["sample_payload"]["customer_first_name"] == "Jane" and "login_url" in welcome["placeholders"]
    assert admin_client.get("/network/system-emails/emails/999.json").get_json() == {"error": "No system e-mail 999."}


def test_api_updates_with_the_same_validation_as_the_editor(network, admin_client):
    url = f"/network/system-emails/emails/{email('welcome').id}.json"
    headers = {"X-CSRFToken": csrf_token(admin_client, "/network/system-emails/")}
    ok = admin_client.patch(url, json={"subject": "Hi {{ customer_name }}", "active": False,
                                       "delay_value": 30, "delay_unit": "minutes"}, headers=headers)
    assert ok.status_code == 200
    assert (ok.get_json()["subject"], ok.get_json()["active"], ok.get_json()["modified"]) == (
        "Hi {{ customer_name }}", False, True)
    bad = admin_client.patch(url, json={"body": "{{ coupon }}", "delay_value": -1, "audience": "all"},
                             headers=headers)
    assert bad.status_code == 400
    assert set(bad.get_json()["fields"]) == {"body", "delay_value", "audience"}
    assert admin_client.patch(url, json={"slug": "x"}, headers=headers).get_json() == {
        "error": "Fields that cannot be changed: slug."}
    assert admin_client.patch(url, data="nope", headers=headers).status_code == 400
    assert admin_client.patch(url, json={"active": True}).status_code == 400  # no CSRF header
    db.session.expire_all()
    assert email("welcome").subject == "Hi {{ customer_name }}"


def test_cli_list_import_reset(network, runner):
    activate("domain_mapping")
    listed = runner.invoke(args=["emails", "list"]).output
    assert "welcome" in listed and "Can be imported (1): domain_mapping_created" in listed
    assert runner.invoke(args=["emails", "import"]).exit_code == 1
    assert "Imported 1: domain_mapping_created" in runner.invoke(args=["emails", "import", "--all"]).output
    email("welcome").subject = "Changed"
    db.session.commit()
    assert "modified" in runner.invoke(args=["emails", "list"]).output
    assert "Reset 1: welcome" in runner.invoke(args=["emails", "reset", "welcome"]).output
    failed = runner.invoke(args=["emails", "reset", "nope"])
    assert failed.exit_code == 1 and "No installed e-mail is called “nope”." in failed.output


def test_cli_test_sends_now_and_prints_the_server_reply(network, runner, smtp_sink):
    result = runner.invoke(args=["emails", "test", "payment_received", "--to", "qa@example.org"])
    assert result.exit_code == 0, result.output
    assert "sent: qa@example.org (250 2.0.0 Message accepted)" in result.output
    assert smtp_sink.to("qa@example.org")[0].message["subject"] == "Thank you: we received 19.00 EUR"
    assert len(get_queue("emails")) == 0  # sent here and now, not queued as well
    (entry,) = audit_entries(action="system_email.test_sent")
    assert (entry.actor_kind, entry.summary) == ("cli", "to qa@example.org")
    bad = runner.invoke(args=["emails", "test", "payment_received", "--to", "not-an-address"])
    assert bad.exit_code == 1 and "Enter the e-mail address" in bad.output


def test_cli_setup_and_fire(app, runner, customer, worker, smtp_sink):
    assert "Installed 9 system e-mail(s)." in runner.invoke(args=["emails", "setup"]).output
    assert "already set up" in runner.invoke(args=["emails", "setup"]).output
    fired = runner.invoke(args=["emails", "fire", "membership_expired", "--customer", "carol@example.com"])
    assert "queued   carol@example.com" in fired.output
    worker.work()
    assert [m.message["subject"] for m in smtp_sink.to("carol@example.com")] == [
        "Your Business plan membership has expired"]
    assert [s.status for s in sends("membership_expired")] == ["sent"]
    assert runner.invoke(args=["emails", "fire", "nope", "--customer", "carol@example.com"]).exit_code == 1


def test_api_refuses_a_value_of_the_wrong_json_type_naming_its_field(network, admin_client):
    """A list where a choice belongs was a 500 (unhashable in the choices' dict); a number, a list
    or an object as the subject or body was stored as its Python text ("['a']") (review d, item 2)."""
    welcome = email("welcome")
    url = f"/network/system-emails/emails/{welcome.id}.json"
    headers = {"X-CSRFToken": csrf_token(admin_client, "/network/system-emails/")}
    before = {name: getattr(welcome, name) for name in ("subject", "body", "style", "audience", "delay_unit")}
    for field, value in [("style", ["html"]), ("audience", {"a": 1}), ("delay_unit", ["minutes"]),
                         ("subject", ["Hi"]), ("subject", 12), ("body", {"a": 1}), ("body", True),
                         ("active", "false"), ("delay_value", 1.5)]:
        answer = admin_client.patch(url, json={field: value}, headers=headers)
        assert answer.status_code == 400, (field, value, answer.get_data(as_text=True))
        assert list(answer.get_json()["fields"]) == [field]
    db.session.expire_all()
    assert {name: getattr(email("welcome"), name) for name in before} == before
