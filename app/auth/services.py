"""Authentication: checking passwords, throttling failures in Redis, creating users."""
from dataclasses import dataclass

from flask import current_app
from sqlalchemy.orm import joinedload

from ..core.extensions import db, redis_store
from ..core.hooks import do_action
from ..core.utils import normalise_email
from ..mail.addresses import normalise_address
from .models import User


class LoginThrottled(Exception):
    """Too many failed logins; ``retry_after`` is in seconds."""

    def __init__(self, retry_after: int):
        super().__init__(f"Too many failed attempts. Try again in {max(1, retry_after // 60)} minute(s).")
        self.retry_after = retry_after


@dataclass
class LoginResult:
    """The user when the login succeeded, else None with a generic message."""
    user: User | None
    message: str = "Wrong e-mail address or password."


def load_user(user_id):
    """Flask-Login's user loader; the user's customer profile comes in the same query (the
    dashboard and the customer pages read it on every request)."""
    try:
        return db.session.get(User, int(user_id), options=[joinedload(User.customer)])
    except (TypeError, ValueError):
        return None


def _throttle_keys(email, remote_addr):
    return (redis_store.key("login-fail", "email", normalise_email(email)),
            redis_store.key("login-fail", "ip", remote_addr or "-"))


def authenticate(email: str, password: str, remote_addr: str) -> LoginResult:
    """Check a login; raises LoginThrottled after LOGIN_MAX_FAILURES failures in the lock window."""
    client = redis_store.client
    limit = current_app.config["LOGIN_MAX_FAILURES"]
    window = current_app.config["LOGIN_LOCK_SECONDS"]
    email_key, ip_key = _throttle_keys(email, remote_addr)
    counts = client.mget(email_key, ip_key)
    if int(counts[0] or 0) >= limit or int(counts[1] or 0) >= limit * 4:
        raise LoginThrottled(max(client.ttl(email_key), client.ttl(ip_key), 1))
    user = User.find_by_email(email)
    if user is not None and user.active and user.check_password(password):
        client.delete(email_key)
        do_action("user_logged_in", user)
        return LoginResult(user)
    pipe = client.pipeline()
    for key in (email_key, ip_key):
        pipe.incr(key)
        pipe.expire(key, window)
    pipe.execute()
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
    return user
