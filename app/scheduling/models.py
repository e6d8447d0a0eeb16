"""A broadcast's schedule: its rule in local wall-clock terms and where the scheduler stands."""
from ..core.extensions import db
from ..core.utils import utcnow

SCHEDULE_STATUSES = ("active", "paused", "ended")


class Schedule(db.Model):
    """When a broadcast fires: once, every N days/weeks/months, or an RFC 5545 RRULE.

    ``next_at`` (UTC) is the next occurrence and is what the scheduler scans (indexed with
    status); ``checked_until`` (UTC) is how far occurrences have been handled, so a restart
    knows what it missed.
    """
    __tablename__ = "schedules"
    __table_args__ = (db.Index("ix_schedules_status_next_at", "status", "next_at"),)

    id = db.Column(db.Integer, primary_key=True)
    broadcast_id = db.Column(db.Integer, db.ForeignKey("broadcasts.id", ondelete="CASCADE"),
                             nullable=False, unique=True)
    kind = db.Column(db.String(16), nullable=False)  # once, daily, weekly, monthly, rrule
    timezone = db.Column(db.String(64), nullable=False, default="UTC")
    start_local = db.Column(db.DateTime, nullable=True)  # first date and time of day, local
    interval = db.Column(db.Integer, nullable=False, default=1)
    weekdays = db.Column(db.JSON, nullable=False, default=list)
    month_day = db.Column(db.Integer, nullable=True)
    short_months = db.Column(db.String(8), nullable=False, default="skip", server_default="skip")
    until = db.Column(db.Date, nullable=True)
    count = db.Column(db.Integer, nullable=True)
    rrule_text = db.Column(db.Text, nullable=False, default="")
    status = db.Column(db.String(16), nullable=False, default="active")
    next_at = db.Column(db.DateTime, nullable=True)
    checked_until = db.Column(db.DateTime, nullable=False, default=utcnow)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    updated_at = db.Column(db.DateTime, nullable=False, default=utcnow, onupdate=utcnow)

    broadcast = db.relationship("Broadcast", backref=db.backref("schedule", uselist=False,
                                                                 cascade="all, delete-orphan"))
