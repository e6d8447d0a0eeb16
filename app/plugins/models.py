"""The stored state of each plugin: whether it is active, which version last ran, any suspension."""
from ..core.extensions import db
from ..core.utils import utcnow


class PluginState(db.Model):
    """One row per plugin ever seen; ``active`` is the admin's choice, kept across restarts."""
    __tablename__ = "plugin_states"

    slug = db.Column(db.String(100), primary_key=True)
    active = db.Column(db.Boolean, nullable=False, default=False)
    version = db.Column(db.String(50), nullable=True)
    activated_at = db.Column(db.DateTime, nullable=True)
    first_activated_at = db.Column(db.DateTime, nullable=True)
    # Set while recovery mode ("faults") or a failed migration ("migration") keeps it off
    # (app/plugins/suspensions.py: Redis caches these columns).
    suspended_kind = db.Column(db.String(20), nullable=True)
    suspended_reason = db.Column(db.String(500), nullable=True)
    suspended_at = db.Column(db.DateTime, nullable=True)
    updated_at = db.Column(db.DateTime, nullable=False, default=utcnow, onupdate=utcnow)
