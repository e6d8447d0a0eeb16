"""The User account: login e-mail, password hash, name and the super-admin flag."""
from flask_login import UserMixin
from sqlalchemy import Index, func
from werkzeug.security import check_password_hash, generate_password_hash

from ..core.extensions import db
from ..core.utils import normalise_email, utcnow


class User(UserMixin, db.Model):
    """Somebody who can log in: a network super admin or a customer."""
    __tablename__ = "users"
    id = db.Column(db.Integer, primary_key=True)
    email = db.Column(db.String(254), nullable=False)
    password_hash = db.Column(db.String(256), nullable=False, default="")
    name = db.Column(db.String(200), nullable=False, default="")
    is_super_admin = db.Column(db.Boolean, nullable=False, default=False)
    active = db.Column(db.Boolean, nullable=False, default=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    customer = db.relationship("Customer", back_populates="user", uselist=False)

    @property
    def is_active(self):
        """Flask-Login: inactive users cannot log in."""
        return self.active

    def set_password(self, password: str) -> None:
        """Store a salted hash of ``password``."""
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        """True when ``password`` matches the stored hash."""
        return bool(self.password_hash) and check_password_hash(self.password_hash, password)

    @staticmethod
    def find_by_email(email: str):
        """The user with this e-mail address, compared case-insensitively, or None."""
        return db.session.scalar(db.select(User).where(
            func.lower(User.email) == normalise_email(email)))

    def __repr__(self):
        return f"<User {self.id} {self.email}>"


Index("uq_users_email_lower", func.lower(User.email), unique=True)
