"""System e-mails follow the one placeholder grammar (editor, API, CLI, registration), fill the
default("…") fallback for blank values, and stay unmodified when saved without changes."""
import html
import re
from html.parser import HTMLParser

from app.core.extensions import db
from app.network.models import Customer
from app.system_emails import fire_event
from app.system_emails.rendering import render_subject
from app.system_emails.services import diff_against_default, email_state

from sysemail_helpers import email, sends
from app.testing import csrf_token


class EditorForm(HTMLParser):
    """The editor's form fields as a browser submits them (HTML's rules: line ends are read as LF,
    a textarea's first line end is not part of its value, and every line end goes back as CRLF)."""

    def __init__(self):
        super().__init__()
        self.fields, self._textarea = {}, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "input" and attrs.get("name") and attrs.get("type") not in ("checkbox", "submit"):
            self.fields[attrs["name"]] = attrs.get("value", "")
        elif tag == "input" and attrs.get("type") == "checkbox" and "checked" in attrs:
            self.fields[attrs["name"]] = attrs.get("value", "y")
        elif tag == "textarea":
            self._textarea = attrs["name"]
            self.fields[self._textarea] = ""
        elif tag == "option" and "selected" in attrs:
            self.fields[self._select] = attrs.get("value")
        elif tag == "select":
            self._select = attrs["name"]

    def handle_data(self, data):
        if self._textarea:
            self.fields[self._textarea] += data

    def handle_endtag(self, tag):
        if tag == "textarea":
            value = self.fields[self._textarea].replace("\r\n", "\n").replace("\r", "\n")
            value = value[1:] if value.startswith("\n") else value
            self.fields[self._textarea] = value.replace("\n", "\r\n")
            self._textarea = None


def _submitted(page: str) -> dict:
    form = EditorForm()
    form.feed(page)
    return form.fields


def test_saving_the_editor_without_changes_is_no_modification(network, admin_client):
    row = email("welcome")
    page = admin_client.get(f"/network/system-emails/{row.id}").get_data(as_text=True)
    fields = _submitted(page)
    assert "\r\n" in fields["body"]  # what a browser sends back
    response = admin_client.post(f"/network/system-emails/{row.id}", data={**fields, "action": "save"})
    assert response.status_code == 302
    db.session.expire_all()
    saved = email("welcome")
    assert not saved.modified and not email_state(saved).differs and diff_against_default(saved) == []
    assert "modified" not in admin_client.get("/network/system-emails/").get_data(as_text=True)


def test_modified_and_the_diff_always_agree(network):
    row = email("welcome")
    row.body = row.body.replace("\n", "\r\n")  # as an earlier save stored it
    db.session.commit()
    assert not row.modified and diff_against_default(row) == []
    row.body = row.body.rstrip("\r\n")  # only the last line end removed: a change, and the diff shows it
    assert row.modified and ("added", "+\\ No newline at end of file") in diff_against_default(row)


def test_the_editor_shows_grammar_errors_on_their_fields_with_positions(network, admin_client):
    row = email("welcome")
    fields = _submitted(admin_client.get(f"/network/system-emails/{row.id}").get_data(as_text=True))
    response = admin_client.post(f"/network/system-emails/{row.id}", data={
        **fields, "action": "save", "subject": "Hello {{ customer_first_name",
        "body": "<p>ok</p>\n<p>{{ customer_first_name|upper }}</p>"})
    page = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 400
    assert "Line 1, column 7: {{ customer_first_name is not closed: expected }}" in page
    assert "Line 2, column 27: unknown filter 'upper': the only filter is default(\"…\")" in page
    assert len(re.findall('aria-invalid="true"', page)) == 2
    db.session.expire_all()
    assert email("welcome").subject == row.subject


def test_the_api_answers_400_with_the_field_and_position(network, admin_client):
    url = f"/network/system-emails/emails/{email('welcome').id}.json"
    headers = {"X-CSRFToken": csrf_token(admin_client, "/network/system-emails/")}
    bad = admin_client.patch(url, json={"body": '<a href="{{ customer_name }}">x</a>'}, headers=headers)
    assert bad.status_code == 400
    assert bad.get_json()["fields"]["body"].startswith(
        "Line 1, column 10: {{ customer_name }} cannot begin the address in href")
    good = admin_client.patch(url, json={"body": '<a href="{{ login_url }}">{{ customer_name | default("you") }}</a>'},
                              headers=headers)
    assert good.status_code == 200


def test_the_cli_names_the_position_of_a_broken_stored_template(network, runner):
    row = email("welcome")
    row.body = "<p>Hi</p>\n<p>{{ customer_name or 'you' }}</p>"  # accepted before the one grammar
    db.session.commit()
    result = runner.invoke(args=["emails", "test", "welcome", "--to", "qa@example.com"])
    assert result.exit_code != 0
    assert "body: Line 2, column 21: expected }} or | default(\"…\") after customer_name, found 'or'" in result.output


def test_customers_without_a_first_name_get_the_fallback(network, worker, smtp_sink):
    row = email("welcome")
    row.subject = 'Welcome, {{ customer_first_name | default("friend") }}!'
    row.body = '<p>Hello {{ customer_first_name | default("there") }}, log in at {{ login_url }}.</p>'
    nameless = Customer(email="nameless@example.com", name="")
    db.session.add(nameless)
    db.session.commit()
    fire_event("customer_registered", customer=nameless, login_url="https://network.example/login")
    db.session.commit()
    worker.work()
    [message] = [m.message for m in smtp_sink.to("nameless@example.com") if m.subject.startswith("Welcome")]
    assert message["subject"] == "Welcome, friend!"
    assert "Hello there, log in at" in message.get_body(("plain",)).get_content()
    assert "<p>Hello there, log in at" in message.get_body(("html",)).get_content()
    assert [s.status for s in sends("welcome")] == ["sent"]


def test_the_core_defaults_use_the_fallback_for_a_missing_product(network):
    renewal = email("renewal_payment")
    assert renewal.subject.startswith('Your {{ product_name | default("membership") }} renewal')
    assert render_subject(renewal.subject, {"product_name": "", "amount": "9", "currency": "EUR"}) == \
        "Your membership renewal: 9 EUR"


def test_a_subject_with_a_line_break_is_refused_at_save_as_broadcast_subjects_are(network, admin_client):
    welcome = email("welcome")
    token = csrf_token(admin_client, "/network/system-emails/")
    for subject in ("Hi\r\nBcc: all@example.com", "Hi\nthere", "Hi\x1b[31m"):
        answer = admin_client.patch(f"/network/system-emails/emails/{welcome.id}.json",
                                    headers={"X-CSRFToken": token}, json={"subject": subject})
        assert answer.status_code == 400, subject
        assert "not allowed" in answer.get_json()["fields"]["subject"], subject
    db.session.expire_all()
    assert "\n" not in email("welcome").subject
