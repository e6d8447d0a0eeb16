"""List hygiene: the suppression list, unsubscribes, bounces and complaints (shared services).

Every other domain calls these: the delivery engine reports SMTP-time 5xx replies with
``record_bounce(email, "hard", "smtp", reply, message_id=...)``, the bounce mailbox and the
webhook report DSNs and complaints. Policy: a hard bounce or a complaint suppresses the address
at once; soft bounces suppress it after ``tracking.soft_bounce_threshold`` of them within
``tracking.soft_bounce_days`` days. Services never commit: the caller does.
"""
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import distinct, func, select, tuple_

from ..audit.services import record
from ..core.extensions import db
from ..core.hooks import do_action
from ..core.inputs import escape_controls
from ..core.settings.services import get_option
from ..core.utils import normalise_email, utcnow
from ..mail.addresses import normalise_address
from ..mail.suppression import BOUNCE_TYPES, REASONS, Suppression
from .ledger import DeliveryRef, find_delivery
from .models import TrackingEvent

# A stronger reason replaces a weaker one; complaints and bounces stop system e-mails too.
PRECEDENCE = {"unsubscribed": 0, "bounced": 1, "complained": 2}
SYSTEM_BLOCKING_REASONS = ("bounced", "complained")
SELF_SERVICE_REASONS = ("unsubscribed", "complained")  # what customers may lift themselves
LINK_REASONS = ("unsubscribed",)  # what the public unsubscribe link may lift (no login: no complaint)
SOURCES = ("smtp", "dsn", "webhook", "link", "one-click", "mailto", "dashboard", "admin", "import")


@dataclass(frozen=True)
class HygieneOutcome:
    """What recording a bounce or complaint did."""
    recorded: bool  # False for a duplicate (same DSN or webhook event seen before)
    suppressed: bool  # the address is on the suppression list afterwards
    delivery: DeliveryRef | None = None
    email: str = ""  # the address recorded and suppressed (the delivery's when one matched)


def _reported(email: str, message_id: str | None, delivery: DeliveryRef | None, what: str):
    """The delivery a report is about (given, else found by ``message_id``) and the address it
    applies to: the one Herald sent that delivery to, whatever address the report names (a
    report naming another address never suppresses it), under today's key of the address the
    message went to (``DeliveryRef.email``; not the ledger's key, which is stale for a run planned
    before migration 0025); ``email`` when no delivery matched. ValueError when there is no address at all."""
    delivery = delivery or (find_delivery(message_id=message_id) if message_id else None)
    email = normalise_email(delivery.email if delivery else email)
    if not email:
        raise ValueError(f"a {what} needs the recipient's address")
    return delivery, email


def insert_ignore(model, rows: list[dict], key_columns: list[str]) -> int:
    """INSERT ``rows`` skipping those that collide on ``key_columns``; the number inserted."""
    if not rows:
        return 0
    if db.session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    table = getattr(model, "__table__", model)
    # One statement with the rows as parameters (SQLAlchemy's "insertmanyvalues": batched VALUES
    # lists, the statement compiled once and cached), not a VALUES clause built per call, which
    # cost about 150 µs a row to compile. RETURNING: rowcount is not reliable on every driver.
    statement = (insert(table).on_conflict_do_nothing(index_elements=key_columns)
                 .returning(table.c[key_columns[0]]))
    return len(db.session.execute(statement, rows).all())


def checked_address(text: str) -> str:
    """``text`` as the suppression list keys it: ``mail.addresses.address_key`` (ASCII letters folded).
    Raises AddressError (a ValueError) with a readable message when it is not an address."""
    return normalise_email(normalise_address(text))


def _clip(text, size=500):
    """Text from outside (a bounce's diagnostic, a webhook's detail) as stored: controls written
    visibly (``inputs.escape_controls``: PostgreSQL stores no NUL), then cut to ``size``."""
    return None if text is None else escape_controls(text)[:size]


def suppression_for(email: str) -> Suppression | None:
    """The suppression row of ``email``, or None."""
    return db.session.get(Suppression, normalise_email(email))


def blocks_mail(email: str, system: bool = False) -> bool:
    """True when ``email`` must not get a broadcast (``system=False``) or a system e-mail."""
    row = suppression_for(email)
    return row is not None and (not system or row.reason in SYSTEM_BLOCKING_REASONS)


def suppress(email: str, reason: str, source: str, detail: str | None = None) -> bool:
    """Put ``email`` on the suppression list; True when it was added or its reason strengthened."""
    if reason not in REASONS:
        raise ValueError(f"unknown suppression reason {reason!r}")
    email = normalise_email(email)
    row = dict(email=email, reason=reason, source=source, detail=_clip(detail), created_at=utcnow())
    if insert_ignore(Suppression, [row], ["email"]):
        return True
    existing = db.session.get(Suppression, email, populate_existing=True)
    if existing is not None and PRECEDENCE[reason] > PRECEDENCE[existing.reason]:
        existing.reason, existing.source, existing.detail = reason, source, _clip(detail)
        existing.created_at = utcnow()
        return True
    return False


def _record_event(kind, email, source, *, detail=None, bounce_type=None, delivery=None,
                  message_id=None, event_key=None, run_id=None) -> bool:
    row = dict(kind=kind, email=email, source=source, detail=_clip(detail), bounce_type=bounce_type,
               run_id=delivery.run_id if delivery else run_id,
               delivery_id=delivery.id if delivery else None,
               message_id=_clip(message_id or (delivery.message_id if delivery else None), 300),
               event_key=_clip(event_key, 300), created_at=utcnow())
    return bool(insert_ignore(TrackingEvent, [row], ["event_key"]))


