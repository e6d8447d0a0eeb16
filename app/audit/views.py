"""Network → Audit log: the entries with filters, keyset pages and a CSV export (read only)."""
from datetime import datetime
from functools import partial

from flask import Blueprint, abort, render_template, request

from ..core.csv_export import csv_response, csv_stream
from ..core.extensions import db
from ..core.inputs import query_cursor
from ..core.utils import keyset_page
from .models import ACTOR_KINDS, AuditEntry
from .services import AuditFilters, entries_query, known_values

bp = Blueprint("audit", __name__, url_prefix="/network/audit")
EXPORT_COLUMNS = ("id", "created_at", "actor_kind", "actor", "action", "object_type", "object_id",
                  "object_label", "summary", "ip")


def _bad_dates(filters) -> list:
    """The date filters given that are not dates (``from_args`` leaves them out)."""
    return [name for name in ("since", "until") if request.args.get(name) and getattr(filters, name) is None]


@bp.route("/")
def index():
    """The audit log, newest first, filtered by actor, action, object, text and dates."""
    filters = AuditFilters.from_args(request.args)
    bad_dates = _bad_dates(filters)
    page = keyset_page(entries_query(filters), AuditEntry.id, query_cursor("after"), query_cursor("before"))
    return render_template("audit/index.html", page=page, filters=filters, active=filters.as_args(),
                           actions=known_values(AuditEntry.action),
                           object_types=known_values(AuditEntry.object_type),
                           actor_kinds=ACTOR_KINDS, bad_dates=bad_dates), 400 if bad_dates else 200


def export_rows(filters: AuditFilters):
    """The matching entries as tuples of EXPORT_COLUMNS, oldest first, in batches."""
    query = entries_query(filters).order_by(AuditEntry.id).execution_options(yield_per=1000)
    for entry in db.session.scalars(query):
        yield tuple(getattr(entry, column) for column in EXPORT_COLUMNS)


@bp.route("/export.csv")
def export():
    """The entries matching the page's filters as CSV (formula cells neutralised)."""
    filters = AuditFilters.from_args(request.args)
    bad_dates = _bad_dates(filters)
    if bad_dates:  # an export of every date under a filter's name misleads
        abort(400, f"Use dates like 2026-01-31 for: {', '.join(bad_dates)}.")
    stamp = datetime.now().strftime("%Y%m%d-%H%M")
    return csv_response(partial(csv_stream, EXPORT_COLUMNS, export_rows(filters)), f"audit-log-{stamp}.csv")
