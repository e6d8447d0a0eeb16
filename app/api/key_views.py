"""API keys on the admin's profile page: the list, issuing a key (shown once) and revoking one."""
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from markupsafe import Markup
from wtforms import StringField
from wtforms.validators import Length

from ..auth.profile import render_profile
from ..core.extensions import db
from ..core.submissions import AlreadySubmitted, once
from .keys import ApiKeyError, issue_key, keys_of, revoke
from .models import ApiKey

bp = Blueprint("api_keys", __name__, url_prefix="/network/profile/api-keys")


class NewKeyForm(FlaskForm):
    """A name for a new key."""
    name = StringField("Name of the new key", validators=[Length(max=100)],
                       description="Say where it is used, e.g. deploy script.")


def api_keys_panel(panels, user):
    """``admin_profile_panels`` filter: the user's API keys and the form for a new one."""
    html = render_template("api/keys_panel.html", keys=keys_of(user), form=NewKeyForm(),
                           revoke_form=FlaskForm())
    return [*panels, ("API keys", Markup(html))]


@bp.route("", methods=["POST"])
def create():
    """Issue a key and show its secret once, in this response (never stored or redirected).

    Once per rendered form (``core.submissions``): a double click or a resent POST issued a second
    live key whose secret only the discarded first answer showed. The repeat issues nothing and
    says so; the one key's secret cannot be shown again (it is stored hashed)."""
    form = NewKeyForm()
    if not form.validate_on_submit():
        abort(400, "; ".join(e for errors in form.errors.values() for e in errors))
    try:
        with once(request.form) as submission:
            key, secret = issue_key(current_user._get_current_object(), form.name.data)
            db.session.commit()
            submission.result(url_for("auth.profile"))
    except AlreadySubmitted:
        return render_profile(message=Markup(render_template("api/key_already_created.html")))
    except ApiKeyError as error:
        db.session.rollback()
        abort(403, str(error))
    message = Markup(render_template("api/new_key.html", key=key, secret=secret))
    return render_profile(status=201, message=message)


@bp.route("/<int:key_id>/revoke", methods=["POST"])
def revoke_key(key_id):
    """Revoke one of the user's own keys."""
    if not FlaskForm().validate_on_submit():
        abort(400, "The form expired; reload the page and try again.")
    key = db.session.get(ApiKey, key_id)
    if key is None or key.user_id != current_user.id:
        abort(404)
    revoke(key)
    db.session.commit()
    flash(f"API key “{key.name}” ({key.prefix}…) is revoked.", "success")
    return redirect(url_for("auth.profile"))
