"""The audience step (search picker without and with JavaScript, statuses, counts, mailing
permission) and the review step (sample rendering, test sends through a real SMTP server)."""
import re

import pytest

from app.broadcasts.models import Broadcast, BroadcastRun
from app.core.extensions import db
from app.network.models import Product
from app.testing import audit_entries, mail_frames


def test_customer_picker_without_javascript(wizard, network):
    wizard.start("notice")
    response = wizard.post("audience", {"customer_q": "fay"}, nav="search")
    assert response.status_code == 302 and "customer_q=fay" in response.location
    page = wizard.client.get(response.location).get_data(as_text=True)
    assert "Fay Business" in page and f'name="add_customer_ids" value="{network.fay.id}"' in page

    response = wizard.post("audience", {"customer_q": "fay", "add_customer_ids": str(network.fay.id)},
                           nav=None)
    assert response.status_code == 302 and "customer_q=fay" in response.location  # the search stays
    assert db.session.get(Broadcast, wizard.broadcast_id).customer_ids == [network.fay.id]
    page = wizard.client.get(response.location).get_data(as_text=True)
    assert f'name="remove_customer_ids" value="{network.fay.id}"' in page and "added" in page

    wizard.post("audience", {"add_customer_ids": str(network.gus.id)}, nav="save")
    wizard.post("audience", {"remove_customer_ids": str(network.fay.id)}, nav="save")
    assert db.session.get(Broadcast, wizard.broadcast_id).customer_ids == [network.gus.id]
    assert wizard.post("audience", {"add_customer_ids": "999999"}, nav="save").status_code == 400
    assert wizard.post("audience", {"add_customer_ids": "abc"}, nav="save").status_code == 400


def test_search_as_you_type_json_endpoints(wizard, network):
    data = wizard.client.get("/network/broadcasts/search/customers?q=B").get_json()
    assert [c["name"] for c in data["results"]] == ["Bob Trial"]
    assert wizard.client.get("/network/broadcasts/search/customers?q=").get_json()["results"] == []
    products = wizard.client.get("/network/broadcasts/search/products?q=start").get_json()["results"]
    assert products == [{"id": network.starter.id, "name": "Starter", "slug": "starter",
                         "mailing_allowed": True}]


@pytest.mark.parametrize("method, url", [("get", "/network/broadcasts/search/customers?q=a&after=-1"),
                                         ("get", "/network/broadcasts/search/products?after=x"),
                                         ("post", "/network/broadcasts/999999/preview"),
                                         ("post", "/network/system-emails/999999/preview")])
def test_the_wizards_json_endpoints_answer_errors_in_json(wizard, network, method, url):
    """A script without an Accept header got an HTML error page from these JSON endpoints
    (review d, item 12: ?after=-1 on the customer search)."""
    data = {"csrf_token": wizard.token()} if method == "post" else None
    answer = getattr(wizard.client, method)(url, data=data)
    assert answer.status_code in (400, 404) and answer.is_json, answer.get_data(as_text=True)[:200]
    assert answer.get_json()["status"] == answer.status_code and answer.get_json()["error"]


def test_statuses_default_to_active_and_trialing_and_counts_show_exclusions(wizard, network):
    wizard.start("email")
    page = wizard.client.get(wizard.url("audience")).get_data(as_text=True)
    checked = re.findall(r'<input checked[^>]*name="product_statuses"[^>]*value="([^"]+)"', page)
    assert checked == ["active", "trialing"]
    response = wizard.post("audience", {"product_ids": str(network.starter.id),
                                        "product_statuses": ["active", "trialing"]}, nav="save")
    page = wizard.client.get(response.location).get_data(as_text=True)
    # ann, bob, eve (shares ann's address), hal (unsubscribed): 4 customers, 3 addresses, 2 get it
    assert '<dd data-count="customers">4</dd>' in page and '<dd data-count="addresses">3</dd>' in page
    assert '<dd data-count="excluded-unsubscribed">1</dd>' in page
    assert 'data-count="deliverable">2</dd>' in page
    assert wizard.post("audience", {"product_ids": str(network.starter.id)}, nav="save").status_code == 400


def test_autosave_with_fetch_returns_fresh_counts(wizard, network):
    wizard.start("notice")
    response = wizard.client.post(wizard.url("audience"), headers={"Accept": "application/json"}, data={
        "csrf_token": wizard.token(wizard.url("audience")), "product_ids": str(network.starter.id),
        "product_statuses": ["active", "trialing", "cancelled"]})
    data = response.get_json()
    assert response.status_code == 200 and data["saved"] is True
    assert '<dd data-count="customers">5</dd>' in data["counts_html"]  # notices count customers
    bad = wizard.client.post(wizard.url("audience"), headers={"Accept": "application/json"}, data={
        "csrf_token": wizard.token(wizard.url("audience")), "add_customer_ids": "123456"})
    assert bad.status_code == 400 and "Unknown customer" in bad.get_json()["error"]


