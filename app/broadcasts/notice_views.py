"""Customer side of notices: dismissing one (a POST form, enhanced with fetch)."""
from flask import Blueprint, abort, flash, jsonify, redirect, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm

from ..core.extensions import db
from ..network.services import current_customer
from .notices import CannotDismiss, dismiss

bp = Blueprint("notices", __name__, url_prefix="/dashboard/notices")


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json"


@bp.route("/<int:run_id>/dismiss", methods=["POST"])
def dismiss_notice(run_id):
    """Hide a notice run for the logged-in customer; JSON for fetch, a redirect otherwise."""
    if not FlaskForm().validate_on_submit():
        abort(400, "The form expired; reload the page and try again.")
    customer = current_customer() or abort(404)
    try:
        dismiss(customer, current_user._get_current_object(), run_id)
    except CannotDismiss as error:
        db.session.rollback()
        if _wants_json():
            return jsonify(error=str(error)), 404
        abort(404, str(error))
    db.session.commit()
    if _wants_json():
        return jsonify(dismissed=run_id)
    flash("Notice dismissed.", "info")
    return redirect(url_for("dashboard.index"))
