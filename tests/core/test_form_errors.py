"""Field errors are announced: each error has an id that its field's aria-describedby names (next to
the help line's), a summary at the top links every error to its field, and the page title starts
with "Error: ". Before, the wizard's subject and the system-email editor's delay said their error in
a paragraph with no id, linked to nothing, under an unchanged title. And no page repeats an id (the
CSRF input was id="csrf_token" in every form)."""
import re
from collections import Counter
from html.parser import HTMLParser

from app.broadcasts.models import Broadcast
from app.core.extensions import db
from app.plugins.network_setup import setup_network
from app.system_emails.models import SystemEmail
from app.testing import csrf_token
from tests.broadcasts.conftest import boss, network, wizard  # noqa: F401


class Elements(HTMLParser):
    """Every element's tag and attributes, in order; ``by_id`` maps ids to them."""

    def __init__(self, html):
        super().__init__()
        self.elements, self.texts, self._open = [], {}, []
        self.feed(html)
        self.by_id = {attrs["id"]: (tag, attrs) for tag, attrs in self.elements if "id" in attrs}

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))
        self._open.append(dict(attrs).get("id"))

    def handle_endtag(self, tag):
        if self._open:
            self._open.pop()

    def handle_data(self, data):
        for ident in filter(None, self._open):
            self.texts[ident] = self.texts.get(ident, "") + data

    def text(self, ident):
        return " ".join(self.texts.get(ident, "").split())


def title(html):
    return html.split("<title>", 1)[1].split("</title>", 1)[0]


def assert_announced(html, field_id, message, help_id=None):
    page = Elements(html)
    tag, attrs = page.by_id[field_id]
    described = attrs.get("aria-describedby", "").split()
    assert attrs.get("aria-invalid") == "true"
    assert f"{field_id}-error" in described and message in page.text(f"{field_id}-error")
    if help_id:
        assert help_id in described and help_id in page.by_id  # the help line stays linked
    summary = page.by_id["error-summary-title"]
    assert summary
    assert ("a", {"href": f"#{field_id}"}) in page.elements, "the summary links the field"
    assert title(html).startswith("Error: ")
    assert_unique_ids(html)
    assert_summary_links_resolve(html)


def assert_summary_links_resolve(html):
    """The error summary lists errors, each link goes to an element the page has, and each error
    paragraph (id <field>-error) is named by the aria-describedby of an element (its field, or
    the controls of a field drawn by hand). Returns the summary's targets."""
    page = Elements(html)
    assert "data-error-summary" in html and title(html).startswith("Error: ")
    summary = html.split("data-error-summary", 1)[1].split("</div>", 1)[0]
    targets = re.findall(r'href="#([^"]*)"', summary)
    assert targets, "the summary links its errors"
    assert [t for t in targets if t not in page.by_id] == [], f"summary links to no element: {targets}"
    described = {ident for _, attrs in page.elements for ident in attrs.get("aria-describedby", "").split()}
    unnamed = [ident for ident, (tag, attrs) in page.by_id.items()
               if "error" in attrs.get("class", "").split() and ident not in described]
    assert unnamed == [], "error paragraphs no field names in aria-describedby"
    return targets


def assert_unique_ids(html):
    ids = Counter(attrs["id"] for _, attrs in Elements(html).elements if "id" in attrs)
    repeated = [ident for ident, count in ids.items() if count > 1]
    assert not repeated


def test_the_wizard_content_step_announces_a_subject_error(wizard):
    wizard.start("email")
    db.session.get(Broadcast, wizard.broadcast_id).wizard_step = "review"  # every step can be opened
    db.session.commit()
    response = wizard.post("content", {"subject": "Hi {{ nope }}", "body_html": "<p>Hello</p>"})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert_announced(html, "subject", "nope", help_id="subject-help")
    assert 'class="error-summary' not in wizard.client.get(wizard.url("content")).get_data(as_text=True)


