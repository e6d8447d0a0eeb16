"""Broadcasts: a notice or e-mail to customers, its targets, labels and its runs (one per send)."""
from datetime import datetime

from ..core.extensions import db
from ..core.utils import utcnow

KINDS = ("notice", "email")
NOTICE_TYPES = ("info", "success", "warning", "error")
STATUSES = ("draft", "scheduled", "sending", "sent", "paused", "cancelled", "failed")
RUN_STATUSES = ("planning", "sending", "paused", "sent", "cancelled", "failed", "skipped", "published")
DEFAULT_PRODUCT_STATUSES = ["active", "trialing"]
NO_END = datetime(9999, 12, 31)  # visible_until of a notice run without an end date


class Broadcast(db.Model):
    """A notice or e-mail made in the wizard; a draft until it is sent or scheduled."""
    __tablename__ = "broadcasts"

    id = db.Column(db.Integer, primary_key=True)
    kind = db.Column(db.String(16), nullable=False, default="email")
    status = db.Column(db.String(16), nullable=False, default="draft", index=True)
    subject = db.Column(db.String(300), nullable=False, default="")
    body_html = db.Column(db.Text, nullable=False, default="")
    notice_type = db.Column(db.String(16), nullable=False, default="info")
    dismissible = db.Column(db.Boolean, nullable=False, default=True)
    ends_at = db.Column(db.DateTime, nullable=True)  # notices: hidden after this (UTC)
    product_statuses = db.Column(db.JSON, nullable=False, default=lambda: list(DEFAULT_PRODUCT_STATUSES))
    from_name = db.Column(db.String(200), nullable=True)
    reply_to = db.Column(db.String(254), nullable=True)
    track_opens = db.Column(db.Boolean, nullable=False, default=False)
    track_clicks = db.Column(db.Boolean, nullable=False, default=False)
    send_at = db.Column(db.DateTime, nullable=True)  # one-off schedule, UTC
    timezone = db.Column(db.String(64), nullable=False, default="UTC")
    wizard_step = db.Column(db.String(32), nullable=False, default="kind")
    author_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    updated_at = db.Column(db.DateTime, nullable=False, default=utcnow, onupdate=utcnow)
    sent_at = db.Column(db.DateTime, nullable=True)
    revision = db.Column(db.Integer, nullable=False, default=0, server_default="0")  # +1 per save
    audience_size = db.Column(db.Integer, nullable=True)  # unique addresses, counted at last save

    author = db.relationship("User")
    targets = db.relationship("BroadcastTarget", back_populates="broadcast",
                              cascade="all, delete-orphan")
    labels = db.relationship("BroadcastLabel", back_populates="broadcast",
                             cascade="all, delete-orphan", order_by="BroadcastLabel.label")
    runs = db.relationship("BroadcastRun", back_populates="broadcast", lazy="dynamic",
                           order_by="BroadcastRun.id.desc()")

    @property
    def customer_ids(self) -> list[int]:
        """Ids of customers targeted directly."""
        return [t.customer_id for t in self.targets if t.customer_id is not None]

    @property
    def product_ids(self) -> list[int]:
        """Ids of products whose members are targeted."""
        return [t.product_id for t in self.targets if t.product_id is not None]


class BroadcastTarget(db.Model):
    """One target of a broadcast: a customer or a product (never both)."""
    __tablename__ = "broadcast_targets"
    __table_args__ = (
        db.CheckConstraint("(customer_id IS NULL) <> (product_id IS NULL)", name="one_target"),
        # One probe per live notice on the dashboard: "does this broadcast target this customer?"
        db.Index("ix_broadcast_targets_broadcast_customer", "broadcast_id", "customer_id"),
        db.Index("ix_broadcast_targets_broadcast_product", "broadcast_id", "product_id"),
    )

    id = db.Column(db.Integer, primary_key=True)
    broadcast_id = db.Column(db.Integer, db.ForeignKey("broadcasts.id", ondelete="CASCADE"),
                             nullable=False, index=True)
    customer_id = db.Column(db.Integer, db.ForeignKey("customers.id", ondelete="CASCADE"),
                            nullable=True, index=True)
    product_id = db.Column(db.Integer, db.ForeignKey("products.id", ondelete="CASCADE"),
                           nullable=True, index=True)

    broadcast = db.relationship("Broadcast", back_populates="targets")


class BroadcastLabel(db.Model):
    """A free tag on a broadcast, used to organise and filter the list."""
    __tablename__ = "broadcast_labels"
    __table_args__ = (db.Index("ix_broadcast_labels_label", "label", "broadcast_id"),)

    broadcast_id = db.Column(db.Integer, db.ForeignKey("broadcasts.id", ondelete="CASCADE"),
                             primary_key=True)
    label = db.Column(db.String(64), primary_key=True)

    broadcast = db.relationship("Broadcast", back_populates="labels")


class BroadcastRun(db.Model):
    """One send of a broadcast (one per occurrence of its schedule): status and counters."""
    __tablename__ = "broadcast_runs"
    __table_args__ = (
        db.UniqueConstraint("broadcast_id", "occurrence_at"),
        # Published notice runs by the time they end: the dashboard reads only the live ones,
        # however many notices ended before.
        db.Index("ix_broadcast_runs_live", "visible_until", "broadcast_id",
                 postgresql_where=db.text("status = 'published'"),
                 sqlite_where=db.text("status = 'published'")),
    )

    id = db.Column(db.Integer, primary_key=True)
    broadcast_id = db.Column(db.Integer, db.ForeignKey("broadcasts.id", ondelete="CASCADE"),
                             nullable=False, index=True)
    occurrence_at = db.Column(db.DateTime, nullable=False)  # the planned time (UTC) or send time
    status = db.Column(db.String(16), nullable=False, default="planning")
    status_reason = db.Column(db.String(500), nullable=True)
    visible_until = db.Column(db.DateTime, nullable=True)  # notice runs: shown until (UTC), NO_END
    total = db.Column(db.Integer, nullable=False, default=0)
    excluded = db.Column(db.Integer, nullable=False, default=0)
    sent = db.Column(db.Integer, nullable=False, default=0, server_default="0")  # e-mails accepted
    failed = db.Column(db.Integer, nullable=False, default=0, server_default="0")  # e-mails failed
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    started_at = db.Column(db.DateTime, nullable=True)
    finished_at = db.Column(db.DateTime, nullable=True)

    broadcast = db.relationship("Broadcast", back_populates="runs")


class NoticeDismissal(db.Model):
    """A user dismissed one run of a notice; a later run of the same notice shows again."""
    __tablename__ = "notice_dismissals"

    user_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    run_id = db.Column(db.Integer, db.ForeignKey("broadcast_runs.id", ondelete="CASCADE"),
                       primary_key=True)
    dismissed_at = db.Column(db.DateTime, nullable=False, default=utcnow)
