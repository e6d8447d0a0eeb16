"""The run report pages under /network/broadcasts/<id>/runs: progress, counts, exclusions,
the per-recipient log, duplicates, CSV export, pause/resume/cancel and resend-unknown (confirmed)."""
from functools import partial

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from markupsafe import Markup
from sqlalchemy import select

from ..broadcasts.models import Broadcast, BroadcastRun
from ..core.csv_export import csv_response
from ..core.extensions import db
from ..core.hooks import apply_filters
from ..core.inputs import digits, query_cursor, unknown_choices
from . import progress
from .models import EXCLUSION_REASONS, STATUSES
from .report import csv_lines, delivery_log, duplicates_page
from .services import ACTIONS, RunStateError, UnknownCountChanged, resend_question, run_action

bp = Blueprint("delivery", __name__, url_prefix="/network/broadcasts")


def _run_or_404(broadcast_id, run_id) -> BroadcastRun:
    run = db.session.get(BroadcastRun, run_id)
    if run is None or run.broadcast_id != broadcast_id:
        abort(404)
    return run


@bp.route("/<int:broadcast_id>/runs")
def runs(broadcast_id):
    """Every run (send) of a broadcast, newest first."""
    broadcast = db.session.get(Broadcast, broadcast_id) or abort(404)
    items = db.session.scalars(select(BroadcastRun).where(BroadcastRun.broadcast_id == broadcast_id)
                               .order_by(BroadcastRun.id.desc()).limit(200)).all()
    return render_template("delivery/runs.html", broadcast=broadcast, runs=items)


@bp.route("/<int:broadcast_id>/runs/<int:run_id>")
def run(broadcast_id, run_id):
    """A run's report: live progress, counts by status, exclusions and the recipient log."""
    item = _run_or_404(broadcast_id, run_id)
    q, problems = request.args.get("q", "").strip(), unknown_choices({"status": STATUSES})
    status = "" if problems else request.args.get("status", "")
    page = delivery_log(run_id, q, status, after=query_cursor("after"), before=query_cursor("before"))
    return render_template("delivery/run.html", run=item, broadcast=item.broadcast,
                           panels=apply_filters("delivery_run_panels", [], item),
                           snapshot=progress.snapshot(item), excluded=progress.exclusion_counts(run_id),
                           reasons=EXCLUSION_REASONS, statuses=STATUSES, page=page, q=q,
                           status=status, problems=problems), 400 if problems else 200


@bp.route("/<int:broadcast_id>/runs/<int:run_id>/duplicates")
def duplicates(broadcast_id, run_id):
    """Customers left out because a customer with a lower id shares their address."""
    item = _run_or_404(broadcast_id, run_id)
    rows, next_after = duplicates_page(run_id, after=query_cursor("after"))
    return render_template("delivery/duplicates.html", run=item, broadcast=item.broadcast,
                           rows=rows, next_after=next_after)


@bp.route("/<int:broadcast_id>/runs/<int:run_id>/export.csv")
def export(broadcast_id, run_id):
    """The run's ledger (as filtered on the page) as CSV, streamed."""
    _run_or_404(broadcast_id, run_id)
    problems = unknown_choices({"status": STATUSES})
    if problems:  # an export of every row under a filter's name misleads
        abort(400, problems["status"])
    lines = partial(csv_lines, run_id, request.args.get("q", ""), request.args.get("status", ""))
    return csv_response(lines, f"broadcast-{broadcast_id}-run-{run_id}.csv")


def _checked_form() -> FlaskForm:
    form = FlaskForm()
    if not form.validate_on_submit():
        abort(400)
    return form


def _back(broadcast_id, run_id):
    return redirect(url_for("delivery.run", broadcast_id=broadcast_id, run_id=run_id))


@bp.route("/<int:broadcast_id>/runs/<int:run_id>/<action>", methods=["POST"])
def control(broadcast_id, run_id, action):
    """Pause, resume or cancel (a form POST with CSRF token); resend-unknown has its own page."""
    _run_or_404(broadcast_id, run_id)
    if action not in ACTIONS:
        abort(404)
    _checked_form()
    try:
        message = run_action(run_id, action)
        db.session.commit()
        flash(message, "success")
    except RunStateError as error:
        db.session.rollback()
        flash(str(error), "error")
    return _back(broadcast_id, run_id)


@bp.route("/<int:broadcast_id>/runs/<int:run_id>/resend-unknown", methods=["GET", "POST"])
def resend_unknown(broadcast_id, run_id):
    """GET, or a POST without ``expected``: how many recipients have an unknown outcome and why,
    with a form to confirm. A POST (CSRF) whose ``expected`` is that number queues them again;
    when the number changed meanwhile the page shows the new one (409) and resends nothing."""
    item = _run_or_404(broadcast_id, run_id)
    error = None
    if request.method == "POST":
        _checked_form()
        expected = digits(request.form.get("expected", ""))
        if expected is not None:
            try:
                message = run_action(run_id, "resend-unknown", expected)
                db.session.commit()
                flash(message, "success")
                return _back(broadcast_id, run_id)
            except UnknownCountChanged as changed:
                db.session.rollback()
                error = str(changed)
            except RunStateError as refused:
                db.session.rollback()
                flash(str(refused), "error")
                return _back(broadcast_id, run_id)
    reasons = progress.unknown_reasons(run_id)
    count = sum(reasons.values())
    if not count and error is None:
        flash(f"Run {run_id} has no recipient with an unknown outcome.", "info")
        return _back(broadcast_id, run_id)
    return render_template("delivery/resend_unknown.html", run=item, broadcast=item.broadcast,
                           form=FlaskForm(), count=count, reasons=reasons, error=error,
                           question=resend_question(count)), 409 if error else 200


def active_runs_panel(panels):
    """``network_dashboard_panels`` filter: the runs sending or paused, linked to their reports."""
    runs = db.session.scalars(select(BroadcastRun).where(BroadcastRun.status.in_(("sending", "paused")))
                              .order_by(BroadcastRun.id.desc()).limit(10)).all()
    if not runs:
        return panels
    html = Markup(render_template("delivery/dashboard_panel.html", runs=runs))
    return [*panels, ("Broadcasts being sent", html)]
