"""Recording payments: validation, the ``payment_recorded`` hook and the payment system e-mails."""
from decimal import Decimal, InvalidOperation

from flask import current_app

from ..audit.services import record
from ..core.events import announce
from ..core.extensions import db
from ..core.hooks import do_action
from ..core.utils import get_row, keyset_page, select
from ..network.models import Membership
from .models import PAYMENT_KINDS, PAYMENT_STATUSES, Payment

CURRENCY_LENGTH = 3


class PaymentError(ValueError):
    """A payment that cannot be recorded; ``field`` names the wrong value."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def parse_amount(value) -> Decimal:
    """A positive amount with at most two decimals, from a string or number."""
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise PaymentError("amount", "The amount must be a number such as 19.99.") from None
    if not amount.is_finite() or amount <= 0 or amount.as_tuple().exponent < -2 or amount >= 10**10:
        raise PaymentError("amount", "The amount must be above 0 with at most two decimals.")
    return amount


def payment_event(payment: Payment):
    """The system-email event a payment fires, or None (a pending one-off payment fires nothing)."""
    if payment.status == "paid":
        return "payment_received"
    if payment.status == "failed":
        return "payment_failed"
    return "renewal_payment_created" if payment.kind == "renewal" else None


def record_payment(customer, amount, currency="EUR", status="paid", kind="payment", reference="",
                   membership_id=None) -> Payment:
    """Record a payment and fire its hook and system-email event; the caller commits."""
    if customer is None:
        raise PaymentError("customer", "Choose an existing customer.")
    if status not in PAYMENT_STATUSES:
        raise PaymentError("status", f"The status must be one of: {', '.join(PAYMENT_STATUSES)}.")
    if kind not in PAYMENT_KINDS:
        raise PaymentError("kind", f"The kind must be one of: {', '.join(PAYMENT_KINDS)}.")
    currency = (currency or "").strip().upper()
    if len(currency) != CURRENCY_LENGTH or not currency.isalpha():
        raise PaymentError("currency", "The currency must be a three-letter code such as EUR.")
    membership = get_row(Membership, membership_id) if membership_id else None
    if membership_id and (membership is None or membership.customer_id != customer.id):
        raise PaymentError("membership_id", "That membership does not belong to this customer.")
    payment = Payment(customer=customer, membership=membership, amount=parse_amount(amount),
                      currency=currency, status=status, kind=kind, reference=(reference or "")[:100])
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
