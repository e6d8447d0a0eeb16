"""JSON API of the delivery engine: a run's progress and its controls.

Served twice: at /api/v1/delivery/... for scripts, with an API key (``Authorization: Bearer``,
no cookies, so no CSRF token), and at /network/api/v1/delivery/... with the admin session for
the run page's live progress (session POSTs carry the CSRF token in ``X-CSRFToken``).
"""
from flask import Blueprint, jsonify
from werkzeug.exceptions import HTTPException

from ..api.auth import require_api_key
from ..broadcasts.models import BroadcastRun
from ..core.extensions import db
from . import progress
from .reaper import supervise_throttled
from .services import ACTIONS, RunStateError, run_action

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


@bp.route("/runs/<int:run_id>/<action>", methods=["POST"])
def run_control(run_id, action):
    """Pause, resume, cancel or resend-unknown; answers the message and the new progress."""
    if action not in ACTIONS:
        return jsonify(error=f"Unknown action {action!r}; use one of: {', '.join(ACTIONS)}.",
                       status=404), 404
    try:
        message = run_action(run_id, action)
        db.session.commit()
    except LookupError as error:
        db.session.rollback()
        return jsonify(error=str(error), status=404), 404
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
