"""The ``options`` table: network-wide settings as key and JSON value."""
from ..extensions import db
from ..utils import utcnow


class Option(db.Model):
    """A network-wide setting: a key and a JSON value."""
    __tablename__ = "options"

    key = db.Column(db.String(200), primary_key=True)
    value = db.Column(db.JSON, nullable=True)
    updated_at = db.Column(db.DateTime, nullable=False, default=utcnow, onupdate=utcnow)
