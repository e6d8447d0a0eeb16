"""The User account: login e-mail, password hash, name, the super-admin flag and the session token."""
import hmac
import secrets

from flask_login import UserMixin
from sqlalchemy import Index, event, func
from werkzeug.security import check_password_hash, generate_password_hash

from ..core.extensions import db
from ..core.utils import ADDRESS_TYPE, normalise_email, utcnow


class User(UserMixin, db.Model):
    """Somebody who can log in: a network super admin or a customer."""
    __tablename__ = "users"
    id = db.Column(db.Integer, primary_key=True)
    email = db.Column(ADDRESS_TYPE, nullable=False)  # lower(email) is the key: core.utils
    password_hash = db.Column(db.String(256), nullable=False, default="")
    name = db.Column(db.String(200), nullable=False, default="")
    is_super_admin = db.Column(db.Boolean, nullable=False, default=False)
    active = db.Column(db.Boolean, nullable=False, default=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    # Part of every session and remember-me cookie: a new value ends every session of the user.
    session_token = db.Column(db.String(64), nullable=False, default=lambda: new_session_token())

    customer = db.relationship("Customer", back_populates="user", uselist=False)

    @property
    def is_active(self):
        """Flask-Login: inactive users cannot log in."""
        return self.active

    def get_id(self):
        """Flask-Login's alternative id, ``<id>:<session token>``: cookies name the token too."""
        return f"{self.id}:{self.session_token}"

    def has_session_token(self, token: str) -> bool:
        """True when ``token`` is the current session token (compared in constant time)."""
        return bool(token) and hmac.compare_digest(str(token).encode(), (self.session_token or "").encode())

    def end_sessions(self) -> None:
        """Rotate the session token: every session and remember-me cookie of the user stops
        working (the caller commits, and logs the current session in again to keep it)."""
        self.session_token = new_session_token()

    def set_password(self, password: str) -> None:
        """Store a salted hash of ``password``."""
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        """True when ``password`` matches the stored hash."""
        return bool(self.password_hash) and check_password_hash(self.password_hash, password)

    @staticmethod
    def find_by_email(email: str):
        """The user with this e-mail address, compared by its key (ASCII letters folded), or None."""
        return db.session.scalar(db.select(User).where(
            func.lower(User.email) == normalise_email(email)))

    def __repr__(self):
        return f"<User {self.id} {self.email}>"


def new_session_token() -> str:
    """A fresh random session token."""
    return secrets.token_urlsafe(32)


def _rotate_on_change(target, value, oldvalue, initiator):
    """A new password, a role change or (de)activation ends the user's sessions."""
    if value != oldvalue:
        target.session_token = new_session_token()


for _column in (User.password_hash, User.is_super_admin, User.active):
    event.listen(_column, "set", _rotate_on_change, active_history=True)


Index("uq_users_email_lower", func.lower(User.email), unique=True)