def test_the_system_email_editor_announces_a_delay_error(admin_client, committed):
    setup_network()
    db.session.commit()
    email_id = db.session.scalars(db.select(SystemEmail.id)).first()
    url = f"/network/system-emails/{email_id}"
    page = admin_client.get(url).get_data(as_text=True)
    assert not title(page).startswith("Error") and "error-summary" not in page
    email = db.session.get(SystemEmail, email_id)
    response = admin_client.post(url, data={
        "csrf_token": csrf_token(admin_client, url), "action": "save", "subject": email.subject,
        "body": email.body, "style": email.style, "audience": email.audience, "delay_value": "-1",
        "delay_unit": "minutes"})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert_announced(html, "delay_value", "at least 0", help_id="delay_value-help")


def test_a_refused_setting_is_announced(admin_client):
    response = admin_client.post("/network/settings/", data={
        "csrf_token": csrf_token(admin_client, "/network/settings/"), "delivery.rate_per_second": "-5"})
    assert response.status_code == 400
    assert_announced(response.get_data(as_text=True), "f-delivery.rate_per_second", "",
                     help_id="f-delivery.rate_per_second-help")


def test_pages_with_several_forms_repeat_no_id(admin_client, committed):
    setup_network()
    db.session.commit()
    for url in ("/network/profile", "/network/system-emails/reset-import", "/network/system-emails/events",
                "/network/suppressions/", "/network/plugins/"):
        response = admin_client.get(url)
        assert response.status_code == 200, url
        assert_unique_ids(response.get_data(as_text=True))


def _audience_page(wizard, data, nav):
    response = wizard.post("audience", data, nav=nav)
    assert response.status_code == 400, response.status_code
    html = response.get_data(as_text=True)
    assert_unique_ids(html)
    return html, Elements(html)


def test_the_audience_step_links_its_errors_to_its_controls(wizard, network):  # noqa: F811
    """Next with no audience linked '#add_customer_ids', an id no element had, and no control named
    add_customer_ids-error (review f, item 6): the fields of this step are drawn by hand. Now the
    summary links the customer search box, which names the error; a bad removal, product or grant
    links the first checkbox or button of its kind (or the search box when there is none)."""
    wizard.start("email")
    html, page = _audience_page(wizard, {}, "next")
    assert assert_summary_links_resolve(html) == ["customer_q"]
    tag, attrs = page.by_id["customer_q"]
    assert "add_customer_ids-error" in attrs["aria-describedby"].split() and attrs["aria-invalid"] == "true"
    assert "at least one customer" in page.text("add_customer_ids-error")

    assert wizard.post("audience", {"add_customer_ids": str(network.gus.id)}, nav="save").status_code == 302
    html, page = _audience_page(wizard, {"remove_customer_ids": "abc", "product_ids": "abc",
                                         "grant_product": "abc"}, "save")
    targets = assert_summary_links_resolve(html)
    assert {"remove_customer_ids-0", "product_ids-0", "product_q"} <= set(targets), targets
    assert page.by_id["remove_customer_ids-0"][1]["aria-describedby"] == "remove_customer_ids-error"

    # a product without mailing permission: its error and a bad grant link the product and the grant button
    html, page = _audience_page(wizard, {"product_ids": str(network.business.id),
                                         "product_statuses": "active"}, "next")
    assert assert_summary_links_resolve(html) == ["product_ids-0"]
    assert page.by_id["product_ids-0"][1]["value"] == str(network.business.id)
    assert wizard.post("audience", {"product_ids": str(network.business.id), "product_statuses": "active"},
                       nav="save").status_code == 302
    business = {"product_ids": str(network.business.id), "product_statuses": "active"}
    html, page = _audience_page(wizard, {**business, "grant_product": "x"}, "save")
    assert "grant_product-0" in assert_summary_links_resolve(html)
    assert page.by_id["grant_product-0"][1]["aria-describedby"] == "grant_product-error"


def test_other_wizard_steps_link_their_errors(wizard):
    wizard.start("notice")
    db.session.get(Broadcast, wizard.broadcast_id).wizard_step = "review"
    db.session.commit()
    response = wizard.post("content", {"subject": "", "body_html": ""})
    assert response.status_code == 400
    assert set(assert_summary_links_resolve(response.get_data(as_text=True))) == {"subject", "body_html"}
    response = wizard.post("content", {"subject": "Hi", "body_html": "<p>x</p>", "notice_type": "nope",
                                       "ends_at_local": "yesterday"}, nav="save")
    assert response.status_code == 400
    assert_summary_links_resolve(response.get_data(as_text=True))
