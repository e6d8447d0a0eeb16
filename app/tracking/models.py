"""The suppression list: addresses that must not get broadcasts (or, for bounces, any mail)."""
from ..extensions import db
from ..utils import utcnow

REASONS = ("unsubscribed", "bounced", "complained")


class Suppression(db.Model):
    """A suppressed address (normalised) with why, where from, and when.

    ``unsubscribed`` stops broadcasts only; ``bounced`` and ``complained`` stop all mail to the
    address, system e-mails included (a hard bounce cannot be delivered anyway).
    """
    __tablename__ = "suppressions"

    email = db.Column(db.String(254), primary_key=True)
    reason = db.Column(db.String(16), nullable=False)
    source = db.Column(db.String(64), nullable=False, default="admin")
    detail = db.Column(db.String(500), nullable=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
