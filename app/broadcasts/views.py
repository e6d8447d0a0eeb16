"""Admin pages of broadcasts: the list, one broadcast, and its actions (duplicate, cancel, delete)."""
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from ..core.extensions import db
from ..core.hooks import apply_filters
from ..core.inputs import query_cursor, unknown_choices
from ..core.submissions import AlreadySubmitted, once
from ..network.models import Customer, Product
from . import drafts
from .forms import ActionForm
from .listing import ListFilters, all_labels, list_broadcasts, run_counters
from .models import KINDS, STATUSES, Broadcast, BroadcastTarget
from .sending import SendError, cancel, unschedule
from .steps import BROADCAST_WIZARD, preview
from .when import mode_of

bp = Blueprint("broadcasts", __name__, url_prefix="/network/broadcasts")


def get_broadcast(broadcast_id) -> Broadcast:
    """The broadcast or 404."""
    return db.session.get(Broadcast, broadcast_id) or abort(404)


@bp.route("/")
def index():
    """All broadcasts, newest first, filtered by kind, status and label, searchable by subject."""
    filters, problems = ListFilters.from_args(request.args), unknown_choices({"kind": KINDS, "status": STATUSES})
    page = list_broadcasts(filters, query_cursor("after"), query_cursor("before"))
    return render_template("broadcasts/list.html", page=page, filters=filters, kinds=KINDS,
                           statuses=STATUSES, labels=all_labels(), problems=problems,
                           counters=run_counters([b.id for b in page.items])), 400 if problems else 200


@bp.route("/new", methods=["GET", "POST"])
def new():
    """Step 1 of the wizard before a draft exists; choosing a kind creates the draft."""
    return BROADCAST_WIZARD.start(lambda form: drafts.create_draft(current_user._get_current_object()))


@bp.route("/<int:broadcast_id>/edit/<step>", methods=["GET", "POST"])
def wizard_step(broadcast_id, step):
    """One step of the wizard for a draft."""
    return BROADCAST_WIZARD.handle(get_broadcast(broadcast_id), step)


@bp.route("/<int:broadcast_id>/edit")
def resume(broadcast_id):
    """Resume a draft at the furthest step it reached."""
    broadcast = get_broadcast(broadcast_id)
    return redirect(BROADCAST_WIZARD.url(broadcast, broadcast.wizard_step))


@bp.route("/<int:broadcast_id>")
def detail(broadcast_id):
    """Everything about one broadcast: settings, audience, content, runs, and report panels."""
    broadcast = get_broadcast(broadcast_id)
    customers = db.session.scalars(
        select(Customer).join(BroadcastTarget, BroadcastTarget.customer_id == Customer.id)
        .where(BroadcastTarget.broadcast_id == broadcast.id).order_by(Customer.id).limit(50)).all()
    products = db.session.scalars(
        select(Product).join(BroadcastTarget, BroadcastTarget.product_id == Product.id)
        .where(BroadcastTarget.broadcast_id == broadcast.id).order_by(Product.name)).all()
    return render_template("broadcasts/detail.html", broadcast=broadcast, customers=customers,
                           customer_total=len(broadcast.customer_ids), products=products,
                           runs=broadcast.runs.limit(100).all(), mode=mode_of(broadcast),
                           panels=apply_filters("broadcast_detail_panels", [], broadcast),
                           form=ActionForm(), **preview(broadcast, None))


def _checked_post():
    if not ActionForm().validate_on_submit():
        abort(400, "The form expired; reload the page and try again.")


@bp.route("/<int:broadcast_id>/duplicate", methods=["POST"])
def duplicate(broadcast_id):
    """Copy a broadcast into a new draft and open its review."""
    _checked_post()
    try:
        with once(request.form) as submission:
            copy = drafts.duplicate(get_broadcast(broadcast_id), current_user._get_current_object())
            db.session.commit()
            submission.result(BROADCAST_WIZARD.url(copy, "review"))
    except AlreadySubmitted as seen:
        flash("This form was already sent: the broadcast is copied once.", "info")
        return redirect(seen.url or url_for(".detail", broadcast_id=broadcast_id))
    flash(f"Copied into draft #{copy.id}.", "success")
    return redirect(BROADCAST_WIZARD.url(copy, "review"))


@bp.route("/<int:broadcast_id>/<any(cancel, unschedule):action>", methods=["POST"])
def change_status(broadcast_id, action):
    """Cancel a broadcast, or turn a schedule back into a draft."""
    _checked_post()
    broadcast = get_broadcast(broadcast_id)
    try:
        if action == "cancel":
            cancel(broadcast)
            flash("The broadcast is cancelled.", "success")
        else:
            unschedule(broadcast)
            flash("The schedule is removed; the broadcast is a draft again.", "success")
        db.session.commit()
    except SendError as error:
        db.session.rollback()
        flash(str(error), "error")
    return redirect(url_for("broadcasts.detail", broadcast_id=broadcast_id))


@bp.route("/<int:broadcast_id>/delete", methods=["POST"])
def delete(broadcast_id):
    """Delete a draft."""
    _checked_post()
    try:
        drafts.delete_draft(get_broadcast(broadcast_id))
    except drafts.NotADraft as error:
        flash(str(error), "error")
        return redirect(url_for("broadcasts.detail", broadcast_id=broadcast_id))
    db.session.commit()
    flash("The draft is deleted.", "success")
    return redirect(url_for("broadcasts.index"))
