"""Authentication: checking passwords, throttling failures in Redis, creating users.

Failures are counted per (account, client address): after ``LOGIN_MAX_FAILURES`` failures each
further attempt of that pair waits ``LOGIN_DELAY_SECONDS``, doubling with every failure up to
``LOGIN_MAX_DELAY_SECONDS``. A client that has not failed is never held back, so nobody can lock
an admin out from another address. A client address also gets ``LOGIN_MAX_FAILURES * 4``
failures over all accounts before its delays start (password spraying). Unknown accounts cost
one password hash too (no timing oracle).
"""
import time
from dataclasses import dataclass
from functools import lru_cache

from flask import current_app
from sqlalchemy.orm import joinedload
from werkzeug.security import check_password_hash, generate_password_hash

from ..audit.services import record
from ..core.extensions import db, redis_store
from ..core.hooks import do_action
from ..core.utils import normalise_email
from .models import User

FAILURE_MEMORY = 24 * 3600  # a pair's failures are forgotten a day after its last one


class LoginThrottled(Exception):
    """Too many failed logins from this client; ``retry_after`` is in seconds."""

    def __init__(self, retry_after: int):
        retry_after = max(1, int(retry_after))
        wait = f"{retry_after} second(s)" if retry_after < 120 else f"{retry_after // 60} minute(s)"
        super().__init__(f"Too many failed attempts. Try again in {wait}.")
        self.retry_after = retry_after


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


def _keys(email, remote_addr):
    client = remote_addr or "-"
    return (redis_store.key("login-fail", "pair", normalise_email(email), client),
            redis_store.key("login-fail", "ip", client))


def _delay(failures: int, allowed: int) -> int:
    """Seconds to wait after ``failures`` failures when ``allowed`` come free: d, 2d, 4d … capped."""
    if failures < allowed:
        return 0
    config = current_app.config
    return min(config["LOGIN_DELAY_SECONDS"] * 2 ** min(failures - allowed, 30),
               config["LOGIN_MAX_DELAY_SECONDS"])


def _check_throttle(keys, limits):
    client, now = redis_store.client, time.time()
    pipe = client.pipeline()
    for key in keys:
        pipe.hmget(key, "n", "last")
    for (count, last), allowed in zip(pipe.execute(), limits):
        wait = float(last or 0) + _delay(int(count or 0), allowed) - now
        if count and wait > 0:
            raise LoginThrottled(wait + 0.999)


def _record_failure(keys):
    pipe, now = redis_store.client.pipeline(), time.time()
    for key in keys:
        pipe.hincrby(key, "n", 1)
        pipe.hset(key, "last", now)
        pipe.expire(key, FAILURE_MEMORY)
    pipe.execute()


def authenticate(email: str, password: str, remote_addr: str) -> LoginResult:
    """Check a login from ``remote_addr``; raises LoginThrottled while that client must wait."""
    allowed = current_app.config["LOGIN_MAX_FAILURES"]
    keys = _keys(email, remote_addr)
    _check_throttle(keys, (allowed, allowed * 4))
    user = User.find_by_email(email)
    usable = user if user is not None and user.active else None
    if verify_password(usable, password):
        redis_store.client.delete(keys[0])
        do_action("user_logged_in", user)
        return LoginResult(user)
    _record_failure(keys)
    do_action("login_failed", email, remote_addr)
    return LoginResult(None)


def create_user(email, password, name="", super_admin=False) -> User:
    """Create a user (the caller commits); raises ValueError when the e-mail is taken."""
    email = normalise_email(email)
    if User.find_by_email(email) is not None:
        raise ValueError(f"A user with the e-mail address {email} already exists.")
    user = User(email=email, name=name, is_super_admin=super_admin)
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    record("user.created", user, "super admin" if super_admin else "customer login")
    return user
