"""Authenticating API requests by key, and the JSON error response of the API."""
from flask import g, jsonify, request

from ..core.extensions import db
from .keys import authenticate


def api_error(code: int, message: str, **extra):
    """A JSON error response: ``{"error": message, "status": code, ...}``."""
    return jsonify(error=message, status=code, **extra), code


def require_api_key():
    """Before every API request: the ``Authorization: Bearer <key>`` (or ``X-API-Key``) must be
    an active key of an active super admin, else 401. Session cookies are never accepted, which
    is why these routes may skip the CSRF check."""
    header = request.headers.get("Authorization", "")
    secret = header[7:].strip() if header[:7].lower() == "bearer " else request.headers.get("X-API-Key", "")
    if not secret:
        return api_error(401, "Send your API key in the header 'Authorization: Bearer <key>'.")
    key = authenticate(secret.strip())
    if key is None:
        return api_error(401, "This API key is unknown or was revoked.")
    g.api_key, g.api_user = key, key.user
    if db.session.dirty:  # the key's last use was stamped
        db.session.commit()
    return None
