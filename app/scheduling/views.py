"""Schedule pages: live planning preview, editing a live schedule, pause/resume/end."""
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from ..broadcasts.models import Broadcast
from ..core.extensions import db
from ..core.utils import utcnow
from .calendar import month_calendars
from .describe import notes_for
from .forms import ScheduleForm, field_of, spec_from_form
from .rules import RuleError, preview
from .services import ScheduleError, change_state, save_schedule

bp = Blueprint("scheduling", __name__, url_prefix="/network/scheduling")
FLASHES = {"pause": "Schedule paused.", "resume": "Schedule resumed.", "end": "Schedule ended."}


def preview_context(form) -> dict:
    """Upcoming occurrences, calendars and notes (months skipped or shifted) for a schedule
    form, or the error that prevents them; never raises (expansion is bounded, see ``bounds``)."""
    try:
        spec = spec_from_form(form)
        if spec is None:
            return {"asap": True}
        upcoming = preview(spec, utcnow())
    except RuleError as error:
        return {"error": str(error)}
    return {"occurrences": upcoming, "months": month_calendars(upcoming), "timezone": spec.timezone,
            "notes": notes_for(spec)}


@bp.route("/preview")
def live_preview():
    """The planning preview as an HTML fragment (the When step refreshes it as you type)."""
    form = ScheduleForm(request.args, meta={"csrf": False})
    return render_template("scheduling/_preview.html", **preview_context(form))


def _broadcast(broadcast_id):
    broadcast = db.session.get(Broadcast, broadcast_id) or abort(404)
    if broadcast.schedule is None or broadcast.schedule.status == "draft":
        abort(404, "This broadcast has no live schedule; edit its draft in the wizard.")
    return broadcast


@bp.route("/broadcasts/<int:broadcast_id>", methods=["GET", "POST"])
def edit(broadcast_id):
    """Edit a live schedule; future occurrences follow the new rule."""
    broadcast = _broadcast(broadcast_id)
    form = ScheduleForm()
    if request.method == "GET":
        form.load(broadcast.schedule)
    elif form.validate_on_submit() and "preview" not in request.form:
        try:
            save_schedule(broadcast, spec_from_form(form), status=broadcast.schedule.status)
            db.session.commit()
            flash("Schedule saved. Future sends follow the new rule.", "success")
            return redirect(url_for("broadcasts.detail", broadcast_id=broadcast.id))
        except RuleError as error:
            db.session.rollback()
            getattr(form, field_of(error), form.schedule).errors.append(str(error))
    return render_template("scheduling/edit.html", broadcast=broadcast, form=form), \
        (400 if form.errors else 200)


@bp.route("/broadcasts/<int:broadcast_id>/<any(pause, resume, end):action>", methods=["POST"])
def change(broadcast_id, action):
    """Pause, resume or end a broadcast's schedule."""
    broadcast = _broadcast(broadcast_id)
    try:
        change_state(broadcast, action)
        db.session.commit()
        flash(FLASHES[action], "success")
    except ScheduleError as error:
        flash(str(error), "error")
    return redirect(url_for("broadcasts.detail", broadcast_id=broadcast.id))
