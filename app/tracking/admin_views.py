"""The admin's suppression list: search and filters, add, removal with confirmation, CSV import
and export. Super-admin only (everything under /network/ is, centrally)."""
from datetime import datetime
from functools import partial

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from ..audit.services import record
from ..core.csv_export import csv_response
from ..core.extensions import db
from ..core.inputs import unknown_choices
from ..core.utils import normalise_email
from ..mail.suppression import REASONS
from .forms import AddSuppressionForm, ImportSuppressionsForm, RemoveSuppressionForm
from .services import (
    SOURCES,
    remove_suppression,
    suppress,
    suppression_for,
    suppression_page,
    suppression_query,
)
from .suppression_csv import MAX_UPLOAD_LINES, export_csv, import_csv

bp = Blueprint("suppressions", __name__, url_prefix="/network/suppressions")


def _filters():
    args = request.args
    problems = unknown_choices({"reason": REASONS, "source": SOURCES})
    filters = {"q": args.get("q", "").strip(), "reason": "" if "reason" in problems else args.get("reason", ""),
               "source": "" if "source" in problems else args.get("source", ""),
               "since": args.get("since", "").strip()}
    error = None
    since = None
    if filters["since"]:
        try:
            since = datetime.strptime(filters["since"], "%Y-%m-%d")
        except ValueError:
            error = "Use a date like 2026-01-31."
    query = suppression_query(filters["q"], filters["reason"], filters["source"], since)
    return filters, query, error, problems


@bp.route("/")
def index():
    """The list, newest first, with search, filters and keyset pages."""
    filters, query, since_error, problems = _filters()
    page = suppression_page(query, request.args.get("cursor"))
    return render_template("tracking/suppressions.html", page=page, filters=filters, problems=problems,
                           since_error=since_error, reasons=REASONS, sources=SOURCES,
                           add_form=AddSuppressionForm(), active={k: v for k, v in filters.items() if v}
                           ), 400 if problems or since_error else 200


@bp.route("/add", methods=["POST"])
def add():
    """Suppress one address."""
    form = AddSuppressionForm()
    if not form.validate_on_submit():
        filters, query, since_error, problems = _filters()
        return render_template("tracking/suppressions.html", page=suppression_page(query), filters=filters,
                               since_error=since_error, reasons=REASONS, sources=SOURCES,
                               add_form=form, active={}, problems=problems), 400
    added = suppress(form.email.data, form.reason.data, "admin", form.detail.data or None)
    if added:
        record("suppression.added", ("suppression", normalise_email(form.email.data)),
               f"reason {form.reason.data}" + (f": {form.detail.data}" if form.detail.data else ""))
    db.session.commit()
    flash(f"{normalise_email(form.email.data)} is suppressed." if added
          else f"{normalise_email(form.email.data)} was already suppressed.", "success" if added else "info")
    return redirect(url_for("suppressions.index"))


@bp.route("/remove", methods=["GET", "POST"])
def remove():
    """GET: ask for confirmation; POST (CSRF): take the address off the list."""
    form = RemoveSuppressionForm(email=request.args.get("email", ""))
    if request.method == "POST":
        if not form.validate_on_submit():
            flash("The form expired; please try again.", "error")
            return redirect(url_for("suppressions.index"))
        previous = remove_suppression(form.email.data)
        db.session.commit()
        flash(f"{form.email.data} can get e-mail again (was {previous})." if previous
              else f"{form.email.data} was not on the list.", "success" if previous else "info")
        return redirect(url_for("suppressions.index"))
    row = suppression_for(form.email.data)
    if row is None:
        flash(f"{form.email.data or 'That address'} is not on the list.", "info")
        return redirect(url_for("suppressions.index"))
    return render_template("tracking/suppression_remove.html", form=form, row=row)


@bp.route("/import", methods=["GET", "POST"])
def import_file():
    """Upload a CSV; every row is validated and errors are listed by line."""
    form = ImportSuppressionsForm()
    result = None
    status = 200
    if form.validate_on_submit():
        result = import_csv(form.file.data.read(), form.reason.data, form.skip_invalid.data,
                            max_lines=MAX_UPLOAD_LINES)
        if result.applied:
            record("suppression.imported", ("suppression", None, form.file.data.filename or ""),
                   f"{result.added} added, {result.already} already listed, {len(result.errors)} invalid "
                   f"rows skipped (default reason {form.reason.data})")
            db.session.commit()
            flash(f"Imported: {result.added} added, {result.already} already on the list"
                  + (f", {len(result.errors)} invalid rows skipped." if result.errors else "."), "success")
            if not result.errors:
                return redirect(url_for("suppressions.index"))
        else:
            db.session.rollback()
            status = 400
    elif request.method == "POST":
        status = 400
    return render_template("tracking/suppression_import.html", form=form, result=result,
                           max_lines=MAX_UPLOAD_LINES), status


@bp.route("/export.csv")
def export():
    """The list (with the current filters) as CSV, streamed."""
    _, query, since_error, problems = _filters()
    if problems or since_error:  # an export of everything under a filter's name misleads
        abort(400, " ".join([*problems.values(), *([f"since: {since_error}"] if since_error else [])]))
    stamp = datetime.now().strftime("%Y%m%d-%H%M")
    return csv_response(partial(export_csv, query), f"suppressions-{stamp}.csv")
