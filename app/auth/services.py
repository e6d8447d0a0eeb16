"""Authentication: checking passwords (throttled, see ``throttle``), loading and creating users.

Unknown and inactive accounts cost one password hash too (no timing oracle).
"""
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload
from werkzeug.security import check_password_hash, generate_password_hash

from ..audit.services import record
from ..core.extensions import db
from ..core.hooks import do_action
from ..mail.addresses import normalise_address
from .devices import device_id
from .forms import MIN_PASSWORD_LENGTH
from .models import User
from .throttle import LoginThrottled, reserve  # noqa: F401 - LoginThrottled is part of this API


@dataclass
class LoginResult:
    """The user when the login succeeded, else None with a generic message."""
    user: User | None
    message: str = "Wrong e-mail address or password."
    device: str | None = None  # the device id of a valid device cookie the browser showed


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
                 device_cookie: str | None = None) -> LoginResult:
    """Check a login from ``remote_addr``; raises LoginThrottled while that client must wait.
    ``device_cookie``: the browser's ``herald_device`` cookie; when it is valid for this account
    the browser is throttled on its own (``throttle``). ``LoginResult.device`` is its device id."""
    user = User.find_by_email(email)
    usable = user if user is not None and user.active else None
    device = device_id(device_cookie, usable)
    reservation = reserve(email, remote_addr, device)
    if verify_password(usable, password):
        reservation.forget()
        do_action("user_logged_in", user)
        return LoginResult(user, device=device)
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


def set_password(user: User, password: str, summary: str = "password changed") -> None:
    """Give ``user`` a new password (the caller commits): the session token rotates (models), so
    every session, remember-me and device cookie of the user ends; audited as
    ``user.password_changed``. Raises ValueError below MIN_PASSWORD_LENGTH characters or when
    the password is only white space (the login form reads that as no password at all)."""
    if not password.strip():
        raise ValueError("The password cannot be only spaces.")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"The password must have at least {MIN_PASSWORD_LENGTH} characters.")
    user.set_password(password)
    record("user.password_changed", user, summary)


def set_role(user: User, super_admin: bool) -> bool:
    """Make ``user`` a network super admin or not (the caller commits); a change rotates the
    session token (models) and is audited as ``user.role_changed``. Returns False when the
    user already had that role (nothing changes). Raises ValueError when it would take the
    role from the network's last super admin (nobody could administer the network)."""
    if user.is_super_admin == super_admin:
        return False
    if not super_admin and not db.session.scalar(select(func.count()).select_from(User).where(
            User.is_super_admin.is_(True), User.id != user.id)):
        raise ValueError(f"{user.email} is the last super admin: make another one first.")
    user.is_super_admin = super_admin
    record("user.role_changed", user, "super admin" if super_admin else "customer login")
    return True
