"""Authenticating API requests by key, and the JSON request/response helpers of the API."""
from flask import abort, g, jsonify, request

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


def json_body() -> dict:
    """The request's JSON object (an empty body is ``{}``); 400 when it is not a JSON object."""
    if not request.data:
        return {}
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        abort(400, "The body must be a JSON object (Content-Type: application/json).")
    return data


def int_arg(name: str, default=None, maximum=None):
    """A whole-number query argument; 400 when it is something else."""
    value = request.args.get(name)
    if value is None or value == "":
        return default
    if not value.isdigit():
        abort(400, f"The query argument {name!r} must be a whole number.")
    return min(int(value), maximum) if maximum else int(value)
