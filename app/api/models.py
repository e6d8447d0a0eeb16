"""API keys: a secret shown once, stored as a SHA-256 hash, revocable, tied to a super admin."""
from ..core.extensions import db
from ..core.utils import utcnow


class ApiKey(db.Model):
    """One API key of a user; ``prefix`` identifies it in lists, ``key_hash`` authenticates it."""
    __tablename__ = "api_keys"

    id = db.Column(db.Integer, primary_key=True)
    user_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="CASCADE"),
                        nullable=False, index=True)
    name = db.Column(db.String(100), nullable=False, default="")
    prefix = db.Column(db.String(16), nullable=False)
    key_hash = db.Column(db.String(64), nullable=False, unique=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    last_used_at = db.Column(db.DateTime, nullable=True)
    revoked_at = db.Column(db.DateTime, nullable=True)

    user = db.relationship("User")

    @property
    def active(self) -> bool:
        """False once the key was revoked."""
        return self.revoked_at is None
