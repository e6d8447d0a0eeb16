"""Public tracking routes (unsubscribe, open pixel, click redirect) and the customer's e-mail
preferences page.

``/u/<token>`` is the only CSRF-exempt route of the domain besides the signed webhook: GET shows a
confirmation, POST (the page's button, or an RFC 8058 one-click POST from the mail client with
body ``List-Unsubscribe=One-Click``) unsubscribes at once with no login. The signed token is the
proof; a tampered one gets 404.
"""
import base64

from flask import (
    Blueprint,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from flask_wtf import FlaskForm

from ..core.extensions import db
from ..mail.tokens import read_token
from ..network.services import current_customer
from .engagement import record_click, record_open
from .links import read_click_token, read_open_token
from .services import LINK_REASONS, SELF_SERVICE_REASONS, resubscribe, suppression_for, unsubscribe

bp = Blueprint("tracking", __name__)
preferences_bp = Blueprint("preferences", __name__, url_prefix="/dashboard")
PIXEL_GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
NO_STORE = {"Cache-Control": "no-store, no-cache, must-revalidate, private", "Pragma": "no-cache"}


def _unsubscribe_payload(token):
    payload = read_token("unsubscribe", token)
    if (isinstance(payload, list) and len(payload) == 2 and isinstance(payload[0], str)
            and "@" in payload[0] and (payload[1] is None or isinstance(payload[1], int))):
        return payload[0], payload[1]
    abort(404)


def _is_one_click() -> bool:
    return request.form.get("List-Unsubscribe") == "One-Click"


@bp.route("/u/<token>", methods=["GET", "POST"])
def unsubscribe_link(token):
    """GET: confirm; POST: unsubscribe now (no login, no CSRF token: the signed token is the proof)."""
    email, run_id = _unsubscribe_payload(token)
    if request.method == "POST":
        one_click = _is_one_click()
        unsubscribe(email, run_id, "one-click" if one_click else "link")
        db.session.commit()
        if one_click:
            return make_response("Unsubscribed.\n", 200, {"Content-Type": "text/plain; charset=utf-8", **NO_STORE})
        reason = getattr(suppression_for(email), "reason", None)
        return render_template("tracking/unsubscribed.html", email=email, token=token,
                               can_resubscribe=reason in LINK_REASONS), 200, NO_STORE
    suppression = suppression_for(email)
    return render_template("tracking/unsubscribe.html", email=email, token=token,
                           suppression=suppression), 200, NO_STORE


@bp.route("/u/<token>/resubscribe", methods=["POST"])
def resubscribe_link(token):
    """Undo an unsubscribe from the confirmation page (CSRF-protected like every other form).
    Only an unsubscribe: a spam complaint is lifted from the customer's dashboard or by an admin,
    never by whoever holds a link from a mail."""
    email, _ = _unsubscribe_payload(token)
    if not FlaskForm().validate_on_submit():
        abort(400)
    previous = resubscribe(email, "link", allowed=LINK_REASONS)
    db.session.commit()
    return render_template("tracking/unsubscribed.html", email=email, token=token,
                           resubscribed=previous is not None, can_resubscribe=False), 200, NO_STORE


@bp.route("/t/o/<token>.gif")
def open_pixel(token):
    """Count an open and answer a transparent 1x1 GIF."""
    payload = read_open_token(token) or abort(404)
    if request.method != "HEAD":  # link checkers probe with HEAD; people's mail clients GET
        record_open(*payload)
        db.session.commit()
    return make_response(PIXEL_GIF, 200, {"Content-Type": "image/gif", **NO_STORE})


@bp.route("/t/c/<link>")
@bp.route("/t/c/<link>/<recipient>")
def click(link, recipient=None):
    """Count a click and redirect to the URL signed into the link token (nothing else is reachable)."""
    payload = read_click_token(link, recipient) or abort(404)
    if request.method != "HEAD":
        record_click(*payload)
        db.session.commit()
    return redirect(payload[2], 302)


@preferences_bp.route("/preferences", methods=["GET", "POST"])
def preferences():
    """The customer's broadcast subscription: see it, unsubscribe, resubscribe."""

    customer = current_customer()
    email = customer.email if customer is not None else current_user.email
    form = FlaskForm()
    if form.validate_on_submit():
        action = request.form.get("action")
        if action == "unsubscribe":
            unsubscribe(email, None, "dashboard")
            flash("You will no longer get news and announcements by e-mail.", "success")
        elif action == "resubscribe" and resubscribe(email, "dashboard"):
            flash("You are subscribed to news and announcements again.", "success")
        else:
            flash("That change cannot be made here. Please contact support.", "error")
        db.session.commit()
        return redirect(url_for("preferences.preferences"))
    return render_template("tracking/preferences.html", form=form, email=email,
                           suppression=suppression_for(email), self_service=SELF_SERVICE_REASONS)
