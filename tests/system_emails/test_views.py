"""The admin pages: list, editor (save, errors, no-JS preview, live preview, test), diff, log, delete."""

import re
from app.core.extensions import db
from app.plugins.services import activate

from sysemail_helpers import email, sends
from app.testing import audit_entries, csrf_token, mail_frames


def editor_form(client, row, **changes):
    data = {"csrf_token": csrf_token(client, f"/network/system-emails/{row.id}"), "subject": row.subject,
            "body": row.body, "style": row.style, "audience": row.audience, "delay_value": row.delay_value,
            "delay_unit": row.delay_unit, "action": "save"}
    if row.active:
        data["active"] = "y"
    data.update(changes)
    return data


def test_the_list_shows_installed_emails_with_counts_and_what_waits_for_import(network, admin_client):
    activate("domain_mapping")
    page = admin_client.get("/network/system-emails/").get_data(as_text=True)
    assert "Welcome" in page and "Payment received (to admins)" in page
    assert "1 registered default e-mail is not installed yet" in page
    assert 'href="/network/system-emails/reset-import"' in page


def test_the_editor_shows_placeholders_and_a_preview_with_the_sample_payload(network, admin_client):
    page = admin_client.get(f"/network/system-emails/{email('welcome').id}").get_data(as_text=True)
    assert 'data-insert="{{ customer_first_name }}"' in page and "e.g. Jane" in page
    assert "Welcome to Herald Network, Jane!" in page  # previewed subject
    assert "Welcome, Jane!" in mail_frames(admin_client, page)


def test_saving_changes_content_and_settings_and_marks_it_modified(network, admin_client):
    row = email("welcome")
    data = editor_form(admin_client, row, subject="Hello {{ customer_name }}", delay_value="2",
                       delay_unit="days", copy_admins="y")
    data.pop("active")
    response = admin_client.post(f"/network/system-emails/{row.id}", data=data)
    assert response.status_code == 302
    db.session.expire_all()
    row = email("welcome")
    assert (row.subject, row.active, row.copy_admins, row.delay_value, row.delay_unit) == (
        "Hello {{ customer_name }}", False, True, 2, "days")
    listing = admin_client.get("/network/system-emails/").get_data(as_text=True)
    assert "modified" in listing and "2 days later" in listing


def test_an_unknown_placeholder_is_a_field_error_and_nothing_is_saved(network, admin_client):
    row = email("welcome")
    response = admin_client.post(f"/network/system-emails/{row.id}",
                                 data=editor_form(admin_client, row, body="<p>{{ coupon_code }}</p>"))
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Line 1, column 4: unknown placeholder {{ coupon_code }}." in page and 'aria-invalid="true"' in page
    db.session.expire_all()
    assert "coupon_code" not in email("welcome").body


def test_a_sandbox_escape_is_refused_on_save(network, admin_client):
    row = email("welcome")
    response = admin_client.post(f"/network/system-emails/{row.id}", data=editor_form(
        admin_client, row, subject="{% if customer_name.__class__.__mro__ %}x{% endif %}"))
    assert response.status_code == 400
    assert "Refused: &#39;__mro__&#39; reaches into Python internals" in response.get_data(as_text=True)


def test_the_preview_button_renders_unsaved_content_without_javascript(network, admin_client):
    row = email("welcome")
    response = admin_client.post(f"/network/system-emails/{row.id}", data=editor_form(
        admin_client, row, subject="Hey {{ customer_email }}", action="preview"))
    assert response.status_code == 200
    assert "Hey jane.doe@example.com" in response.get_data(as_text=True)
    db.session.expire_all()
    assert email("welcome").subject.startswith("Welcome")


def test_the_live_preview_endpoint_answers_json(network, admin_client):
    row = email("welcome")
    token = csrf_token(admin_client, f"/network/system-emails/{row.id}")
    result = admin_client.post(f"/network/system-emails/{row.id}/preview", data={
        "csrf_token": token, "subject": "Hi {{ customer_first_name }}", "body": "<p>{{ customer_name }}</p>",
        "style": "html"}).get_json()
    assert result["subject"] == "Hi Jane" and ">Jane Doe</p>" in result["document"]
    bad = admin_client.post(f"/network/system-emails/{row.id}/preview", data={
        "csrf_token": token, "subject": "x", "body": "{{ nope }}", "style": "plain"}).get_json()
    assert bad["errors"]["body"].startswith("Line 1, column 1: unknown placeholder {{ nope }}")


