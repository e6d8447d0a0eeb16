"""The Plugins page (never runs plugin code), uninstall, each plugin's settings and static files."""
from flask import Blueprint, abort, flash, redirect, render_template, request, send_from_directory, url_for
from flask_wtf import FlaskForm

from ..core.extensions import db
from ..core.settings.views import settings_form
from .host import PLUGIN_FREE
from .lifecycle import orphan_message, uninstall, uninstall_plan
from .schema import orphan_revisions
from .services import (
    PluginError,
    UnknownPlugin,
    activate,
    clear_faults as forget_faults,
    deactivate,
    plugin_host,
    plugin_info,
)
from .status import plugin_rows

bp = Blueprint("plugins", __name__, url_prefix="/network/plugins")
static_bp = Blueprint("plugins_static", __name__)


@bp.before_request
def without_plugin_code():
    """These pages must open whatever a plugin does: no plugin callback runs on them (the
    admin menu shows the core's entries only)."""
    request.environ[PLUGIN_FREE] = True


def _checked_form() -> FlaskForm:
    form = FlaskForm()
    if not form.validate_on_submit():
        abort(400, "The form expired or was sent from elsewhere. Reload the page and try again.")
    return form


def _known(slug):
    try:
        return plugin_info(slug)
    except UnknownPlugin as error:
        abort(404, str(error))


@bp.route("/")
def index():
    """Every plugin with its state, faults and problems, and what can be done with it."""
    return render_template("plugins/index.html", rows=plugin_rows(), form=FlaskForm(),
                           orphans=[orphan_message(revision) for revision in orphan_revisions()])


@bp.route("/<slug>/<any(activate, deactivate):action>", methods=["POST"])
def change(slug, action):
    """Activate (or resume) or deactivate one plugin."""
    _checked_form()
    _known(slug)
    try:
        if action == "activate":
            activate(slug)
            flash(f"Plugin {slug} activated.", "success")
        else:
            warning = deactivate(slug)
            flash(warning or f"Plugin {slug} deactivated.", "warning" if warning else "success")
    except PluginError as error:
        flash(str(error), "error")
    return redirect(url_for("plugins.index"))


@bp.route("/<slug>/clear-faults", methods=["POST"])
def clear_faults(slug):
    """Forget a plugin's recorded faults (and lift a recovery-mode suspension)."""
    _checked_form()
    _known(slug)
    forget_faults(slug)
    db.session.commit()
    flash(f"The faults of {slug} are cleared.", "success")
    return redirect(url_for("plugins.index"))


@bp.route("/<slug>/uninstall", methods=["GET", "POST"])
def uninstall_page(slug):
    """What uninstalling removes; a confirmed POST uninstalls the plugin."""
    _known(slug)
    try:
        plan = uninstall_plan(slug)
    except PluginError as error:
        flash(str(error), "error")
        return redirect(url_for("plugins.index"))
    error = None
    if request.method == "POST":
        _checked_form()
        if request.form.get("confirm") != "yes":
            error = "Tick the box to confirm that this data is deleted."
        else:
            try:
                uninstall(slug)
            except PluginError as failure:
                flash(str(failure), "error")
                return redirect(url_for("plugins.index"))
            flash(f"{plan.info.name} is uninstalled. You can now delete its folder (or pip "
                  "uninstall its package) and restart the web processes and workers.", "success")
            return redirect(url_for("plugins.index"))
    return render_template("plugins/uninstall.html", plan=plan, form=FlaskForm(), error=error), \
        (400 if error else 200)


@bp.route("/<slug>/settings", methods=["GET", "POST"])
def settings(slug):
    """The plugin's settings as a form generated from their declared types."""
    info = _known(slug)
    specs = plugin_host().settings.owned_by(slug)
    if not specs:
        abort(404, f"{info.name} has no settings.")
    return settings_form(specs, "plugins/settings.html", info=info)


@static_bp.route("/plugins/<slug>/static/<path:filename>")
def file(slug, filename):
    """A file of an active plugin's static/ folder (public: customer pages use them too)."""
    host = plugin_host()
    info = host.plugins.get(slug)
    if info is None or info.static_dir is None or not host.is_active(slug):
        abort(404)
    return send_from_directory(info.static_dir, filename)