def unsubscribe(email: str, run_id: int | None = None, source: str = "link") -> bool:
    """Unsubscribe ``email`` from broadcasts at once; True when it was not suppressed before."""
    email = normalise_email(email)
    if not suppress(email, "unsubscribed", source, f"run {run_id}" if run_id else None):
        return False
    _record_event("unsubscribed", email, source, run_id=run_id)
    do_action("email_unsubscribed", email, run_id, source)
    return True


def resubscribe(email: str, source: str = "dashboard", allowed=SELF_SERVICE_REASONS) -> str | None:
    """Lift the suppression of ``email`` when its reason is in ``allowed``; the old reason or None."""
    row = suppression_for(email)
    if row is None or row.reason not in allowed:
        return None
    previous = row.reason
    db.session.delete(row)
    _record_event("resubscribed", row.email, source, detail=f"was {previous}")
    do_action("email_resubscribed", row.email, previous, source)
    return previous


def remove_suppression(email: str) -> str | None:
    """An admin takes ``email`` off the list, whatever the reason; the old reason or None."""
    previous = resubscribe(email, "admin", allowed=REASONS)
    if previous:
        record("suppression.removed", ("suppression", normalise_email(email)), f"was {previous}")
    return previous


def soft_bounce_count(email: str) -> int:
    """Soft bounces of ``email`` within the last ``tracking.soft_bounce_days`` days, once per
    delivery: several reports about one message (a relay's and the final MTA's DSN, a DSN and a
    webhook event) count once; a report tied to no delivery counts on its own."""
    since = utcnow() - timedelta(days=int(get_option("tracking.soft_bounce_days", 30)))
    deliveries = func.count(distinct(TrackingEvent.delivery_id))
    unattributed = func.count().filter(TrackingEvent.delivery_id.is_(None))
    return db.session.scalar(select(deliveries + unattributed).where(
        TrackingEvent.email == normalise_email(email), TrackingEvent.kind == "bounced",
        TrackingEvent.bounce_type == "soft", TrackingEvent.created_at >= since))


def record_bounce(email: str, kind: str = "hard", source: str = "smtp", detail: str | None = None,
                  message_id: str | None = None, delivery: DeliveryRef | None = None,
                  event_key: str | None = None) -> HygieneOutcome:
    """Record a bounce of ``email`` and apply the policy (hard: suppress; soft: after a threshold).

    ``delivery`` when the caller knows it (else it is looked up by ``message_id``); when a
    delivery matched, the bounce is that delivery's address's (``HygieneOutcome.email``), not
    ``email``'s. ``event_key`` makes the call idempotent (a DSN's Message-ID, a provider's event id).
    """
    if kind not in BOUNCE_TYPES:
        raise ValueError(f"bounce kind must be hard or soft, not {kind!r}")
    delivery, email = _reported(email, message_id, delivery, "bounce")
    if not _record_event("bounced", email, source, detail=detail, bounce_type=kind,
                         delivery=delivery, message_id=message_id, event_key=event_key):
        return HygieneOutcome(False, suppression_for(email) is not None, delivery, email)
    if kind == "hard":
        suppress(email, "bounced", source, detail)
    else:
        threshold = int(get_option("tracking.soft_bounce_threshold", 3))
        count = soft_bounce_count(email)
        if 0 < threshold <= count:
            days = get_option("tracking.soft_bounce_days", 30)
            suppress(email, "bounced", source, f"{count} soft bounces in {days} days; last: {detail}")
    suppressed = suppression_for(email) is not None
    do_action("bounce_recorded", email, kind, source, detail, suppressed, delivery)
    return HygieneOutcome(True, suppressed, delivery, email)


def record_complaint(email: str, source: str = "webhook", detail: str | None = None,
                     message_id: str | None = None, delivery: DeliveryRef | None = None,
                     event_key: str | None = None) -> HygieneOutcome:
    """Record a spam complaint about ``email`` and suppress the address at once (the matched
    delivery's address instead, as ``record_bounce``)."""
    delivery, email = _reported(email, message_id, delivery, "complaint")
    if not _record_event("complained", email, source, detail=detail, delivery=delivery,
                         message_id=message_id, event_key=event_key):
        return HygieneOutcome(False, suppression_for(email) is not None, delivery, email)
    suppress(email, "complained", source, detail)
    do_action("complaint_recorded", email, source, detail, delivery)
    return HygieneOutcome(True, True, delivery, email)


@dataclass
class SuppressionPage:
    """One page of the suppression list, newest first, and the cursor of the next page."""
    items: list
    next_cursor: str | None


def suppression_query(q: str = "", reason: str = "", source: str = "", since=None):
    """A select of Suppression rows filtered by address prefix, reason, source and date."""
    query = select(Suppression)
    q = normalise_email(q)
    if q:
        escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(Suppression.email.like(escaped + "%", escape="\\"))
    if reason in REASONS:
        query = query.where(Suppression.reason == reason)
    if source:
        query = query.where(Suppression.source == source)
    if since is not None:
        query = query.where(Suppression.created_at >= since)
    return query


def suppression_page(query, cursor: str | None = None, per_page: int = 50) -> SuppressionPage:
    """Keyset pagination over (created_at, email) descending: fast at any depth."""
    if cursor and "|" in cursor:
        stamp, _, email = cursor.partition("|")
        try:
            after = datetime.fromisoformat(stamp)
        except ValueError:
            after = None
        if after is not None:
            query = query.where(tuple_(Suppression.created_at, Suppression.email) < tuple_(after, email))
    rows = db.session.scalars(query.order_by(Suppression.created_at.desc(), Suppression.email.desc())
                              .limit(per_page + 1)).all()
    more = len(rows) > per_page
    rows = rows[:per_page]
    last = rows[-1] if rows and more else None
    return SuppressionPage(rows, f"{last.created_at.isoformat()}|{last.email}" if last else None)
