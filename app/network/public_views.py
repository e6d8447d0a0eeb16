"""The network's public pages (no login): the link of the 'Confirm e-mail address' e-mail."""
from flask import Blueprint, abort, render_template

from ..core.extensions import db
from .services import confirm_email

bp = Blueprint("network_public", __name__)


@bp.route("/confirm-email/<token>")
def confirm_email_link(token):
    """Mark the customer's address confirmed; 404 for a bad or outdated link."""
    customer = confirm_email(token)
    if customer is None:
        abort(404, "This confirmation link is not valid (it may belong to an old address).")
    db.session.commit()
    return render_template("network/email_confirmed.html", customer=customer)
