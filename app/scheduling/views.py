"""Schedule pages: live planning preview, editing a schedule, pause/resume/end."""
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from ..broadcasts.models import Broadcast
from ..extensions import db
from ..settings.services import get_option
from ..utils import utcnow
from .calendar import month_calendars
from .forms import ScheduleForm
from .rules import RuleError, preview
from .services import ScheduleError, change_state, save_schedule

bp = Blueprint("scheduling", __name__, url_prefix="/network/scheduling")


def network_timezone() -> str:
    """The network's default time zone (a setting)."""
    return get_option("scheduling.default_timezone") or "UTC"


def preview_context(form: ScheduleForm) -> dict:
    """Upcoming occurrences and calendars for ``form``, or the error that prevents them."""
    try:
        spec = form.to_spec()
        if spec is None:
            return {"asap": True}
        upcoming = preview(spec, utcnow())
    except RuleError as error:
        return {"error": str(error)}
    return {"occurrences": upcoming, "months": month_calendars(upcoming), "timezone": spec.timezone}


@bp.route("/preview")
def live_preview():
    """The planning preview as an HTML fragment (the When step refreshes it as you type)."""
    form = ScheduleForm(request.args, meta={"csrf": False}, default_timezone=network_timezone())
    return render_template("scheduling/_preview.html", **preview_context(form))


def _broadcast(broadcast_id):
    return db.session.get(Broadcast, broadcast_id) or abort(404)


@bp.route("/broadcasts/<int:broadcast_id>", methods=["GET", "POST"])
def edit(broadcast_id):
    """Edit a broadcast's schedule; future occurrences follow the new rule."""
    broadcast = _broadcast(broadcast_id)
    form = ScheduleForm(default_timezone=network_timezone())
    if request.method == "GET" and broadcast.schedule is not None:
        form.load(broadcast.schedule)
    if form.validate_on_submit():
        try:
            spec = form.to_spec()
            if spec is None:
                raise RuleError("Choose when the broadcast should go out.", "when")
            save_schedule(broadcast, spec)
            broadcast.status = "scheduled"
            db.session.commit()
            flash("Schedule saved. Future sends follow the new rule.", "success")
            return redirect(url_for("scheduling.edit", broadcast_id=broadcast.id))
        except RuleError as error:
            db.session.rollback()
            form.add_rule_error(error)
    return render_template("scheduling/edit.html", broadcast=broadcast, form=form,
                           **preview_context(form)), (400 if form.errors else 200)


@bp.route("/broadcasts/<int:broadcast_id>/<any(pause, resume, end):action>", methods=["POST"])
def change(broadcast_id, action):
    """Pause, resume or end a broadcast's schedule."""
    broadcast = _broadcast(broadcast_id)
    try:
        change_state(broadcast, action)
        db.session.commit()
        flash({"pause": "Schedule paused.", "resume": "Schedule resumed.",
               "end": "Schedule ended."}[action], "success")
    except ScheduleError as error:
        flash(str(error), "error")
    target = request.form.get("next", "")
    return redirect(target if target.startswith("/network/") else
                    url_for("scheduling.edit", broadcast_id=broadcast.id))
