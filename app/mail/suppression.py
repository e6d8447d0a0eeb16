"""The suppression list: addresses no broadcast (or, when bounced or complained, no mail) may reach."""
from sqlalchemy import Index

from ..core.extensions import db
from ..core.utils import utcnow

REASONS = ("unsubscribed", "bounced", "complained")
BOUNCE_TYPES = ("hard", "soft")


class Suppression(db.Model):
    """A suppressed address (normalised) with why, where from, and when.

    ``unsubscribed`` stops broadcasts only; ``bounced`` and ``complained`` stop all mail to the
    address, system e-mails included (a hard bounce cannot be delivered anyway). A broadcast
    unsubscribe therefore never stops system e-mails (password resets, invoices...).
    """
    __tablename__ = "suppressions"
    __table_args__ = (
        Index("ix_suppressions_created_at_email", "created_at", "email"),
        Index("ix_suppressions_reason_created_at", "reason", "created_at"),
    )

    email = db.Column(db.String(254), primary_key=True)
    reason = db.Column(db.String(16), nullable=False)
    source = db.Column(db.String(64), nullable=False, default="admin")
    detail = db.Column(db.String(500), nullable=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)


Index("ix_suppressions_email_pattern", Suppression.email,
      postgresql_ops={"email": "text_pattern_ops"})
