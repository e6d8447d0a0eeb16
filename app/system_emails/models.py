"""Installed system e-mails (copies of registered defaults the admin edits) and their send log."""
from sqlalchemy import Index

from ..core.extensions import db
from ..core.utils import utcnow
from .registry import content_hash, delay_minutes

# unknown: a worker died during the SMTP transaction; the message may or may not have gone.
SEND_STATUSES = ("queued", "sending", "sent", "deferred", "failed", "skipped", "cancelled", "unknown")
SEND_ROLES = ("customer", "admin", "copy", "test")


class SystemEmail(db.Model):
    """An installed system e-mail: content (subject, body, style, audience) and settings.

    ``default_hash`` fingerprints the default it was installed (or last reset) from: the e-mail is
    *modified* when its own content no longer matches it, and an *update is available* when the
    plugin now registers a default with another fingerprint. Statistics live on the row, so a
    reset (same row) keeps them and a delete loses them.
    """
    __tablename__ = "system_emails"

    id = db.Column(db.Integer, primary_key=True)
    slug = db.Column(db.String(100), nullable=False, unique=True)
    event = db.Column(db.String(100), nullable=False, index=True)
    plugin = db.Column(db.String(100), nullable=True)
    name = db.Column(db.String(200), nullable=False)
    description = db.Column(db.String(500), nullable=False, default="")
    audience = db.Column(db.String(16), nullable=False, default="customer")
    style = db.Column(db.String(8), nullable=False, default="html")
    subject = db.Column(db.String(500), nullable=False)
    body = db.Column(db.Text, nullable=False)
    active = db.Column(db.Boolean, nullable=False, default=True)
    copy_admins = db.Column(db.Boolean, nullable=False, default=False)
    delay_value = db.Column(db.Integer, nullable=False, default=0)
    delay_unit = db.Column(db.String(8), nullable=False, default="minutes")
    default_hash = db.Column(db.String(64), nullable=True)
    default_version = db.Column(db.String(50), nullable=True)
    sent_count = db.Column(db.Integer, nullable=False, default=0)
    failed_count = db.Column(db.Integer, nullable=False, default=0)
    last_sent_at = db.Column(db.DateTime, nullable=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    updated_at = db.Column(db.DateTime, nullable=False, default=utcnow, onupdate=utcnow)

    @property
    def hash(self) -> str:
        """The fingerprint of the current content."""
        return content_hash(self.subject, self.body, self.style, self.audience)

    @property
    def modified(self) -> bool:
        """True when the admin changed the content since install or the last reset."""
        return self.default_hash is not None and self.hash != self.default_hash

    @property
    def delay_minutes(self) -> int:
        """The delay after the event, in minutes."""
        return delay_minutes(self.delay_value, self.delay_unit)

    @property
    def delay_label(self) -> str:
        """The delay for people: 'at once' or '3 days'."""
        if not self.delay_value:
            return "at once"
        unit = self.delay_unit[:-1] if self.delay_value == 1 else self.delay_unit
        return f"{self.delay_value} {unit} later"


class SystemEmailSend(db.Model):
    """One message of a system e-mail to one address: rendered content, status, attempts, reply."""
    __tablename__ = "system_email_sends"
    __table_args__ = (
        Index("ix_system_email_sends_email_id_id", "email_id", "id"),
        # The supervisor's scan of sends not settled yet, without reading the whole log.
        Index("ix_system_email_sends_pending", "status", "scheduled_for",
              postgresql_where=db.text("status IN ('queued', 'deferred', 'sending')"),
              sqlite_where=db.text("status IN ('queued', 'deferred', 'sending')")),
    )

    id = db.Column(db.Integer, primary_key=True)
    email_id = db.Column(db.Integer, db.ForeignKey("system_emails.id", ondelete="CASCADE"),
                         nullable=False)
    event = db.Column(db.String(100), nullable=False)
    role = db.Column(db.String(16), nullable=False, default="customer")
    recipient = db.Column(db.String(254), nullable=False, default="")
    customer_id = db.Column(db.Integer, db.ForeignKey("customers.id", ondelete="SET NULL"),
                            nullable=True, index=True)
    status = db.Column(db.String(16), nullable=False, default="queued")
    reason = db.Column(db.String(500), nullable=True)
    attempts = db.Column(db.Integer, nullable=False, default=0)
    reply = db.Column(db.String(500), nullable=True)
    message_id = db.Column(db.String(300), nullable=True)
    style = db.Column(db.String(8), nullable=False, default="html")
    subject = db.Column(db.String(500), nullable=False, default="")
    body = db.Column(db.Text, nullable=False, default="")
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    scheduled_for = db.Column(db.DateTime, nullable=True)
    last_attempt_at = db.Column(db.DateTime, nullable=True)
    sent_at = db.Column(db.DateTime, nullable=True)

    email = db.relationship("SystemEmail")
