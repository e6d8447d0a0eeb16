"""The per-recipient report of a run: the searchable keyset log, duplicates, and the CSV export.

Every query seeks through an index on (run_id, ...): the log by (status, id), by e-mail prefix,
or merged from one short seek per status, so pages stay fast with a million rows; the CSV is
streamed in keyset batches.
"""
from sqlalchemy import select, union_all

from ..core.csv_export import csv_stream
from ..core.extensions import db
from ..core.utils import KeysetPage, keyset_page, normalise_email
from .models import STATUSES, Delivery, DeliveryDuplicate

CSV_COLUMNS = ("id", "email", "customer_id", "status", "reason", "attempts", "code", "reply",
               "message_id", "last_attempt_at", "next_attempt_at", "sent_at")
EXPORT_BATCH = 2000


def email_prefix(column, prefix: str):
    """A WHERE clause for ``column`` starting with ``prefix`` that an index can serve.

    PostgreSQL: LIKE on the text_pattern_ops index. SQLite: a range (BINARY collation is bytewise).
    """
    if db.engine.dialect.name == "postgresql":
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return column.like(escaped + "%", escape="\\")
    upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    return (column >= prefix) & (column < upper)


def log_query(run_id: int, q: str = "", status: str = ""):
    """The ledger rows of a run, optionally of one status and/or starting with an address prefix."""
    query = select(Delivery).where(Delivery.run_id == run_id)
    if status in STATUSES:
        query = query.where(Delivery.status == status)
    q = normalise_email(q)
    if q:
        query = query.where(email_prefix(Delivery.email, q))
    return query


def _page_candidates(run_id: int, after, before, limit: int):
    """The ids that can be on a page of the unfiltered log: the first ``limit`` of each status
    past the cursor, each one short seek in (run_id, status, id); merged by the caller."""
    parts = []
    for name in STATUSES:
        part = select(Delivery.id).where(Delivery.run_id == run_id, Delivery.status == name)
        if before is not None:
            part = part.where(Delivery.id > before).order_by(Delivery.id.asc())
        else:
            part = part.where(Delivery.id < after) if after is not None else part
            part = part.order_by(Delivery.id.desc())
        parts.append(part.limit(limit).subquery().select())
    return union_all(*parts).subquery("candidates")


def delivery_log(run_id: int, q="", status="", after=None, before=None, per_page=50) -> KeysetPage:
    """One page of the per-recipient log, newest rows first."""
    query = log_query(run_id, q, status)
    if not normalise_email(q) and status not in STATUSES:
        query = query.where(Delivery.id.in_(select(_page_candidates(run_id, after, before, per_page + 1))))
    return keyset_page(query, Delivery.id, after, before, per_page)


def duplicates_page(run_id: int, after: int | None = None, per_page: int = 50):
    """(customers left out as duplicates, ordered by customer id, the cursor of the next page)."""
    query = select(DeliveryDuplicate).where(DeliveryDuplicate.run_id == run_id)
    if after is not None:
        query = query.where(DeliveryDuplicate.customer_id > after)
    rows = db.session.scalars(query.order_by(DeliveryDuplicate.customer_id).limit(per_page + 1)).all()
    more = len(rows) > per_page
    rows = rows[:per_page]
    return rows, (rows[-1].customer_id if more else None)


def _ledger_rows(run_id: int, q: str, status: str):
    columns = [getattr(Delivery, name) for name in CSV_COLUMNS]
    last = 0
    while True:
        rows = db.session.execute(log_query(run_id, q, status).with_only_columns(*columns)
                                  .where(Delivery.id > last).order_by(Delivery.id)
                                  .limit(EXPORT_BATCH)).all()
        yield from rows
        if len(rows) < EXPORT_BATCH:
            return
        last = rows[-1].id


def csv_lines(run_id: int, q: str = "", status: str = ""):
    """The run's ledger as CSV text chunks, read in id order in batches (constant memory); cells
    that a spreadsheet would run as a formula (an address, a reply text) are neutralised."""
    return csv_stream(CSV_COLUMNS, _ledger_rows(run_id, q, status), batch=EXPORT_BATCH)
