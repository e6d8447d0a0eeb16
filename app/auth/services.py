"""Authentication: checking passwords (throttled, see ``throttle``), loading and creating users.

Unknown and inactive accounts cost one password hash too (no timing oracle).
"""
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy.orm import joinedload
from werkzeug.security import check_password_hash, generate_password_hash

from ..audit.services import record
from ..core.extensions import db
from ..core.hooks import do_action
from ..mail.addresses import normalise_address
from .models import User
from .throttle import LoginThrottled, reserve  # noqa: F401 - LoginThrottled is part of this API


@dataclass
class LoginResult:
    """The user when the login succeeded, else None with a generic message."""
    user: User | None
    message: str = "Wrong e-mail address or password."


def load_user(user_id):
    """Flask-Login's user loader for ``<id>:<session token>``; the user's customer profile comes in
    the same query (the dashboard and the customer pages read it on every request). A cookie
    whose token was rotated (logout, password or role change) loads nobody."""
    user_key, _, token = str(user_id).partition(":")
    if not user_key.isdigit() or not token:
        return None
    user = db.session.get(User, int(user_key), options=[joinedload(User.customer)])
    return user if user is not None and user.has_session_token(token) else None


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return generate_password_hash("not a password")  # the method set_password uses


def verify_password(user: User | None, password: str) -> bool:
    """Check ``password`` against ``user``'s hash; for no user (or no usable hash) hash it against a
    dummy of the default method, so unknown addresses take as long as known ones."""
    if user is None or not user.password_hash:
        check_password_hash(_dummy_hash(), password)
        return False
    return user.check_password(password)


def authenticate(email: str, password: str, remote_addr: str,
                 trusted_device: bool = False) -> LoginResult:
    """Check a login from ``remote_addr``; raises LoginThrottled while that client must wait.
    ``trusted_device``: the browser showed this account's device cookie (``throttle``)."""
    reservation = reserve(email, remote_addr, trusted_device)
    user = User.find_by_email(email)
    usable = user if user is not None and user.active else None
    if verify_password(usable, password):
        reservation.forget()
        do_action("user_logged_in", user)
        return LoginResult(user)
    do_action("login_failed", email, remote_addr)
    return LoginResult(None)


def create_user(email, password, name="", super_admin=False) -> User:
    """Create a user (the caller commits); raises ValueError when the e-mail is taken or is not an
    address (AddressError), which is stored as ``mail.addresses.normalise_address`` gives it."""
    email = normalise_address(email)
    if User.find_by_email(email) is not None:
        raise ValueError(f"A user with the e-mail address {email} already exists.")
    user = User(email=email, name=name, is_super_admin=super_admin)
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    record("user.created", user, "super admin" if super_admin else "customer login")
    return user