def test_send_test_sends_the_unsaved_content_to_any_address(network, admin_client, worker, smtp_sink):
    row = email("welcome")
    response = admin_client.post(f"/network/system-emails/{row.id}", data=editor_form(
        admin_client, row, subject="Draft for {{ customer_name }}", action="test",
        test_address="qa@example.org"))
    assert response.status_code == 200 and "A test was queued for qa@example.org" in response.get_data(as_text=True)
    worker.work()
    [message] = smtp_sink.to("qa@example.org")
    assert message.message["subject"] == "Draft for Jane Doe"
    assert [(s.role, s.status) for s in sends("welcome")] == [("test", "sent")]
    assert [e.summary for e in audit_entries(action="system_email.test_sent")] == ["to qa@example.org"]
    missing = admin_client.post(f"/network/system-emails/{row.id}", data=editor_form(admin_client, row, action="test"))
    assert missing.status_code == 400 and "Enter the e-mail address the test goes to." in missing.get_data(as_text=True)


def test_send_test_pressed_twice_sends_one_test(network, admin_client, worker, smtp_sink):
    """The editor's form carries the submission nonce: a double click on Send test queued two
    tests (review d, item 4: creating forms without the guard)."""
    row = email("welcome")
    page = admin_client.get(f"/network/system-emails/{row.id}").get_data(as_text=True)
    nonce = re.search(r'name="submission" value="([^"]+)"', page).group(1)
    data = editor_form(admin_client, row, action="test", test_address="qa@example.org", submission=nonce,
                       subject="Draft for {{ customer_name }}")
    first = admin_client.post(f"/network/system-emails/{row.id}", data=data)
    again = admin_client.post(f"/network/system-emails/{row.id}", data=data)
    assert first.status_code == again.status_code == 200
    assert "already sent: it was queued once" in again.get_data(as_text=True)
    assert "Draft for {{ customer_name }}" in again.get_data(as_text=True)  # the unsaved edit is kept
    worker.work()
    assert len(smtp_sink.to("qa@example.org")) == 1 and len(sends("welcome")) == 1


def test_diff_log_and_delete_pages(network, admin_client, customer, worker, smtp_sink):
    worker.work()
    row = email("welcome")
    row.body = row.body.replace("We are glad to have you.", "So glad!")
    db.session.commit()
    diff = admin_client.get(f"/network/system-emails/{row.id}/diff").get_data(as_text=True)
    assert '<span class="diff-removed">-<p>We are glad to have you.</p></span>' in diff.replace("&lt;", "<").replace("&gt;", ">")
    assert "So glad!" in diff
    log = admin_client.get(f"/network/system-emails/{row.id}/log").get_data(as_text=True)
    assert "carol@example.com" in log and "250 2.0.0 Message accepted" in log
    unknown = admin_client.get(f"/network/system-emails/{row.id}/log?status=sennt")  # none of the statuses
    assert unknown.status_code == 400 and "No status is called “sennt”" in unknown.get_data(as_text=True)
    assert "carol@example.com" in unknown.get_data(as_text=True)  # every status, not none
    confirm = admin_client.get(f"/network/system-emails/{row.id}/delete").get_data(as_text=True)
    assert "Deleting loses this e-mail's statistics and send log for good" in confirm and "(1 sent, 0 failed)" in confirm
    token = csrf_token(admin_client, f"/network/system-emails/{row.id}/delete")
    assert admin_client.post(f"/network/system-emails/{row.id}/delete", data={"csrf_token": token}).status_code == 302
    assert email("welcome") is None


