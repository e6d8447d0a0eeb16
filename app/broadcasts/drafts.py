"""Broadcast drafts: create, update (validated, all or nothing), duplicate, and the mailing intention.

The wizard and the API both change drafts only through ``update_draft``; the caller commits.
"""
import json
import logging
from dataclasses import asdict

from redis.exceptions import RedisError
from sqlalchemy import delete, insert, literal, select

from ..audit.services import record
from ..core.extensions import db, redis_store
from ..core.hooks import do_action
from ..core.timezones import default_timezone
from ..core.utils import utcnow
from ..network.models import Product
from .audience import AudienceCounts, count_audience
from .models import Broadcast, BroadcastLabel, BroadcastTarget
from .validation import clean_changes

log = logging.getLogger(__name__)

COUNTS_TTL = 60  # seconds
AUDIENCE_FIELDS = {"kind", "customer_ids", "product_ids", "product_statuses"}
COPIED_FIELDS = ("kind", "subject", "body_html", "notice_type", "dismissible", "ends_at",
                 "product_statuses", "from_name", "reply_to", "track_opens", "track_clicks",
                 "timezone", "audience_size")


class DraftError(ValueError):
    """Changes that cannot be saved; ``errors`` maps each field name to a message."""

    def __init__(self, errors: dict):
        super().__init__("; ".join(f"{field}: {message}" for field, message in errors.items()))
        self.errors = errors


class NotADraft(Exception):
    """The broadcast was sent, scheduled or cancelled, so it can no longer be edited."""


def create_draft(author, changes=None) -> Broadcast:
    """A new draft by ``author`` with ``changes`` applied; fires ``broadcast_created``."""
    broadcast = Broadcast(author=author, timezone=default_timezone(), status="draft",
                          kind=(changes or {}).get("kind", "email"))
    db.session.add(broadcast)
    db.session.flush()
    if changes:
        update_draft(broadcast, changes, audit=False)
    record("broadcast.created", broadcast, f"{broadcast.kind} draft")
    do_action("broadcast_created", broadcast)
    return broadcast


def update_draft(broadcast: Broadcast, changes: dict, audit: bool = True) -> AudienceCounts | None:
    """Validate and apply ``changes``; raises DraftError (nothing applied) or NotADraft.

    Returns fresh audience counts when the audience changed (stored as ``audience_size``).
    """
    if broadcast.status != "draft":
        raise NotADraft(f"Broadcast {broadcast.id} is {broadcast.status}; only drafts can be edited.")
    clean, errors = clean_changes(changes)
    if errors:
        raise DraftError(errors)
    for key, value in clean.items():
        if key == "customer_ids":
            _replace_targets(broadcast, BroadcastTarget.customer_id, value)
        elif key == "product_ids":
            _replace_targets(broadcast, BroadcastTarget.product_id, value)
        elif key == "labels":
            kept = {item.label: item for item in broadcast.labels}
            broadcast.labels = [kept.get(label) or BroadcastLabel(label=label) for label in value]
        else:
            setattr(broadcast, key, value)
    broadcast.revision = (broadcast.revision or 0) + 1
    broadcast.updated_at = utcnow()
    if audit and clean:
        record("broadcast.edited", broadcast, "changed " + ", ".join(sorted(clean)))
    db.session.flush()
    if AUDIENCE_FIELDS & clean.keys():
        return refresh_audience_size(broadcast)
    return None


def _replace_targets(broadcast, column, ids) -> None:
    """Make the broadcast's targets in ``column`` exactly ``ids``, set-based (no ORM rows)."""
    current = set(db.session.scalars(select(column).where(BroadcastTarget.broadcast_id == broadcast.id,
                                                           column.is_not(None))))
    removed, added = current - set(ids), [i for i in ids if i not in current]
    for start in range(0, len(removed), 1000):
        chunk = list(removed)[start:start + 1000]
        db.session.execute(delete(BroadcastTarget).where(BroadcastTarget.broadcast_id == broadcast.id,
                                                         column.in_(chunk)))
    if added:
        db.session.execute(insert(BroadcastTarget),
                           [{"broadcast_id": broadcast.id, column.key: i} for i in added])
    db.session.expire(broadcast, ["targets"])


