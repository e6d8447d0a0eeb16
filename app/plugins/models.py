"""The stored state of each plugin: whether it is active and which version was last activated."""
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
    updated_at = db.Column(db.DateTime, nullable=False, default=utcnow, onupdate=utcnow)
