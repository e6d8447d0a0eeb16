"""A form that creates something acts once per rendering: the same submission sent again (a double
click, a resent POST) records no second payment and copies no second broadcast."""
import re

from app.api.models import ApiKey
from app.billing.models import Payment
from app.broadcasts.drafts import create_draft
from app.broadcasts.models import Broadcast
from app.core.extensions import db
from app.testing import csrf_token


def _form_of(client, page: str) -> dict:
    """The hidden fields (CSRF token and submission nonce) of the first form on ``page``."""
    html = client.get(page).get_data(as_text=True)
    nonce = re.search(r'name="submission" value="([^"]+)"', html).group(1)
    return {"csrf_token": csrf_token(client, page), "submission": nonce}


def _payment(person, **changes) -> dict:
    return {"customer": person.email, "amount": "12.50", "currency": "EUR", "status": "paid",
            "kind": "payment", "reference": "INV-DOUBLE-1", **changes}


def test_a_payment_form_sent_twice_records_one_payment(admin_client, customer):
    hidden = _form_of(admin_client, "/network/payments/")
    first = admin_client.post("/network/payments/", data={**hidden, **_payment(customer)})
    again = admin_client.post("/network/payments/", data={**hidden, **_payment(customer)})
    assert first.status_code == again.status_code == 302
    assert db.session.scalar(db.select(db.func.count()).select_from(Payment)) == 1
    assert "already sent" in admin_client.get(again.location).get_data(as_text=True)
    other = _form_of(admin_client, "/network/payments/")  # a new rendering: a new payment
    assert other["submission"] != hidden["submission"]
    admin_client.post("/network/payments/", data={**other, **_payment(customer)})
    assert db.session.scalar(db.select(db.func.count()).select_from(Payment)) == 2


def test_a_refused_payment_gives_its_submission_back(admin_client, customer):
    hidden = _form_of(admin_client, "/network/payments/")
    refused = admin_client.post("/network/payments/", data={**hidden, **_payment(customer, customer="nobody@example.com")})
    assert refused.status_code == 400
    corrected = admin_client.post("/network/payments/", data={**hidden, **_payment(customer)})
    assert corrected.status_code == 302
    assert db.session.scalar(db.select(db.func.count()).select_from(Payment)) == 1


def test_a_duplicate_button_pressed_twice_makes_one_copy(admin_client, admin, customer):
    draft = create_draft(admin)
    draft.subject = "Once"
    db.session.commit()
    hidden = _form_of(admin_client, f"/network/broadcasts/{draft.id}")
    first = admin_client.post(f"/network/broadcasts/{draft.id}/duplicate", data=hidden)
    again = admin_client.post(f"/network/broadcasts/{draft.id}/duplicate", data=hidden)
    assert again.location == first.location  # to the one copy
    assert db.session.scalar(db.select(db.func.count()).select_from(Broadcast)) == 2


def test_the_wizards_first_step_sent_twice_makes_one_draft(admin_client):
    """Choosing the kind creates the draft: a double click on Next, or the POST resent, opens the
    one draft the first request made (until 2026-12-01 each made a draft of its own)."""
    hidden = _form_of(admin_client, "/network/broadcasts/new")
    first = admin_client.post("/network/broadcasts/new", data={**hidden, "kind": "email", "nav": "next"})
    again = admin_client.post("/network/broadcasts/new", data={**hidden, "kind": "email", "nav": "next"})
    assert first.status_code == again.status_code == 302 and first.location.endswith("/edit/audience")
    assert again.location == first.location
    assert db.session.scalar(db.select(db.func.count()).select_from(Broadcast)) == 1
    assert "already sent" in admin_client.get(again.location).get_data(as_text=True)
    refused = admin_client.post("/network/broadcasts/new", data={**_form_of(admin_client, "/network/broadcasts/new"),
                                                                 "kind": "fax"})
    assert refused.status_code == 400  # an invalid choice claims no nonce and makes no draft
    assert db.session.scalar(db.select(db.func.count()).select_from(Broadcast)) == 1


def _key_form(client) -> dict:
    """The hidden fields of the profile page's Create API key form."""
    html = client.get("/network/profile").get_data(as_text=True)
    form = re.search(r'<form method="post" action="/network/profile/api-keys".*?</form>', html, re.S).group()
    return {"csrf_token": csrf_token(client, "/network/profile"),
            "submission": re.search(r'name="submission" value="([^"]+)"', form).group(1), "name": "deploy"}


def test_the_create_api_key_form_sent_twice_issues_one_key(admin_client, admin):
    """A double click issued two live keys, the first shown once and lost (review d, item 4a)."""
    hidden = _key_form(admin_client)
    first = admin_client.post("/network/profile/api-keys", data=hidden)
    again = admin_client.post("/network/profile/api-keys", data=hidden)
    assert first.status_code == 201 and 'id="new-api-key"' in first.get_data(as_text=True)
    assert again.status_code == 200 and 'id="new-api-key"' not in again.get_data(as_text=True)
    assert "already sent: one API key was created" in again.get_data(as_text=True)
    assert db.session.scalar(db.select(db.func.count()).select_from(ApiKey)) == 1
    other = _key_form(admin_client)  # a new rendering: a new key
    assert admin_client.post("/network/profile/api-keys", data=other).status_code == 201
    assert db.session.scalar(db.select(db.func.count()).select_from(ApiKey)) == 2