def audience_counts(broadcast, fresh=False) -> AudienceCounts:
    """``count_audience``, kept a minute in Redis per broadcast revision: a save and the page
    shown after it count once. Redis is only a cache here: when it does not answer, the count is
    made without it."""
    key = redis_store.key("audience-counts", broadcast.id, broadcast.revision)
    try:
        cached = None if fresh else redis_store.client.get(key)
    except RedisError as error:  # a cache: without Redis, count
        log.warning("audience counts of broadcast %s not cached: %s", broadcast.id, error)
        return count_audience(broadcast)
    if cached is not None:
        return AudienceCounts(**json.loads(cached))
    counts = count_audience(broadcast)
    try:
        redis_store.client.set(key, json.dumps(asdict(counts)), ex=COUNTS_TTL)
    except RedisError as error:
        log.warning("audience counts of broadcast %s not cached: %s", broadcast.id, error)
    return counts


def refresh_audience_size(broadcast, fresh=False) -> AudienceCounts:
    """Count the audience and store its size: customers for notices, deliverable addresses for
    e-mails (``fresh`` skips the cache, for the snapshot taken when sending)."""
    counts = audience_counts(broadcast, fresh)
    broadcast.audience_size = counts.customers if broadcast.kind == "notice" else counts.deliverable
    return counts


def duplicate(broadcast: Broadcast, author) -> Broadcast:
    """A new draft with the content, audience, labels and options of ``broadcast``."""
    copy = Broadcast(author=author, status="draft", wizard_step="review",
                     **{name: getattr(broadcast, name) for name in COPIED_FIELDS})
    if copy.ends_at is not None and copy.ends_at <= utcnow():
        copy.ends_at = None
    copy.product_statuses = list(broadcast.product_statuses or [])
    copy.labels = [BroadcastLabel(label=item.label) for item in broadcast.labels]
    db.session.add(copy)
    db.session.flush()
    db.session.execute(insert(BroadcastTarget).from_select(
        ["broadcast_id", "customer_id", "product_id"],
        select(literal(copy.id), BroadcastTarget.customer_id, BroadcastTarget.product_id)
        .where(BroadcastTarget.broadcast_id == broadcast.id)))
    db.session.expire(copy, ["targets"])
    record("broadcast.duplicated", copy, f"copy of broadcast #{broadcast.id}")
    do_action("broadcast_created", copy)
    return copy


def delete_draft(broadcast: Broadcast) -> None:
    """Delete a draft (sent broadcasts are kept for their history)."""
    if broadcast.status != "draft":
        raise NotADraft("Only drafts can be deleted.")
    if broadcast.runs.count():
        raise NotADraft("This draft already ran (it was scheduled before); cancel it instead.")
    record("broadcast.deleted", broadcast, "draft deleted")
    db.session.delete(broadcast)


def products_lacking_mailing(broadcast) -> list[Product]:
    """Targeted products without the "mailing allowed" intention (only e-mails need it)."""
    if broadcast.kind != "email" or not broadcast.product_ids:
        return []
    return db.session.scalars(select(Product).where(Product.id.in_(broadcast.product_ids),
                                                    Product.mailing_allowed_at.is_(None))
                              .order_by(Product.name)).all()


def grant_mailing(product: Product, user) -> bool:
    """Record that ``user`` allowed e-mail broadcasts to ``product``'s members; False if it already was."""
    if product.mailing_allowed_at is not None:
        return False
    product.mailing_allowed_at = utcnow()
    product.mailing_allowed_by = user
    record("product.mailing_granted", product,
           f"e-mail broadcasts to its members allowed by {getattr(user, 'email', user)}")
    return True
