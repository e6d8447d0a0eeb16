"""Planning a run: its audience frozen into the delivery ledger by set-based SQL, then cut in chunks.

No recipient passes through Python: one ``INSERT ... SELECT`` writes a row per unique address
(the customer with the lowest id wins, and the message goes to that customer's spelling), queued
or skipped with the suppression's reason; a second
writes the customers left out as duplicates, found from the few shared addresses only. The
claim on the run makes planning twice a no-op; ``UNIQUE (run_id, email)`` would refuse a
second copy of the ledger anyway. The ledger insert has no ON CONFLICT clause (speculative
insertion is slow; see bench/README.md, "Choices measured").
"""
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import case, func, insert, literal, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ..broadcasts.audience import (
    sort_in_memory,
    targeted_sharing_customers,
    unique_recipients,
)
from ..broadcasts.models import BroadcastRun
from ..core.extensions import db
from ..core.utils import utcnow
from ..mail.suppression import Suppression
from .models import Delivery, DeliveryDuplicate


@dataclass
class PlanResult:
    """What a planning did: rows to send, exclusions, and whether this call planned at all."""
    planned: bool
    total: int = 0
    excluded: int = 0


def insert_or_ignore(table):
    """An INSERT for the current database that supports ``on_conflict_do_nothing`` (insert or
    ignore: a conflicting row is left as it is, never updated) and reports its ``rowcount`` (the
    rows it inserted)."""
    insert = pg_insert if db.engine.dialect.name == "postgresql" else sqlite_insert
    return insert(table).execution_options(preserve_rowcount=True)


def _claim_planning(run_id: int) -> bool:
    """Take the run for planning (one planner wins even when the job runs twice at once)."""
    result = db.session.execute(update(BroadcastRun)
                                .where(BroadcastRun.id == run_id, BroadcastRun.status == "planning",
                                       BroadcastRun.started_at.is_(None))
                                .values(started_at=utcnow()))
    return result.rowcount == 1


def _insert_ledger(run) -> int:
    recipients = unique_recipients(run.broadcast).subquery("recipients")
    rows = (select(literal(run.id), recipients.c.customer_id, recipients.c.email, recipients.c.spelling,
                   case((Suppression.reason.is_(None), "queued"), else_="skipped"),
                   Suppression.reason, literal(0))
            .select_from(recipients.outerjoin(Suppression, Suppression.email == recipients.c.email))
            .order_by(recipients.c.email))  # the unique index grows in order (bench/README.md)
    return db.session.execute(
        insert(Delivery.__table__).execution_options(preserve_rowcount=True)
        .from_select(["run_id", "customer_id", "email", "spelling", "status", "reason", "attempts"],
                     rows)).rowcount


def _insert_duplicates(run) -> int:
    # The ledger took the lowest targeted id of each shared address; the other targeted sharers
    # are the duplicates. Reads only the sharers, never the million-row ledger just written.
    sharing = targeted_sharing_customers(run.broadcast).subquery("sharing")
    ranked = select(sharing.c.id, sharing.c.email,
                    func.min(sharing.c.id).over(partition_by=sharing.c.email).label("kept")).subquery()
    rows = select(literal(run.id), ranked.c.id, ranked.c.email).where(ranked.c.id != ranked.c.kept)
    return db.session.execute(insert_or_ignore(DeliveryDuplicate.__table__)
                              .from_select(["run_id", "customer_id", "email"], rows)
                              .on_conflict_do_nothing(index_elements=["run_id", "customer_id"])).rowcount


def count_status(run_id: int, status: str) -> int:
    """How many ledger rows of the run have ``status`` (index-only)."""
    return db.session.scalar(select(func.count()).select_from(Delivery)
                             .where(Delivery.run_id == run_id, Delivery.status == status))


def plan(run: BroadcastRun) -> PlanResult:
    """Freeze the run's audience into the ledger and set its totals; the caller commits.

    Returns ``planned=False`` when the run was already planned (or is being planned elsewhere).
    """
    if not _claim_planning(run.id):
        return PlanResult(False)
    sort_in_memory()
    rows = _insert_ledger(run)  # the claim makes this the run's only planning: all rows are new
    duplicates = _insert_duplicates(run)
    skipped = count_status(run.id, "skipped")
    run.total = rows - skipped
    run.excluded = skipped + duplicates
    return PlanResult(True, run.total, run.excluded)


def chunk_ranges(run_id: int, status: str = "queued", size: int | None = None) -> list:
    """Id ranges (lo, hi) of the run's rows in ``status``, ``size`` rows each (the last fewer)."""
    size = int(size or current_app.config["DELIVERY_CHUNK_SIZE"])
    numbered = (select(Delivery.id, func.row_number().over(order_by=Delivery.id).label("rn"))
                .where(Delivery.run_id == run_id, Delivery.status == status).subquery())
    starts = db.session.scalars(select(numbered.c.id).where((numbered.c.rn - 1) % size == 0)
                                .order_by(numbered.c.id)).all()
    if not starts:
        return []
    last = db.session.scalar(select(func.max(Delivery.id))
                             .where(Delivery.run_id == run_id, Delivery.status == status))
    ends = [start - 1 for start in starts[1:]] + [last]
    return list(zip(starts, ends))
