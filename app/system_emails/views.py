"""Admin pages: the list, the editor with live preview and test sends, diff, log, Reset & Import, events."""
from flask import (
    Blueprint,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy import select

from ..core.errors import json_errors
from ..core.extensions import db
from ..core.headers import mail_frame_url
from ..core.inputs import query_cursor, unknown_choices
from ..core.submissions import AlreadySubmitted, once
from ..core.utils import keyset_page
from ..network.services import find_customer
from . import services
from .forms import EmailEditorForm, FireEventForm, SelectionForm
from .message import preview_document
from .models import SEND_STATUSES, SystemEmail, SystemEmailSend
from .registry import available_events, registry

bp = Blueprint("system_emails", __name__, url_prefix="/network/system-emails")


def _email(email_id) -> SystemEmail:
    return db.session.get(SystemEmail, email_id) or abort(404)


@bp.route("/")
def index():
    """Installed e-mails by event, with state badges, counts and last send."""
    return render_template("system_emails/index.html", states=services.installed_states(),
                           events=registry().events, importable=len(services.importable_defaults()))


@bp.route("/<int:email_id>", methods=["GET", "POST"])
def edit(email_id):
    """Edit one e-mail; the same form previews (no JavaScript) and sends a test of unsaved edits."""
    email = _email(email_id)
    form = EmailEditorForm(obj=email)
    action = request.form.get("action", "save")
    status = 200
    if form.validate_on_submit():
        try:
            if action == "test":  # once per rendered form: a double click sends one test
                with once(request.form) as submission:
                    services.send_test(email, form.test_address.data or "", form.subject.data,
                                       form.body.data, form.style.data)
                    db.session.commit()
                    submission.result(url_for(".edit", email_id=email.id))
                flash(f"A test was queued for {form.test_address.data}.", "success")
            elif action == "save":
                services.update_email(email, form.changes())
                db.session.commit()
                flash(f"{email.name} saved.", "success")
                return redirect(url_for(".edit", email_id=email.id))
        except AlreadySubmitted:  # the page again, edits kept, no second test
            flash("This test was already sent: it was queued once.", "info")
        except services.ValidationFailed as failure:
            db.session.rollback()
            form.add_errors(failure.errors)
    if form.errors:
        status = 400
    return render_template("system_emails/edit.html", email=email, form=form, **_editor_context(email, form)), status


def _editor_context(email, form) -> dict:
    spec = registry().events.get(email.event)
    shown = services.preview(email, form.subject.data or "", form.body.data or "", form.style.data)
    recent = db.session.scalars(select(SystemEmailSend).where(SystemEmailSend.email_id == email.id)
                                .order_by(SystemEmailSend.id.desc()).limit(5)).all()
    return {"state": services.email_state(email), "spec": spec, "recent": recent, "shown": shown,
            "sample": spec.sample_payload() if spec else {},
            "document": preview_document(shown["subject"], shown["body"], shown["style"])}


@bp.route("/<int:email_id>/preview", methods=["POST"])
@json_errors
def preview(email_id):
    """The preview of submitted (unsaved) content as JSON, for the editor's live preview."""
    email = _email(email_id)
    form = request.form
    style = form.get("style") if form.get("style") in ("html", "plain") else email.style
    shown = services.preview(email, form.get("subject", ""), form.get("body", ""), style)
    document = preview_document(shown["subject"], shown["body"], style)
    return jsonify(subject=shown["subject"], errors=shown["errors"], document=document,
                   frame_url=mail_frame_url(document))


@bp.route("/<int:email_id>/diff")
def diff(email_id):
    """The installed e-mail against its registered default."""
    email = _email(email_id)
    return render_template("system_emails/diff.html", email=email, state=services.email_state(email),
                           lines=services.diff_against_default(email))


@bp.route("/<int:email_id>/log")
def log(email_id):
    """Every send of this e-mail, newest first, paginated by id."""
    email = _email(email_id)
    query = select(SystemEmailSend).where(SystemEmailSend.email_id == email.id)
    problems = unknown_choices({"status": SEND_STATUSES})
    status = "" if problems else request.args.get("status", "")
    if status:
        query = query.where(SystemEmailSend.status == status)
    after, before = query_cursor("after"), query_cursor("before")
    page = keyset_page(query, SystemEmailSend.id, after, before)
    return render_template("system_emails/log.html", email=email, page=page, status=status,
                           statuses=SEND_STATUSES, problems=problems), 400 if problems else 200


@bp.route("/<int:email_id>/delete", methods=["GET", "POST"])
def delete(email_id):
    """Ask first (statistics and log are lost), then delete."""
    email = _email(email_id)
    form = SelectionForm()
    if form.validate_on_submit():
        services.delete_email(email)
        db.session.commit()
        flash(f"{email.name} was deleted with its statistics and log.", "success")
        return redirect(url_for(".index"))
    return render_template("system_emails/delete.html", email=email, form=form)


@bp.route("/reset-import", methods=["GET", "POST"])
def reset_import():
    """Import registered defaults not installed; reset installed e-mails that differ from theirs."""
    form = SelectionForm()
    status = 200
    if form.validate_on_submit():
        slugs = request.form.getlist("slug")
        action = request.form.get("action")
        try:
            if action not in ("import", "reset"):
                raise services.ServiceError("Choose Import selected or Reset selected.")
            if not slugs:
                raise services.ServiceError("Choose at least one e-mail first.")
            done = (services.import_defaults if action == "import" else services.reset_emails)(slugs)
            db.session.commit()
            verb = "Imported" if action == "import" else "Reset"
            flash(f"{verb}: {', '.join(e.name for e in done)}.", "success")
            return redirect(url_for(".reset_import"))
        except services.ServiceError as error:  # an unknown slug or action, nothing chosen: said, with a 400
            db.session.rollback()
            flash(str(error), "error")
            status = 400
    return render_template("system_emails/reset_import.html", form=form,
                           importable=services.importable_defaults(),
                           resettable=services.resettable_states(), events=registry().events), status


@bp.route("/events", methods=["GET"])
def events():
    """Registered events with their placeholders, and a form to fire each by hand."""
    return render_template("system_emails/events.html", events=available_events(), form=FireEventForm())


@bp.route("/events/<slug>/fire", methods=["POST"])
def fire(slug):
    """Fire an event for a chosen customer with its sample data; its active e-mails really go."""
    form = FireEventForm()
    if not form.validate_on_submit():
        flash("Enter a customer number or e-mail address.", "error")
        return redirect(url_for(".events"))
    customer = find_customer(form.customer.data)
    try:
        if customer is None:
            raise services.ServiceError(f"No customer {form.customer.data!r}.")
        with once(request.form) as submission:  # a double click sends the e-mails once
            sends = services.fire_event_by_hand(slug, customer)
            db.session.commit()
            submission.result(url_for(".events"))
    except services.ServiceError as error:
        flash(str(error), "error")
        return redirect(url_for(".events"))
    except AlreadySubmitted as seen:
        flash("This form was already sent: the event was fired once.", "info")
        return redirect(seen.url or url_for(".events"))
    queued = sum(1 for s in sends if s.status == "queued")
    flash(f"Fired {slug} for {customer.email}: {queued} message(s) queued, "
          f"{len(sends) - queued} skipped or failed (see each e-mail's log).", "success")
    return redirect(url_for(".events"))
