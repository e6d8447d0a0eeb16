"""JSON endpoints to list, get and update system e-mails (admin session; CSRF header on writes).

Authentication is the admin's session like every /network/ URL; a write (PATCH) carries the
session's CSRF token in an ``X-CSRFToken`` header. When API keys land (/api/v1), these functions
can be mounted there unchanged.
"""
from flask import Blueprint, jsonify, request

from ..core.extensions import db
from ..core.inputs import json_fields, read_json_object
from . import services
from .models import SystemEmail
from .registry import available_events

api_bp = Blueprint("system_emails_api", __name__, url_prefix="/network/system-emails")
# The JSON type of each field a PATCH may change (subject and body null: empty).
JSON_FIELDS = {"subject": (str, None), "body": (str, None), "style": (str,), "audience": (str,),
               "active": (bool,), "copy_admins": (bool,), "delay_value": (int,), "delay_unit": (str,)}


def _error(message, status, **extra):
    return jsonify(error=message, **extra), status


def email_json(state: services.EmailState) -> dict:
    """The JSON form of one installed e-mail and its state."""
    email = state.email
    return {
        "id": email.id, "slug": email.slug, "event": email.event, "plugin": email.plugin,
        "name": email.name, "description": email.description, "audience": email.audience,
        "style": email.style, "subject": email.subject, "body": email.body,
        "active": email.active, "copy_admins": email.copy_admins,
        "delay_value": email.delay_value, "delay_unit": email.delay_unit,
        "modified": state.modified, "update_available": state.update_available,
        "plugin_active": state.available,
        "stats": {"sent": email.sent_count, "failed": email.failed_count,
                  "last_sent_at": email.last_sent_at.isoformat() + "Z" if email.last_sent_at else None},
    }


@api_bp.route("/emails.json")
def list_emails():
    """Every installed e-mail."""
    return jsonify(emails=[email_json(s) for s in services.installed_states()])


@api_bp.route("/events.json")
def list_events():
    """Every available event with its placeholders and sample payload."""
    return jsonify(events=[{"slug": e.slug, "name": e.name, "description": e.description,
                            "plugin": e.plugin, "placeholders": e.placeholders,
                            "sample_payload": e.sample_payload()} for e in available_events()])


@api_bp.route("/emails/<int:email_id>.json", methods=["GET", "PATCH"])
def email_detail(email_id):
    """Get one e-mail, or PATCH some of: subject, body, style, audience, active, copy_admins,
    delay_value, delay_unit (unknown fields and bad values answer 400 with per-field errors)."""
    email = db.session.get(SystemEmail, email_id)
    if email is None:
        return _error(f"No system e-mail {email_id}.", 404)
    if request.method == "PATCH":
        data = read_json_object()
        unknown = sorted(set(data) - set(services.EDITABLE_FIELDS))
        if unknown:
            return _error(f"Fields that cannot be changed: {', '.join(unknown)}.", 400)
        json_fields(data, JSON_FIELDS)
        try:
            services.update_email(email, data)
        except services.ValidationFailed as failure:
            db.session.rollback()
            return _error(str(failure), 400, fields=failure.errors)
        db.session.commit()
    return jsonify(email_json(services.email_state(email)))
