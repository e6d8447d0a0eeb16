"""POST /hooks/bounces: bounces and complaints from any provider, in Herald's JSON format.

Authenticated by ``X-Herald-Signature: sha256=<hex HMAC-SHA256 of the raw body>`` with the
shared secret (config ``BOUNCE_WEBHOOK_SECRET`` or setting ``tracking.webhook_secret``); the
``bounce_webhook_verify`` and ``bounce_webhook_payload`` filters let a plugin accept a provider's
own signature and format. The whole batch is validated before anything is recorded (422 lists
every error by index), and an event ``id`` makes provider retries harmless. An event is matched
to its delivery by ``return_path`` (a VERP return path, signature checked) first, then by
``message_id`` (Herald's ids only with their tag). See docs/bounces.md.
"""
import hashlib
import hmac
import os

from flask import Blueprint, current_app, jsonify, request

from ..core.extensions import db
from ..core.hooks import apply_filters
from ..core.inputs import MAX_JSON_DEPTH, FieldError, clean_name, json_fields, json_problem, strict_loads
from ..core.settings.services import get_option
from ..mail.verp import TOKEN_RE
from .ledger import find_delivery
from .services import checked_address, record_bounce, record_complaint

bp = Blueprint("tracking_hooks", __name__, url_prefix="/hooks")
MAX_BODY = 1024 * 1024
MAX_EVENTS = 1000
MAX_EVENT_ID = 200  # characters of an event id ("webhook:" + it is a 300-character unique key)
MAX_RETURN_PATH = 320  # characters of a return path (an address: 64 + 1 + 255)
MAX_MESSAGE_ID = 300  # characters of a Message-ID (what an event stores; Herald's own are far shorter)
# The fields of an event and their JSON types (core.inputs.json_fields): any other field, or
# another type, is the event's error. ``id`` and ``detail`` may be whole numbers (a provider's
# numeric event id, an SMTP code), taken as their digits; a Message-ID is always text.
EVENT_FIELDS = {"type": (str,), "email": (str,), "bounce_type": (str,), "id": (str, int, None),
                "message_id": (str, None), "return_path": (str, None), "detail": (str, int, None)}


def webhook_secret() -> str:
    """The shared secret: BOUNCE_WEBHOOK_SECRET from the environment/config, else the setting."""
    return (current_app.config.get("BOUNCE_WEBHOOK_SECRET") or os.environ.get("BOUNCE_WEBHOOK_SECRET")
            or get_option("tracking.webhook_secret") or "")


