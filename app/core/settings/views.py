"""The Settings page: every declared setting, grouped by owner, saved as Options."""
from itertools import groupby

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm

from ..extensions import db
from ..hooks import do_action
from .services import coerce, get_option, registry, set_option

bp = Blueprint("settings", __name__, url_prefix="/network/settings")


@bp.route("/", methods=["GET", "POST"])
def index():
    """Show and save the network's settings."""
    specs = sorted(registry().specs.values(), key=lambda s: (s.owner != "core", s.owner, s.key))
    form = FlaskForm()
    errors = {}
    if request.method == "POST" and form.validate_on_submit():
        values = {}
        for spec in specs:
            if spec.key not in request.form:  # a partial form (or a newer setting) keeps its value
                continue
            try:
                values[spec.key] = coerce(spec, request.form.get(spec.key, ""))
            except ValueError as error:
                errors[spec.key] = str(error)
        if not errors:
            changes = {key: (get_option(key), value) for key, value in values.items()
                       if get_option(key) != value}
            for key, value in values.items():
                set_option(key, value)
            do_action("settings_saved", changes)
            db.session.commit()
            flash("Settings saved.", "success")
            return redirect(url_for("settings.index"))
    shown = (lambda s: request.form.get(s.key, get_option(s.key))) if errors else (lambda s: get_option(s.key))
    groups = [(owner, [(s, shown(s)) for s in items])
              for owner, items in groupby(specs, key=lambda s: s.owner)]
    return render_template("settings/index.html", form=form, groups=groups, errors=errors), \
        (400 if errors else 200)
