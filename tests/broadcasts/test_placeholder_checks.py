"""The one placeholder grammar in the broadcasts: wizard field errors, API 400s, the CLI, previews,
notices and the default("…") fallback for customers without a first name."""
import html

import pytest

from app.api.keys import issue_key
from app.broadcasts.drafts import DraftError, create_draft, update_draft
from app.broadcasts.mail import email_document
from app.broadcasts.models import Broadcast
from app.broadcasts.notices import live_notices
from app.broadcasts.sending import readiness_problems, send_now
from app.core.extensions import db
from app.network.models import Customer, Membership
from app.testing import login

UNCLOSED = "Hello {{ customer_first_name"
FILTERED = "{{ customer_first_name|upper }}"
FALLBACK = 'Hello {{ customer_first_name | default("there") }}'


def test_the_wizard_refuses_broken_placeholders_as_field_errors_with_positions(wizard, network):
    wizard.start("email")
    wizard.post("audience", {"product_ids": [network.starter.id], "product_statuses": ["active"]})
    response = wizard.post("content", {"subject": UNCLOSED, "timezone": "UTC",
                                       "body_html": f"<p>{FILTERED}</p>"})
    page = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 400
    assert "Line 1, column 7: {{ customer_first_name is not closed: expected }}" in page
    assert "Line 1, column 27: unknown filter 'upper': the only filter is default(\"…\")" in page
    broadcast = db.session.get(Broadcast, wizard.broadcast_id)
    assert (broadcast.subject, broadcast.body_html) == ("", "")  # nothing went through


@pytest.mark.parametrize("field, value, message", [
    ("subject", UNCLOSED, "Line 1, column 7: {{ customer_first_name is not closed: expected }}"),
    ("subject", FILTERED, "Line 1, column 24: unknown filter 'upper'"),
    ("body_html", f"<p>{FILTERED}</p>", "Line 1, column 27: unknown filter 'upper'"),
    ("body_html", "<p>ok</p>\n<p>Hi {% if x %}</p>", "Line 2, column 7: blocks ({% … %}) are not available"),
    ("body_html", "<p>Hi &#123;&#123; customer_name }}</p>", "Line 1, column 7: {{ or {% spelled with"),
    ("body_html", "<a\n  href='{{ customer_email }}'>x</a>", "Line 2, column 9: {{ customer_email }} cannot "
                                                              "begin the address in href"),
])
def test_the_api_answers_400_with_the_field_and_the_position(client, network, field, value, message):
    _, secret = issue_key(network.admin, "tests")
    db.session.commit()
    response = client.post("/api/v1/broadcasts", headers={"Authorization": f"Bearer {secret}"},
                           json={"kind": "email", "subject": "S", "body_html": "<p>B</p>", field: value})
    assert response.status_code == 400
    data = response.get_json()
    assert data["fields"][field].startswith(message), data
    assert db.session.query(Broadcast).count() == 0


def test_markup_removed_by_the_sanitiser_cannot_join_braces_into_a_placeholder(network):
    broadcast = create_draft(network.admin, {"kind": "notice"})
    with pytest.raises(DraftError) as error:
        update_draft(broadcast, {"body_html": "<p>{<script></script>{ customer_name|upper }}</p>"})
    assert error.value.errors["body_html"].startswith(
        "Once unsafe markup is removed, line 1, column 21: unknown filter 'upper'")


def test_a_fallback_survives_sanitising_in_any_attribute_quoting(network):
    body = ("<p>{{ customer_first_name | default(\"there\") }}</p>"
            "<a href='https://shop.example/?n={{ customer_first_name | default(\"friend & co\") }}'>x</a>")
    broadcast = create_draft(network.admin, {"kind": "email", "body_html": body})
    assert '{{ customer_first_name | default("there") }}' in broadcast.body_html
    assert '{{ customer_first_name | default("friend & co") }}' in broadcast.body_html


def test_a_draft_saved_before_these_checks_cannot_be_sent_and_the_cli_says_where(runner, network):
    broadcast = create_draft(network.admin, {"kind": "notice", "body_html": "<p>x</p>",
                                             "customer_ids": [network.ann.id]})
    broadcast.subject = UNCLOSED  # as stored before the grammar was checked
    db.session.commit()
    assert [p.message for p in readiness_problems(broadcast)] == [
        "Subject: Line 1, column 7: {{ customer_first_name is not closed: expected }}"]
    result = runner.invoke(args=["broadcasts", "send", str(broadcast.id)])
    assert result.exit_code != 0
    assert "Subject: Line 1, column 7: {{ customer_first_name is not closed: expected }}" in result.output


def _nameless(network, name=""):
    customer = Customer(email="nameless@example.com", name=name)
    db.session.add(customer)
    db.session.flush()
    db.session.add(Membership(customer=customer, product=network.starter, status="active"))
    db.session.commit()
    return customer


@pytest.mark.parametrize("name", ["", "  "])
def test_customers_without_a_first_name_get_the_fallback_in_the_preview(wizard, network, name):
    nameless = _nameless(network, name)
    wizard.start("email")
    wizard.post("audience", {"add_customer_ids": [nameless.id]})
    url = f"/network/broadcasts/{wizard.broadcast_id}/preview"
    token = wizard.token(wizard.url("content"))
    data = wizard.client.post(url, data={"csrf_token": token, "subject": FALLBACK + ", news",
                                         "body_html": f"<p>{FALLBACK}.</p>"}).get_json()
    assert data["subject"] == "Hello there, news" and "<p>Hello there.</p>" in data["html"]
    broadcast = db.session.get(Broadcast, wizard.broadcast_id)
    document = email_document(broadcast, nameless, subject=FALLBACK, body_html=f"<p>{FALLBACK}</p>")
    assert "<title>Hello there</title>" in document and "<p>Hello there</p>" in document
    assert "Hello Sam" in email_document(broadcast, None, subject=FALLBACK, body_html=f"<p>{FALLBACK}</p>")


def test_notices_show_the_fallback_to_customers_without_a_first_name(client, network):
    nameless = _nameless(network)
    broadcast = create_draft(network.admin, {"kind": "notice", "subject": FALLBACK,
                                             "customer_ids": [network.ann.id, nameless.id],
                                             "body_html": f"<p>{FALLBACK}, welcome.</p>"})
    send_now(broadcast)
    db.session.commit()
    login(client, network.ann.user)
    page = client.get("/dashboard/").get_data(as_text=True)
    assert "Hello Ann, welcome." in page and "Hello there" not in page
    [notice] = live_notices(nameless, user_id=0)
    assert (notice.subject, str(notice.html)) == ("Hello there", "<p>Hello there, welcome.</p>")
