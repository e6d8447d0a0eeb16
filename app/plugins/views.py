"""The Plugins page: every plugin with its metadata, state, errors and Activate/Deactivate."""
from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_wtf import FlaskForm

from .services import PluginError, UnknownPlugin, activate, deactivate, plugin_rows

bp = Blueprint("plugins", __name__, url_prefix="/network/plugins")


@bp.route("/")
def index():
    """List plugins."""
    return render_template("plugins/index.html", rows=plugin_rows(), form=FlaskForm())


@bp.route("/<slug>/<any(activate, deactivate):action>", methods=["POST"])
def change(slug, action):
    """Activate or deactivate one plugin."""
    if not FlaskForm().validate_on_submit():
        abort(400)
    try:
        if action == "activate":
            activate(slug)
            flash(f"Plugin {slug} activated.", "success")
        else:
            deactivate(slug)
            flash(f"Plugin {slug} deactivated.", "success")
    except UnknownPlugin as error:
        abort(404, str(error))
    except PluginError as error:
        flash(str(error), "error")
    return redirect(url_for("plugins.index"))