def sign(body: bytes, secret: str) -> str:
    """The ``X-Herald-Signature`` value for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _error(status, message, **extra):
    return jsonify(error=message, **extra), status


def validate_event(event) -> tuple[dict | None, str | None]:
    """One event checked and normalised, or ``(None, message)``: its fields and their JSON types
    are ``EVENT_FIELDS`` (the message starts with the field's name). ``id`` is one line of at most
    ``MAX_EVENT_ID`` characters without controls (it becomes the event's unique key, compared as
    it is); ``detail`` and ``message_id`` are free text from the provider, stored with their
    controls written visibly (``services._clip``) and matched only when a Message-ID can be one
    (``ledger.bare_message_id``); a ``message_id`` longer than ``MAX_MESSAGE_ID`` is refused."""
    if not isinstance(event, dict):
        return None, "an event must be a JSON object"
    try:
        json_fields(event, EVENT_FIELDS, "an event")
    except FieldError as error:
        return None, str(error)
    kind = event.get("type")
    if kind not in ("bounce", "complaint"):
        return None, 'type must be "bounce" or "complaint"'
    try:
        email = checked_address(event.get("email"))
    except ValueError as error:
        return None, f"email: {error}"
    bounce_type = event.get("bounce_type", "hard")
    if kind == "bounce" and bounce_type not in ("hard", "soft"):
        return None, 'bounce_type must be "hard" or "soft"'
    return_path = event.get("return_path")
    if return_path is not None and (not isinstance(return_path, str) or len(return_path) > MAX_RETURN_PATH):
        return None, f"return_path must be an address of at most {MAX_RETURN_PATH} characters"
    if len(event.get("message_id") or "") > MAX_MESSAGE_ID:  # refused, not cut: a cut id matches nothing
        length = len(event["message_id"])
        return None, f"message_id: Must be at most {MAX_MESSAGE_ID} characters (got {length:,})."
    if event.get("id") is not None:  # the key a provider's retry is recognised by: kept as sent
        try:
            clean_name(str(event["id"]), "id", MAX_EVENT_ID)
        except ValueError as error:
            return None, str(error)
    token = TOKEN_RE.search(return_path) if return_path else None
    return {"type": kind, "email": email, "bounce_type": bounce_type,
            "id": _text(event.get("id")), "verp_token": token.group(1) if token else None,
            "message_id": _text(event.get("message_id")), "detail": _text(event.get("detail"))}, None


def _text(value):
    """A field that may come as a whole number (``EVENT_FIELDS``: ``id``, ``detail``), as text."""
    return None if value is None else str(value)


def _record(event) -> dict:
    key = f"webhook:{event['id']}" if event["id"] else None
    # the return path first (its VERP token, signature checked), then the Message-ID, as by mail
    delivery = find_delivery(verp_token=event["verp_token"]) if event["verp_token"] else None
    args = dict(detail=event["detail"], message_id=event["message_id"], event_key=key, delivery=delivery)
    if event["type"] == "complaint":
        outcome = record_complaint(event["email"], "webhook", **args)
    else:
        outcome = record_bounce(event["email"], event["bounce_type"], "webhook", **args)
    result = {"email": outcome.email, "recorded": outcome.recorded, "suppressed": outcome.suppressed,
              "run_id": outcome.delivery.run_id if outcome.delivery else None}
    if outcome.email != event["email"]:  # the delivery matched was sent to another address
        result["ignored_email"] = event["email"]
        result["note"] = (f"{'return_path' if delivery else 'message_id'} is the message sent to {outcome.email} (run "
                          f"{outcome.delivery.run_id}): the {event['type']} applies to that address; "
                          f"{event['email']} was left alone.")
    return result


@bp.route("/bounces", methods=["POST"])
def bounces():
    """Record a batch of bounce and complaint events."""
    if (request.content_length or 0) > MAX_BODY:
        return _error(413, f"body larger than {MAX_BODY} bytes")
    body = request.get_data(cache=True)
    secret = webhook_secret()
    given = request.headers.get("X-Herald-Signature", "")
    valid = bool(secret) and hmac.compare_digest(given.encode(), sign(body, secret).encode())
    if not apply_filters("bounce_webhook_verify", valid, request.headers, body):
        return _error(401, "missing or bad signature" if secret else "the webhook has no secret configured")
    try:
        payload = strict_loads(body)
    except RecursionError:  # deeper than the decoder goes
        return _error(400, f"body is nested more than {MAX_JSON_DEPTH} levels deep")
    except (ValueError, UnicodeDecodeError) as error:
        return _error(400, f"body is not valid JSON: {error}")
    problem = json_problem(payload, text=False)  # its text is checked field by field (validate_event)
    if problem:
        return _error(400, problem)
    payload = apply_filters("bounce_webhook_payload", payload, request.headers)
    events = payload.get("events") if isinstance(payload, dict) and "events" in payload else [payload]
    if isinstance(payload, dict) and "events" in payload and len(payload) > 1:
        extra = next(key for key in payload if key != "events")
        return _error(422, f"unknown field {extra[:40]!r}: a batch body takes only events")
    if not isinstance(events, list) or not events or len(events) > MAX_EVENTS:
        return _error(422, f"events must be a list of 1 to {MAX_EVENTS} objects")
    checked = [validate_event(e) for e in events]
    errors = [{"index": i, "error": message} for i, (_, message) in enumerate(checked) if message]
    if errors:
        return _error(422, "invalid events; nothing was recorded", errors=errors)
    results = [_record(event) for event, _ in checked]
    db.session.commit()
    return jsonify(processed=len(results), results=results)
