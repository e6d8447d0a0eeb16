"""A payment of a customer: amount, currency, status (pending, paid, failed) and kind."""
from ..core.extensions import db
from ..core.utils import utcnow

PAYMENT_STATUSES = ("pending", "paid", "failed")
PAYMENT_KINDS = ("payment", "renewal")


class Payment(db.Model):
    """One payment (or renewal invoice) of a customer, optionally for one membership."""
    __tablename__ = "payments"

    id = db.Column(db.Integer, primary_key=True)
    customer_id = db.Column(db.Integer, db.ForeignKey("customers.id", ondelete="CASCADE"),
                            nullable=False, index=True)
    membership_id = db.Column(db.Integer, db.ForeignKey("memberships.id", ondelete="SET NULL"),
                              nullable=True)
    amount = db.Column(db.Numeric(12, 2), nullable=False)
    currency = db.Column(db.String(3), nullable=False, default="EUR")
    status = db.Column(db.String(16), nullable=False, default="paid")
    kind = db.Column(db.String(16), nullable=False, default="payment")
    reference = db.Column(db.String(100), nullable=False, default="")
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    customer = db.relationship("Customer")
    membership = db.relationship("Membership")
