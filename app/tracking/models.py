"""Tracking tables: engagement (opens, clicks) and list-hygiene events.

Engagement and events are keyed by plain ``run_id`` and ``delivery_id`` integers WITHOUT foreign
keys. ``delivery_id`` points into the delivery engine's ``deliveries`` ledger, which is another
domain's table that may be purged or partitioned on its own schedule, and pixel hits arrive at
high rates long after a send: a foreign key would slow every insert, tie our retention to the
ledger's and make one domain's migrations depend on the other's. ``run_id`` stays FK-free for the
same reason (a deleted broadcast keeps its anonymous counts harmless). ``delivery_id`` is NULL when
tracking is anonymous: then no row says who opened or clicked.
"""
from sqlalchemy import Index
from sqlalchemy.orm import declared_attr

from ..core.extensions import db
from ..core.utils import utcnow

EVENT_KINDS = ("unsubscribed", "resubscribed", "bounced", "complained")


class TrackingEvent(db.Model):
    """A list-hygiene event: an unsubscribe, a resubscribe, a bounce or a complaint.

    ``event_key`` is unique when given (a DSN's Message-ID, a webhook event id), so a message
    read twice or a webhook retried by its provider is counted once.
    """
    __tablename__ = "tracking_events"
    __table_args__ = (
        Index("ix_tracking_events_email_kind_created_at", "email", "kind", "created_at"),
        Index("ix_tracking_events_run_id_kind", "run_id", "kind"),
    )

    id = db.Column(db.Integer, primary_key=True)
    kind = db.Column(db.String(16), nullable=False)
    email = db.Column(db.String(254), nullable=False)
    bounce_type = db.Column(db.String(8), nullable=True)  # hard or soft, for bounces
    run_id = db.Column(db.Integer, nullable=True)
    delivery_id = db.Column(db.Integer, nullable=True)
    message_id = db.Column(db.String(300), nullable=True, index=True)
    source = db.Column(db.String(64), nullable=False)
    detail = db.Column(db.String(500), nullable=True)
    event_key = db.Column(db.String(300), nullable=True, unique=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)


class _EngagementColumns:
    """Columns and indexes shared by opens and clicks."""
    id = db.Column(db.Integer, primary_key=True)
    run_id = db.Column(db.Integer, nullable=False)
    delivery_id = db.Column(db.Integer, nullable=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    @declared_attr.directive
    def __table_args__(cls):
        return (Index(f"ix_{cls.__tablename__}_run_id_created_at", "run_id", "created_at"),
                Index(f"ix_{cls.__tablename__}_run_id_delivery_id", "run_id", "delivery_id"))


class TrackedOpen(_EngagementColumns, db.Model):
    """One load of a run's open pixel; ``delivery_id`` only with per-recipient tracking."""
    __tablename__ = "tracking_opens"


class TrackedClick(_EngagementColumns, db.Model):
    """One follow of a tracked link to ``url``; ``delivery_id`` only with per-recipient tracking."""
    __tablename__ = "tracking_clicks"

    url = db.Column(db.String(2000), nullable=False)
