"""API keys: issuing one (the secret is shown once), authenticating by its hash, revoking it.

A key is 32 random bytes, so a plain SHA-256 is a safe one-way hash (no slow KDF needed) and
lets the key be found by an indexed lookup.
"""
import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import select

from ..auth.models import User
from ..audit.services import record
from ..core.extensions import db
from ..core.utils import utcnow
from .models import ApiKey

KEY_PREFIX = "hk_"
TOUCH_EVERY = timedelta(minutes=1)  # write last_used_at at most this often


class ApiKeyError(ValueError):
    """A key cannot be issued or revoked; the message says why."""


def hash_key(secret: str) -> str:
    """The stored form of a key."""
    return hashlib.sha256(secret.encode()).hexdigest()


def issue_key(user: User, name: str = "") -> tuple[ApiKey, str]:
    """A new key for super admin ``user``: ``(row, secret)``; only the hash is stored."""
    if not user.is_super_admin or not user.active:
        raise ApiKeyError(f"{user.email} is not an active super admin; only they can have API keys.")
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(user=user, name=(name or "").strip()[:100] or "API key", prefix=secret[:10],
                 key_hash=hash_key(secret))
    db.session.add(key)
    db.session.flush()
    record("api_key.created", key, f"key {key.prefix}… \"{key.name}\" for {user.email}")
    return key, secret


def authenticate(secret: str) -> ApiKey | None:
    """The active key for ``secret`` whose user is an active super admin, else None; stamps its
    last use (at most every few minutes; the caller commits)."""
    if not secret or not secret.startswith(KEY_PREFIX) or len(secret) > 200:
        return None
    key = db.session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(secret)))
    if key is None or key.revoked_at is not None:
        return None
    if not (key.user.active and key.user.is_super_admin):
        return None
    now = utcnow()
    if key.last_used_at is None or now - key.last_used_at > TOUCH_EVERY:
        key.last_used_at = now
    return key


def keys_of(user: User) -> list[ApiKey]:
    """The user's keys, newest first (revoked ones included)."""
    return db.session.scalars(select(ApiKey).where(ApiKey.user_id == user.id)
                              .order_by(ApiKey.id.desc())).all()


def revoke(key: ApiKey) -> None:
    """Revoke a key at once (idempotent); the caller commits."""
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        record("api_key.revoked", key, f"key {key.prefix}… \"{key.name}\" of {key.user.email}")
