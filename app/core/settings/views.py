"""The Settings page: every declared setting, grouped by owner, saved as Options."""
from itertools import groupby

from flask import Blueprint, flash, redirect, render_template, request
from flask_wtf import FlaskForm

from ..extensions import db
from ..form_errors import FieldProblem
from ..hooks import do_action
from .services import coerce, get_option, registry, set_option
from .types import TRUE_WORDS

bp = Blueprint("settings", __name__, url_prefix="/network/settings")
CLEAR_SUFFIX = ":clear"  # a secret's "remove the stored value" checkbox


@bp.route("/", methods=["GET", "POST"])
def index():
    """Show and save the network's settings."""
    specs = sorted(registry().specs.values(), key=lambda s: (s.owner != "core", s.owner, s.key))
    return settings_form(specs, "settings/index.html")

SECRET_SHOWN = ("(secret)", "(new secret)")  # what hooks see of a secret setting's values


def settings_form(specs, template, **context):
    """Show ``specs`` as a form and save a valid POST (CSRF checked); a refused value answers
    400 with the form, each error next to its field and nothing saved.

    Used by the Settings page and by each plugin's settings page. ``template`` gets ``form``,
    ``groups`` (owner, [(spec, value)]) and ``errors`` {key: message}, plus ``context``."""
    form = FlaskForm()
    errors = {}
    if request.method == "POST" and form.validate_on_submit():
        values, errors = read_values(specs, request.form)
        if not errors:
            secret = {spec.key for spec in specs if spec.type == "secret"}
            changes = {key: (SECRET_SHOWN if key in secret else (get_option(key), value))
                       for key, value in values.items() if get_option(key) != value}
            for key, value in values.items():
                set_option(key, value)
            do_action("settings_saved", changes)
            db.session.commit()
            flash("Settings saved.", "success")
            return redirect(request.path)

    def shown(spec):
        if spec.type == "secret":
            return bool(get_option(spec.key))  # only whether one is stored, never the value
        if errors and spec.key in request.form:
            raw = submitted(spec, request.form)
            return raw in TRUE_WORDS if spec.type == "bool" else raw
        return get_option(spec.key)

    groups = [(owner, [(s, shown(s)) for s in items])
              for owner, items in groupby(specs, key=lambda s: s.owner)]
    problems = [FieldProblem(spec.label, errors[spec.key], f"f-{spec.key}")
                for spec in specs if spec.key in errors]  # the error summary's links
    return (render_template(template, form=form, groups=groups, errors=errors, field_problems=problems,
                            **context),
            400 if errors else 200)


def submitted(spec, data) -> str:
    """The value a form submitted for ``spec`` (``data``: a MultiDict such as request.form).

    A checkbox comes as a hidden ``0`` followed, when ticked, by ``1`` (browsers submit in
    document order, HTML "constructing the entry list"), so a bool is on when ANY of its values
    says on, in whatever order they came; any other setting takes its last value."""
    values = data.getlist(spec.key)
    if spec.type == "bool":
        return "1" if any(value.strip().lower() in TRUE_WORDS for value in values) else "0"
    return values[-1] if values else ""


def read_values(specs, data) -> tuple[dict, dict]:
    """({key: typed value}, {key: error}) from submitted ``data``.

    A setting missing from ``data`` keeps its value (a partial form, or a newer setting); a
    blank secret keeps the stored one unless its clear box is ticked."""
    values, errors = {}, {}
    for spec in specs:
        if spec.key not in data:
            continue
        raw = submitted(spec, data)
        if spec.type == "secret" and not raw.strip():
            if data.get(spec.key + CLEAR_SUFFIX) or (spec.required and not get_option(spec.key)):
                try:  # clearing, or leaving blank a required secret never stored: refused
                    values[spec.key] = coerce(spec, "")
                except ValueError as error:
                    errors[spec.key] = str(error)
            continue
        try:
            values[spec.key] = coerce(spec, raw)
        except ValueError as error:
            errors[spec.key] = str(error)
    return values, errors
