"""A form that creates something acts once per rendering: the same submission sent again (a double
click, a resent POST) records no second payment and copies no second broadcast."""
import re

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
