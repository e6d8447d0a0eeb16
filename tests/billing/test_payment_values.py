"""Every value of a payment is checked by the service, whoever sends it (payments.json, the
Payments form): a wrong JSON type, a non-ASCII amount or currency, a control or bidirectional
character in the reference or one over 100 characters is a 400 naming the field, never a 500,
a value stored as something else, or a reference cut short (review d, item 2)."""
import re

import pytest

from app.billing.models import Payment
from app.core.extensions import db
from app.testing import csrf_token

PAGE = "/network/payments/"
# (changes to a valid payment, the field refused): each was a 500 or stored garbage before.
REFUSED = [
    ({"reference": 12345}, "reference"),  # 500: 'int' object is not subscriptable
    ({"reference": ["a"]}, "reference"),  # stored as "{a}" on PostgreSQL, 500 on SQLite
    ({"customer": ["carol@example.com"]}, "customer"),
    ({"customer": True}, "customer"),
    ({"amount": True}, "amount"),
    ({"amount": "١٢"}, "amount"),  # was stored as 12.00
    ({"amount": "1_000"}, "amount"),  # was stored as 1000.00
    ({"amount": "1e3"}, "amount"),
    ({"amount": 1e16}, "amount"),
    ({"currency": "日本円"}, "currency"),
    ({"currency": "ÉÜR"}, "currency"),
    ({"currency": "ıso"}, "currency"),  # "ı".upper() is an ASCII "I"
    ({"currency": 123}, "currency"),
    ({"status": ["paid"]}, "status"),
    ({"kind": {"a": 1}}, "kind"),
    ({"reference": "INV\n2"}, "reference"),
    ({"reference": "INV\x1b[2J"}, "reference"),
    ({"reference": "INV\u202e2"}, "reference"),
    ({"reference": "INV\u20662"}, "reference"),
    ({"reference": "x" * 101}, "reference"),  # was cut to 100 characters
    ({"membership_id": "abc"}, "membership_id"),
    ({"membership_id": [1]}, "membership_id"),
    ({"refrence": "INV-1"}, "refrence"),  # a misspelt field is not dropped quietly
]


def _valid(**changes):
    return {"customer": "carol@example.com", "amount": "12.50", "currency": "EUR", "status": "paid",
            "kind": "payment", "reference": "INV-1", **changes}


def _count():
    return db.session.scalar(db.select(db.func.count()).select_from(Payment))


@pytest.mark.parametrize("changes, field", REFUSED)
def test_payments_json_refuses_a_wrong_value_naming_its_field(admin_client, customer, changes, field):
    answer = admin_client.post("/network/payments.json", json=_valid(**changes),
                               headers={"X-CSRFToken": csrf_token(admin_client, PAGE)})
    assert answer.status_code == 400, answer.get_data(as_text=True)
    assert answer.get_json()["field"] == field
    assert _count() == 0


def test_a_body_of_the_wrong_shape_is_a_400_not_a_500(admin_client, customer):
    headers = {"X-CSRFToken": csrf_token(admin_client, PAGE)}
    answer = admin_client.post("/network/payments.json", json={"a": 1}, headers=headers)
    assert answer.status_code == 400 and answer.get_json()["field"] == "a"
    answer = admin_client.post("/network/payments.json", json={"amount": "1"}, headers=headers)
    assert answer.status_code == 400 and answer.get_json()["field"] == "customer"
    assert _count() == 0


def test_payments_json_records_ascii_amounts_and_json_numbers(admin_client, customer):
    headers = {"X-CSRFToken": csrf_token(admin_client, PAGE)}
    text = admin_client.post("/network/payments.json", json=_valid(amount=" 12.5 ", currency="usd",
                                                                   reference="  INV-7  "), headers=headers)
    number = admin_client.post("/network/payments.json", json=_valid(amount=19.99, customer=customer.id,
                                                                     reference=None), headers=headers)
    assert text.status_code == number.status_code == 201
    made = text.get_json()
    assert (made["amount"], made["currency"], made["reference"]) == ("12.50", "USD", "INV-7")
    assert (number.get_json()["amount"], number.get_json()["reference"]) == ("19.99", "")


@pytest.mark.parametrize("changes, field", [(c, f) for c, f in REFUSED
                                            if f in ("amount", "currency", "reference")
                                            and all(isinstance(v, str) for v in c.values())])
def test_the_payment_form_applies_the_same_rules(admin_client, customer, changes, field):
    form = {"csrf_token": csrf_token(admin_client, PAGE), **_valid(**changes)}
    answer = admin_client.post(PAGE, data=form)
    assert answer.status_code == 400
    html = answer.get_data(as_text=True)
    assert re.search(rf'<input[^>]*aria-invalid="true"[^>]*name="{field}"'
                     rf'|<input[^>]*name="{field}"[^>]*aria-invalid="true"', html)
    assert _count() == 0
