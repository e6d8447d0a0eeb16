"""The Caught mail pages: the list, one message (HTML in a sandboxed frame), and clearing."""
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    url_for,
)
from flask_wtf import FlaskForm

from ..audit.services import record
from ..core.extensions import db
from ..core.jobs import after_commit
from .store import clear, count, read_message, read_messages

bp = Blueprint("mailcatcher", __name__, url_prefix="/network/caught-mail")


def _directory():
    return current_app.config["MAILCATCHER_DIR"]


@bp.route("/")
def index():
    """The newest caught messages."""
    return render_template("mailcatcher/index.html", messages=read_messages(_directory()),
                           form=FlaskForm())


@bp.route("/<key>")
def show(key):
    """One caught message: headers, HTML part in a sandboxed iframe, text part."""
    message = read_message(_directory(), key) or abort(404)
    return render_template("mailcatcher/show.html", message=message)


@bp.route("/clear", methods=["POST"])
def clear_all():
    """Delete every caught message (recorded in the audit log first, cleared once it commits)."""
    if not FlaskForm().validate_on_submit():
        abort(400)
    record("caught_mail.cleared", ("caught_mail", None, "Caught mail"),
           f"{count(_directory())} message(s) deleted")
    after_commit(clear, _directory())
    db.session.commit()
    flash("Caught mail cleared.", "success")
    return redirect(url_for("mailcatcher.index"))