def test_reset_and_import_through_the_page(network, admin_client):
    activate("domain_mapping")
    row = email("welcome")
    row.subject, row.active = "Changed", False
    db.session.commit()
    page = admin_client.get("/network/system-emails/reset-import").get_data(as_text=True)
    assert 'value="domain_mapping_created"' in page and 'value="welcome"' in page
    assert "keeps the e-mail's id, statistics, log and settings" in page and "loses its statistics" in page
    token = csrf_token(admin_client, "/network/system-emails/reset-import")
    admin_client.post("/network/system-emails/reset-import", data={
        "csrf_token": token, "action": "import", "slug": "domain_mapping_created"})
    admin_client.post("/network/system-emails/reset-import", data={"csrf_token": token, "action": "reset", "slug": "welcome"})
    db.session.expire_all()
    assert email("domain_mapping_created") is not None
    assert (email("welcome").subject, email("welcome").active) == ("Welcome to {{ network_name }}, {{ customer_first_name }}!", False)
    nothing = admin_client.post("/network/system-emails/reset-import", data={"csrf_token": token, "action": "reset"},
                                follow_redirects=True)
    assert "Choose at least one e-mail first." in nothing.get_data(as_text=True)


def test_reset_and_import_refuse_an_unknown_slug_or_action_with_a_400_naming_it(network, admin_client):
    token = csrf_token(admin_client, "/network/system-emails/reset-import")
    before = email("welcome").subject
    for action, slugs, message in (
            ("import", ["../x"], "Nothing to import for “../x”: unknown"),
            ("reset", ["welcome", "nope"], "No installed e-mail is called “nope”."),
            ("reset", [f"s{i}" for i in range(8)], "“s0”, “s1”, “s2”, “s3”, “s4” and 3 more"),
            ("reset", ["x" * 5000], f"“{'x' * 40}”."),
            ("reset", [], "Choose at least one e-mail first."),
            ("delete", ["welcome"], "Choose Import selected or Reset selected.")):
        page = admin_client.post("/network/system-emails/reset-import",
                                 data={"csrf_token": token, "action": action, "slug": slugs})
        assert page.status_code == 400, (action, slugs)
        assert message in page.get_data(as_text=True).replace("&#34;", '"'), (action, slugs)
    db.session.expire_all()
    assert email("welcome").subject == before


def test_an_admin_fires_an_event_by_hand_for_a_customer(network, admin_client, customer, worker, smtp_sink):
    worker.work()
    token = csrf_token(admin_client, "/network/system-emails/events")
    response = admin_client.post("/network/system-emails/events/payment_failed/fire",
                                 data={"csrf_token": token, "customer": "carol@example.com"}, follow_redirects=True)
    assert "Fired payment_failed for carol@example.com: 1 message(s) queued" in response.get_data(as_text=True)
    worker.work()
    subjects = [m.message["subject"] for m in smtp_sink.to("carol@example.com")]
    assert "Your payment of 19.00 EUR did not go through" in subjects
    unknown = admin_client.post("/network/system-emails/events/payment_failed/fire",
                                data={"csrf_token": token, "customer": "nobody@example.com"}, follow_redirects=True)
    assert "No customer" in unknown.get_data(as_text=True)


def test_customers_cannot_reach_the_pages(network, customer_client):
    page = customer_client.get("/network/system-emails/")
    assert page.status_code == 403 and "Welcome" not in page.get_data(as_text=True)
    listing = customer_client.get("/network/system-emails/emails.json")
    assert listing.status_code == 403 and "payment_received" not in listing.get_data(as_text=True)
    token = csrf_token(customer_client, "/dashboard/")
    row = email("welcome")
    changed = customer_client.patch(f"/network/system-emails/emails/{row.id}.json",
                                    json={"subject": "Hacked"}, headers={"X-CSRFToken": token})
    assert changed.status_code == 403
    db.session.expire_all()
    assert email("welcome").subject.startswith("Welcome")


def test_an_event_fired_by_hand_twice_with_one_form_sends_once(network, admin_client, customer, worker, smtp_sink):
    """Firing an event sends real e-mails: the same form sent twice fires it once."""
    worker.work()
    html = admin_client.get("/network/system-emails/events").get_data(as_text=True)
    hidden = {"csrf_token": csrf_token(admin_client, "/network/system-emails/events"),
              "submission": re.search(r'name="submission" value="([^"]+)"', html).group(1)}
    for _ in range(2):
        answer = admin_client.post("/network/system-emails/events/payment_failed/fire",
                                   data={**hidden, "customer": customer.email})
        assert answer.status_code == 302
    assert "already sent" in admin_client.get(answer.location).get_data(as_text=True)
    worker.work()
    subjects = [m.message["subject"] for m in smtp_sink.to(customer.email)]
    assert subjects.count("Your payment of 19.00 EUR did not go through") == 1