def test_products_without_mailing_permission_are_flagged_and_granted_in_the_step(wizard, network):
    wizard.start("email")
    response = wizard.post("audience", {"product_ids": str(network.business.id),
                                        "product_statuses": ["active"]})
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and "no permission for e-mail broadcasts" in page
    assert f'name="grant_product" value="{network.business.id}"' in page
    response = wizard.post("audience", {"product_ids": str(network.business.id),
                                        "product_statuses": ["active"],
                                        "grant_product": str(network.business.id)}, nav=None)
    assert response.status_code == 302
    product = db.session.get(Product, network.business.id)
    assert product.mailing_allowed_by_id == network.admin.id and product.mailing_allowed_at is not None
    assert wizard.post("audience", {"product_ids": str(network.business.id),
                                    "product_statuses": ["active"]}).status_code == 302
    # notices need no mailing permission
    wizard.start("notice")
    other = Product(slug="other", name="Other")
    db.session.add(other)
    db.session.commit()
    response = wizard.post("audience", {"product_ids": str(other.id), "product_statuses": ["active"]})
    assert response.status_code == 302


def walk_to_review(wizard, network, kind="email"):
    wizard.start(kind)
    wizard.post("audience", {"product_ids": str(network.starter.id),
                             "product_statuses": ["active", "trialing"]})
    wizard.post("content", {"subject": "Hi {{ customer_first_name }}", "timezone": "UTC",
                            "body_html": "<h2>News</h2><p>Dear {{ customer_name }}, see "
                                         "<a href=\"{{ site_url }}\">your site</a>.</p>"})
    wizard.post("when", {"schedule": "now", "timezone": "UTC", "reply_to": "team@example.com",
                         "from_name": "Herald Team"})


def test_review_renders_for_a_chosen_customer(wizard, network):
    walk_to_review(wizard, network)
    page = wizard.client.get(wizard.url("review")).get_data(as_text=True)
    assert "Hi Ann" in page and "Dear Ann Active" in mail_frames(wizard.client, page)
    page = wizard.client.get(wizard.url("review") + f"?customer={network.bob.id}").get_data(as_text=True)
    assert "Hi Bob" in page and f"{network.bob.id}.sites.test" in mail_frames(wizard.client, page)


def test_send_test_goes_through_smtp_as_multipart_and_is_not_counted(wizard, network, smtp_sink):
    walk_to_review(wizard, network)
    response = wizard.post("review", {"test_addresses": "qa@example.com, boss@example.com",
                                      "test_customer_id": str(network.bob.id)}, nav="test")
    assert response.status_code == 302
    assert "Test sent to qa@example.com" in wizard.client.get(response.location).get_data(as_text=True)
    assert sorted(m.rcpt_tos[0] for m in smtp_sink.messages) == ["boss@example.com", "qa@example.com"]
    message = smtp_sink.messages[0].message
    assert message["Subject"] == "[TEST] Hi Bob" and message.get_content_type() == "multipart/alternative"
    assert message["Reply-To"] == "team@example.com" and "Herald Team" in message["From"]
    assert message["Message-ID"] and message["Date"]
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "Dear Bob Trial" in text and "## News" in text
    assert "Dear Bob Trial" in html and 'style="' in html  # CSS inlined
    assert db.session.scalar(db.select(db.func.count()).select_from(BroadcastRun)) == 0
    assert db.session.get(Broadcast, wizard.broadcast_id).status == "draft"
    (entry,) = audit_entries(action="broadcast.test_sent")  # the customer's data left the building
    assert entry.summary == f"to qa@example.com, boss@example.com as customer #{network.bob.id}"


def test_send_test_errors_are_shown_next_to_the_field(wizard, network, smtp_sink):
    walk_to_review(wizard, network)
    response = wizard.post("review", {"test_addresses": "not-an-address"}, nav="test")
    assert response.status_code == 400 and "not-an-address" in response.get_data(as_text=True)
    eleven = ",".join(f"a{i}@example.com" for i in range(11))
    response = wizard.post("review", {"test_addresses": eleven}, nav="test")
    assert response.status_code == 400 and "At most 10" in response.get_data(as_text=True)
    assert smtp_sink.messages == []


@pytest.mark.parametrize("number", ["99999999999", "2147483648", "2147483647"])
def test_send_test_for_a_customer_no_row_has_is_a_field_error(wizard, network, smtp_sink, number):
    walk_to_review(wizard, network)  # past 2,147,483,647 no PostgreSQL integer column holds it
    response = wizard.post("review", {"test_addresses": "qa@example.com", "test_customer_id": number}, nav="test")
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and ("There is no such number" in page or f"There is no customer {number}" in page)
    assert smtp_sink.messages == []


def test_send_test_reports_an_smtp_server_that_does_not_answer(wizard, network, app):
    app.config["SMTP_URL"] = "smtp://127.0.0.1:9?timeout=2"
    walk_to_review(wizard, network)
    response = wizard.post("review", {"test_addresses": "qa@example.com"}, nav="test")
    page = wizard.client.get(response.location).get_data(as_text=True)
    assert "Test to qa@example.com failed" in page and "cannot connect" in page


def test_counts_are_computed_once_per_saved_revision(wizard, network, redis_client):
    wizard.start("email")
    response = wizard.post("audience", {"product_ids": str(network.starter.id),
                                        "product_statuses": ["active"]}, nav="save")
    revision = db.session.get(Broadcast, wizard.broadcast_id).revision
    key = f"herald-test:audience-counts:{wizard.broadcast_id}:{revision}".encode()
    assert redis_client.ttl(key) > 0
    redis_client.set(key, '{"customers": 77, "addresses": 66, "excluded": {}}')  # the page reuses it
    assert '<dd data-count="customers">77</dd>' in wizard.client.get(response.location).get_data(as_text=True)
