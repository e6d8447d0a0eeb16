"""Recording payments: validation, the ``payment_recorded`` hook and the payment system e-mails."""
import re
from decimal import Decimal

from flask import current_app

from ..audit.services import record
from ..core.events import announce
from ..core.extensions import db
from ..core.hooks import do_action
from ..core.inputs import clean_name, id_or_none
from ..core.utils import get_row, keyset_page, select
from ..network.models import Customer, Membership
from ..network.services import find_customer
from .models import PAYMENT_KINDS, PAYMENT_STATUSES, Payment

REFERENCE_LENGTH = 100  # the column's length: a longer reference is refused, never cut
_AMOUNT = re.compile(r"[0-9]{1,10}(?:\.[0-9]{1,2})?")  # ASCII digits only: not "١٢", "1_000" or "1e3"
_CURRENCY = re.compile(r"[A-Za-z]{3}")  # ISO 4217: three ASCII letters (not "日本円" or "ÉÜR")
AMOUNT_MESSAGE = "The amount must be above 0 with at most two decimals, in the digits 0-9, such as 19.99."


class PaymentError(ValueError):
    """A payment that cannot be recorded; ``field`` names the wrong value."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def parse_amount(value) -> Decimal:
    """A positive amount below 10,000,000,000 with at most two decimals: text of ASCII digits
    with an optional point (spaces around it are dropped) or a JSON number written that way."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float, Decimal)):
        raise PaymentError("amount", AMOUNT_MESSAGE)
    text = value.strip() if isinstance(value, str) else str(value)
    if not _AMOUNT.fullmatch(text):
        raise PaymentError("amount", AMOUNT_MESSAGE)
    amount = Decimal(text)
    if amount <= 0:
        raise PaymentError("amount", AMOUNT_MESSAGE)
    return amount


def clean_currency(value) -> str:
    """An ISO 4217 code: three ASCII letters, in capitals."""
    text = value.strip() if isinstance(value, str) else None
    if text is None or not _CURRENCY.fullmatch(text):
        raise PaymentError("currency", "The currency must be a three-letter code such as EUR "
                                       "(the letters A-Z).")
    return text.upper()


def clean_reference(value) -> str:
    """An optional one-line reference of at most ``REFERENCE_LENGTH`` characters, without control
    or bidirectional characters (``core.inputs.clean_name``, as every other name)."""
    if value is None:
        return ""
    try:
        text = value.strip() if isinstance(value, str) else value
        return clean_name(text, "The reference", REFERENCE_LENGTH)
    except ValueError as error:
        raise PaymentError("reference", str(error)) from None


def find_payer(value):
    """The customer a payment names by number (a whole number or its digits) or e-mail address;
    PaymentError otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).strip():
        raise PaymentError("customer", "Name the customer by number or e-mail address.")
    customer = find_customer(str(value)) if len(str(value)) <= 254 else None  # no address is longer
    if customer is None:
        raise PaymentError("customer", "Choose an existing customer.")
    return customer


def payment_event(payment: Payment):
    """The system-email event a payment fires, or None (a pending one-off payment fires nothing)."""
    if payment.status == "paid":
        return "payment_received"
    if payment.status == "failed":
        return "payment_failed"
    return "renewal_payment_created" if payment.kind == "renewal" else None


def record_payment(customer, amount, currency="EUR", status="paid", kind="payment", reference="",
                   membership_id=None) -> Payment:
    """Record a payment and fire its hook and system-email event; the caller commits.

    Every value is checked here, whoever sends it (the Payments form, ``payments.json``, the CLI):
    ``customer`` a Customer or its number or e-mail address (``find_payer``), ``amount``
    (``parse_amount``), ``currency`` (``clean_currency``), ``reference`` (``clean_reference``),
    ``membership_id`` an id; PaymentError names the first wrong one."""
    if not isinstance(customer, Customer):
        customer = find_payer(customer)
    if not isinstance(status, str) or status not in PAYMENT_STATUSES:
        raise PaymentError("status", f"The status must be one of: {', '.join(PAYMENT_STATUSES)}.")
    if not isinstance(kind, str) or kind not in PAYMENT_KINDS:
        raise PaymentError("kind", f"The kind must be one of: {', '.join(PAYMENT_KINDS)}.")
    currency, reference, amount = clean_currency(currency), clean_reference(reference), parse_amount(amount)
    if membership_id is not None and id_or_none(membership_id) is None:
        raise PaymentError("membership_id", "The membership must be a membership number.")
    membership = get_row(Membership, membership_id) if membership_id else None
    if membership_id and (membership is None or membership.customer_id != customer.id):
        raise PaymentError("membership_id", "That membership does not belong to this customer.")
    payment = Payment(customer=customer, membership=membership, amount=amount,
                      currency=currency, status=status, kind=kind, reference=reference)
    db.session.add(payment)
    db.session.flush()
    record("payment.recorded", ("payment", payment.id, customer.email),
           f"{kind} of {payment.amount} {currency}, {status}" + (f", ref {payment.reference}" if payment.reference else ""))
    do_action("payment_recorded", payment_dict(payment))
    event = payment_event(payment)
    if event:
        announce(event, customer=customer, **payment_values(payment))
    return payment


def payment_dict(payment: Payment) -> dict:
    """A payment as the ``payment_recorded`` hook and the JSON endpoint give it."""
    return {"id": payment.id, "customer": payment.customer_id, "amount": str(payment.amount),
            "currency": payment.currency, "status": payment.status, "kind": payment.kind,
            "reference": payment.reference, "membership": payment.membership_id,
            "created_at": payment.created_at.isoformat() + "Z"}


def payment_values(payment: Payment) -> dict:
    """The placeholders of the payment events."""
    product = payment.membership.product.name if payment.membership else ""
    return {"amount": f"{payment.amount:.2f}", "currency": payment.currency,
            "payment_reference": payment.reference or f"#{payment.id}", "product_name": product,
            "payment_date": payment.created_at.strftime("%Y-%m-%d"),
            "account_url": current_app.config["BASE_URL"] + "/dashboard/"}


def search_payments(after=None, before=None, per_page=50):
    """One keyset page of payments, newest first."""
    return keyset_page(select(Payment), Payment.id, after, before, per_page)
