"""The broadcasts list: filters, search, keyset pages, and per-broadcast run counters in one query."""
from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.orm import selectinload

from ..core.extensions import db
from ..core.inputs import id_or_none
from ..core.utils import keyset_page
from .models import KINDS, STATUSES, Broadcast, BroadcastLabel, BroadcastRun

# Counters the delivery engine may add to BroadcastRun; shown when the columns exist.
OPTIONAL_RUN_COUNTERS = ("sent", "failed")


@dataclass(frozen=True)
class ListFilters:
    """What the list shows: kind, status, label and a search text (all optional)."""
    kind: str = ""
    status: str = ""
    label: str = ""
    q: str = ""

    @classmethod
    def from_args(cls, args) -> "ListFilters":
        """Filters from query-string arguments; unknown kinds and statuses are ignored."""
        kind, status = args.get("kind", ""), args.get("status", "")
        return cls(kind if kind in KINDS else "", status if status in STATUSES else "",
                   args.get("label", "").strip()[:64], args.get("q", "").strip()[:200])

    def as_args(self) -> dict:
        """The non-empty filters, for links that keep them."""
        return {k: v for k, v in vars(self).items() if v}


def broadcasts_query(filters: ListFilters):
    """A select of broadcasts matching ``filters`` with labels and author loaded in bulk."""
    query = select(Broadcast).options(selectinload(Broadcast.labels), selectinload(Broadcast.author))
    if filters.kind:
        query = query.where(Broadcast.kind == filters.kind)
    if filters.status:
        query = query.where(Broadcast.status == filters.status)
    if filters.label:
        query = query.where(Broadcast.id.in_(select(BroadcastLabel.broadcast_id)
                                             .where(BroadcastLabel.label == filters.label)))
    if filters.q:
        pattern = "%" + filters.q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        clause = func.lower(Broadcast.subject).like(pattern, escape="\\")
        number = id_or_none(filters.q)
        query = query.where(or_(clause, Broadcast.id == number) if number else clause)
    return query


def list_broadcasts(filters: ListFilters, after=None, before=None, per_page=25):
    """One keyset page of broadcasts, newest first."""
    return keyset_page(broadcasts_query(filters), Broadcast.id, after, before, per_page)


def run_counters(broadcast_ids) -> dict:
    """{broadcast_id: {"runs", "total", "excluded", and "sent"/"failed" when tracked}} in one query."""
    if not broadcast_ids:
        return {}
    names = ["total", "excluded"]
    columns = [func.coalesce(func.sum(getattr(BroadcastRun, n)), 0) for n in names]
    rows = db.session.execute(select(BroadcastRun.broadcast_id, func.count(), *columns)
                              .where(BroadcastRun.broadcast_id.in_(broadcast_ids))
                              .group_by(BroadcastRun.broadcast_id))
    counters = {row[0]: {"runs": row[1], **dict(zip(names, row[2:]))} for row in rows}
    tracked = [n for n in OPTIONAL_RUN_COUNTERS if hasattr(BroadcastRun, n)]
    if tracked and "delivery_counts" in db.metadata.tables:
        for counts in counters.values():
            counts.update(dict.fromkeys(tracked, 0))
        # The delivery engine's live counters (``status:sent``, ``status:failed``; migration
        # 0023: the runs' columns are written only when a run finishes), summed over the shards.
        live = db.metadata.tables["delivery_counts"]
        prefixed = {f"status:{n}": n for n in tracked}
        for broadcast_id, name, value in db.session.execute(
                select(BroadcastRun.broadcast_id, live.c.name, func.sum(live.c.value))
                .join(live, live.c.run_id == BroadcastRun.id)
                .where(BroadcastRun.broadcast_id.in_(broadcast_ids), live.c.name.in_(list(prefixed)))
                .group_by(BroadcastRun.broadcast_id, live.c.name)):
            counters[broadcast_id][prefixed[name]] = int(value or 0)
    return counters


def all_labels() -> list[str]:
    """Every label in use, sorted, for the filter."""
    return list(db.session.scalars(select(BroadcastLabel.label).distinct().order_by(BroadcastLabel.label)))
