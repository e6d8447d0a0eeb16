"""The login device cookie: a random per-browser id, signed with the user's id, a digest of the
user's current session token and the issue time.

A browser that logged into an account holds ``herald_device``; while it is valid the login
throttle counts that browser on its own (``throttle.reserve``): only its own failures on the
account can slow it. It never contains the e-mail address, expires after
``DEVICE_MAX_AGE`` seconds (itsdangerous ``URLSafeTimedSerializer``), and stops being valid the
moment the session token rotates (logout, password or role change, "log out other sessions").
"""
import hashlib
import hmac
import secrets

from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer

DEVICE_COOKIE = "herald_device"
DEVICE_MAX_AGE = 365 * 24 * 3600  # seconds: one year


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="herald-login-device")


def _token_digest(user) -> str:
    """A keyed digest of the user's session token (the token itself never leaves the server)."""
    key = current_app.config["SECRET_KEY"]
    key = key.encode() if isinstance(key, str) else key
    return hmac.new(key, (user.session_token or "").encode(), hashlib.sha256).hexdigest()[:32]


def device_token(user, device_id: str | None = None) -> str:
    """The signed cookie value for ``user`` on the browser ``device_id`` (a new random id when
    None): ``[device id, user id, token digest]`` plus the issue time."""
    return _serializer().dumps([device_id or secrets.token_urlsafe(16), user.id, _token_digest(user)])


def device_id(token: str | None, user) -> str | None:
    """The browser's device id when ``token`` is a device cookie signed for ``user`` (an active
    User or None) under its current session token and younger than DEVICE_MAX_AGE, else None."""
    if not token or user is None or len(token) > 500:
        return None
    try:
        ident, user_id, digest = _serializer().loads(token, max_age=DEVICE_MAX_AGE)
    except (BadSignature, TypeError, ValueError):
        return None
    if user_id != user.id or not hmac.compare_digest(str(digest), _token_digest(user)):
        return None
    return str(ident)


def remember_device(response, user, previous: str | None = None) -> None:
    """Set the device cookie of ``user`` on ``response`` (HttpOnly, SameSite=Lax, Secure in
    production), keeping the browser's device id when ``previous`` is a valid cookie of it."""
    config = current_app.config
    value = device_token(user, previous)
    response.set_cookie(DEVICE_COOKIE, value, max_age=DEVICE_MAX_AGE,
                        secure=config["SESSION_COOKIE_SECURE"], httponly=True, samesite="Lax")
