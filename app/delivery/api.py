"""JSON API of the delivery engine: a run's progress and its controls.

Served twice: at /api/v1/delivery/... for scripts, with an API key (``Authorization: Bearer``,
no cookies, so no CSRF token), and at /network/api/v1/delivery/... with the admin session for
the run page's live progress (session POSTs carry the CSRF token in ``X-CSRFToken``).
"""
from flask import Blueprint, abort, jsonify
from werkzeug.exceptions import HTTPException

from ..api.auth import require_api_key
from ..broadcasts.models import BroadcastRun
from ..core.extensions import db
from ..core.inputs import json_fields, read_json_object, whole_number
from . import progress
from .reaper import supervise_throttled
from .services import ACTIONS, RunStateError, UnknownCountChanged, run_action

bp = Blueprint("delivery_api", __name__, url_prefix="/network/api/v1/delivery")


@bp.errorhandler(HTTPException)
def json_error(error):
    """Errors of this API are JSON: ``{"error": message}`` with the HTTP status."""
    return jsonify(error=error.description, status=error.code), error.code


def _snapshot(run_id):
    run = db.session.get(BroadcastRun, run_id)
    if run is None:
        return None
    return progress.snapshot(run)


@bp.route("/runs/<int:run_id>")
def run_progress(run_id):
    """A run's progress: status, counts by status, sent of total, current rate, seconds left."""
    if db.session.get(BroadcastRun, run_id) is None:
        return jsonify(error=f"There is no broadcast run {run_id}.", status=404), 404
    supervise_throttled(run_id)  # polling an active run also heals it (reaper, lost chunks)
    db.session.commit()
    return jsonify(_snapshot(run_id))


def _expected_unknown(action) -> int | None:
    """resend-unknown's confirmation: the JSON body's ``expected_unknown`` (a whole number; 422
    when it is not one, 400 for any other field or a list, object or true/false), None when absent
    or for the other actions (whose body may hold no field)."""
    fields = {"expected_unknown": (int, str, None)} if action == "resend-unknown" else {}
    # a misspelt key is a 400 (FieldError), not taken for a missing confirmation (or ignored)
    value = json_fields(read_json_object(), fields).get("expected_unknown")
    if action != "resend-unknown":
        return None
    try:
        return None if value is None else whole_number(value, "expected_unknown")
    except ValueError as error:
        abort(422, str(error))


@bp.route("/runs/<int:run_id>/<action>", methods=["POST"])
def run_control(run_id, action):
    """Pause, resume, cancel or resend-unknown; answers the message and the new progress.
    resend-unknown needs ``{"expected_unknown": N}``, N the run's number of unknown rows: 422
    with ``unknown`` (the number now) and ``unknown_reasons`` when it is missing or another."""
    if action not in ACTIONS:
        return jsonify(error=f"Unknown action {action!r}; use one of: {', '.join(ACTIONS)}.",
                       status=404), 404
    expected = _expected_unknown(action)
    try:
        message = run_action(run_id, action, expected)
        db.session.commit()
    except LookupError as error:
        db.session.rollback()
        return jsonify(error=str(error), status=404), 404
    except UnknownCountChanged as error:
        db.session.rollback()
        hint = f' Confirm with the JSON body {{"expected_unknown": {error.count}}}.' if error.count else ""
        return jsonify(error=str(error) + hint, status=422, unknown=error.count,
                       unknown_reasons=progress.unknown_reasons(run_id)), 422
    except RunStateError as error:
        db.session.rollback()
        return jsonify(error=str(error), status=409), 409
    db.session.expire_all()
    return jsonify(message=message, run=_snapshot(run_id))


keyed = Blueprint("delivery_keyed_api", __name__, url_prefix="/api/v1/delivery")
keyed.before_request(require_api_key)
keyed.register_error_handler(HTTPException, json_error)
keyed.add_url_rule("/runs/<int:run_id>", view_func=run_progress)
keyed.add_url_rule("/runs/<int:run_id>/<action>", view_func=run_control, methods=["POST"])
