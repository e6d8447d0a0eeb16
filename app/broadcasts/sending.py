"""Sending broadcasts: readiness checks, send now, schedule, start a run, cancel.

Every status change is a conditional UPDATE (``WHERE status = ...``), so a double-submitted Send,
a second tab or two schedulers can never start a broadcast twice. The caller commits.
"""
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from ..audit.services import record
from ..core.extensions import db
from ..core.hooks import apply_filters, do_action
from ..core.utils import utcnow
from ..mail.placeholders import unknown_placeholders
from .drafts import products_lacking_mailing, refresh_audience_size
from .models import NO_END, Broadcast, BroadcastRun
from .rendering import known_placeholders, unsafe_placeholder_use
from .when import is_scheduled

ACTIVE_RUN_STATUSES = ("planning", "sending", "paused", "published")
CANCELLED_REASON = "Cancelled by an administrator."


class SendError(Exception):
    """A send, schedule or cancel that cannot happen; ``code`` is the HTTP status to answer."""

    def __init__(self, message: str, code: int = 409, problems=None):
        super().__init__(message)
        self.code, self.problems = code, problems or []


@dataclass(frozen=True)
class Problem:
    """Something that stops a draft from being sent, with the wizard step that fixes it."""
    step: str
    message: str


def readiness_problems(broadcast: Broadcast) -> list[Problem]:
    """What must be fixed before ``broadcast`` can be sent or scheduled (empty: ready)."""
    problems = []
    if not broadcast.customer_ids and not broadcast.product_ids:
        problems.append(Problem("audience", "Choose at least one customer or product."))
    for product in products_lacking_mailing(broadcast):
        problems.append(Problem("audience", f"Product “{product.name}” has no permission for "
                                            "e-mail broadcasts; grant it or remove the product."))
    if not broadcast.subject:
        problems.append(Problem("content", "Write a subject."))
    if not broadcast.body_html.strip():
        problems.append(Problem("content", "Write the message."))
    known = known_placeholders()
    unknown = unknown_placeholders(broadcast.subject + broadcast.body_html, known)
    if unknown:
        problems.append(Problem("content", "Unknown placeholder {{ %s }}." % unknown[0]))
    unsafe = unsafe_placeholder_use(broadcast.body_html)
    if unsafe:
        problems.append(Problem("content", unsafe))
    if broadcast.kind == "notice" and broadcast.ends_at is not None and broadcast.ends_at <= utcnow():
        problems.append(Problem("content", "The notice's end date has passed."))
    if broadcast.send_at is not None and broadcast.send_at <= utcnow():
        problems.append(Problem("when", "The scheduled time has passed; choose a new one."))
    problems = apply_filters("broadcast_readiness", problems, broadcast)
    return problems


def _claim(broadcast: Broadcast, new_status: str, expected_revision=None, **values) -> None:
    """Move a draft to ``new_status`` with one conditional UPDATE, or raise SendError."""
    problems = readiness_problems(broadcast)
    if problems:
        raise SendError("The broadcast is not ready: " + problems[0].message, 400, problems)
    query = update(Broadcast).where(Broadcast.id == broadcast.id, Broadcast.status == "draft")
    if expected_revision is not None:
        query = query.where(Broadcast.revision == expected_revision)
    claimed = db.session.execute(query.values(status=new_status, updated_at=utcnow(), **values)
                                 .execution_options(synchronize_session=False)).rowcount
    db.session.refresh(broadcast)
    if claimed != 1:
        if broadcast.status != "draft":
            raise SendError(f"This broadcast is already {broadcast.status}; nothing was sent again.")
        raise SendError("The draft was changed (in another tab?) since this page was shown; "
                        "check the review again before sending.")


def send_now(broadcast: Broadcast, expected_revision=None) -> BroadcastRun:
    """Send a draft at once: claim it, snapshot the audience size and start its run."""
    _claim(broadcast, "sending", expected_revision, send_at=None)
    refresh_audience_size(broadcast, fresh=True)
    run = start_run(broadcast, utcnow())
    record("broadcast.sent", broadcast, f"{broadcast.kind} sent now to {broadcast.audience_size or 0} "
                                        f"recipients (run #{run.id})")
    return run


def send_later(broadcast: Broadcast, expected_revision=None) -> None:
    """Schedule a draft that goes out later (once, recurring or by RRULE); the scheduler later
    calls ``start_run`` for each occurrence."""

    if not is_scheduled(broadcast):
        raise SendError("Choose when to send it first.", 400)
    _claim(broadcast, "scheduled", expected_revision)
    refresh_audience_size(broadcast, fresh=True)
    record("broadcast.scheduled", broadcast, f"{broadcast.kind} scheduled"
           + (f" for {broadcast.send_at:%Y-%m-%d %H:%M} UTC" if broadcast.send_at else ""))
    do_action("broadcast_scheduled", broadcast)


def unschedule(broadcast: Broadcast) -> None:
    """Turn a scheduled broadcast back into a draft (to edit it)."""
    changed = db.session.execute(update(Broadcast).where(Broadcast.id == broadcast.id,
                                                         Broadcast.status == "scheduled")
                                 .values(status="draft", updated_at=utcnow())
                                 .execution_options(synchronize_session=False)).rowcount
    db.session.refresh(broadcast)
    if changed != 1:
        raise SendError(f"This broadcast is {broadcast.status}, not scheduled.")
    record("broadcast.unscheduled", broadcast, "back to draft")
    do_action("broadcast_unscheduled", broadcast)


def start_run(broadcast: Broadcast, occurrence_at, final: bool = True) -> BroadcastRun:
    """Start the run of ``broadcast`` for ``occurrence_at`` (naive UTC); idempotent.

    The scheduler calls this for each due occurrence. A second call for the same occurrence
    returns the existing run and starts nothing (unique on broadcast and occurrence). An e-mail
    run is handed to ``app.delivery.jobs.plan_run`` on the delivery queue after the commit; a
    notice run is published at once. With ``final`` (one-off sends) the broadcast becomes
    ``sending`` (e-mail) or ``sent`` (notice); a recurring schedule passes False to stay scheduled.
    """
    existing = _run_for(broadcast.id, occurrence_at)
    if existing is not None:
        return existing
    now = utcnow()
    notice = broadcast.kind == "notice"
    # An e-mail run's started_at is set by the delivery engine's planner when it takes the run.
    run = BroadcastRun(broadcast_id=broadcast.id, occurrence_at=occurrence_at,
                       started_at=now if notice else None,
                       status="published" if notice else "planning",
                       visible_until=(broadcast.ends_at or NO_END) if notice else None,
                       total=broadcast.audience_size or 0)
    try:
        with db.session.begin_nested():
            db.session.add(run)
    except IntegrityError:  # another scheduler or worker created it a moment ago
        return _run_for(broadcast.id, occurrence_at)
    if notice:  # a new run of a notice replaces the previous one (dismissed or not)
        db.session.execute(update(BroadcastRun).where(
            BroadcastRun.broadcast_id == broadcast.id, BroadcastRun.id != run.id,
            BroadcastRun.status == "published", BroadcastRun.visible_until > now)
            .values(visible_until=now).execution_options(synchronize_session=False))
    if final:
        broadcast.status = "sent" if notice else "sending"
    broadcast.sent_at = broadcast.sent_at or now
    do_action("broadcast_sent", broadcast, run)
    return run


def _run_for(broadcast_id, occurrence_at):
    return db.session.scalar(select(BroadcastRun).where(BroadcastRun.broadcast_id == broadcast_id,
                                                        BroadcastRun.occurrence_at == occurrence_at))


def cancel(broadcast: Broadcast) -> str:
    """Cancel a draft, a schedule, a live notice or an unfinished e-mail; returns the old status.

    Runs still planning, sending, paused or published are cancelled with ``cancel_run``. The
    caller commits.
    """
    previous = broadcast.status
    cancellable = ("draft", "scheduled", "sending", "paused")
    if broadcast.kind == "notice":
        cancellable += ("sent",)  # a published notice is taken off the dashboards
    changed = db.session.execute(update(Broadcast).where(Broadcast.id == broadcast.id,
                                                         Broadcast.status.in_(cancellable))
                                 .values(status="cancelled", updated_at=utcnow())
                                 .execution_options(synchronize_session=False)).rowcount
    db.session.refresh(broadcast)
    if changed != 1:
        raise SendError(f"A {broadcast.status} {broadcast.kind} cannot be cancelled.")
    runs = select(BroadcastRun).where(BroadcastRun.broadcast_id == broadcast.id,
                                      BroadcastRun.status.in_(ACTIVE_RUN_STATUSES))
    for run in db.session.scalars(runs.with_for_update()).all():  # locked, as the run page does
        cancel_run(run, announce=False)
    record("broadcast.cancelled", broadcast, f"was {previous}")
    do_action("broadcast_cancelled", broadcast, previous)
    return previous


def cancel_run(run: BroadcastRun, reason: str = CANCELLED_REASON, announce: bool = True) -> None:
    """The one cancel of a run, whoever asks (the broadcast's Cancel, the run page, the API, the
    CLI): the run becomes cancelled, so a notice leaves the dashboards at once, and fires
    ``broadcast_run_cancelled``, on which the delivery engine skips the e-mails not yet sent. The
    broadcast follows unless it is a schedule that goes on (then ``broadcast_cancelled`` fires too,
    unless ``announce`` is False because ``cancel`` fires it). The caller commits and holds the
    run's row lock (``get_run(lock=True)`` or ``cancel``)."""
    previous, broadcast_previous = run.status, run.broadcast.status
    run.status, run.status_reason, run.finished_at = "cancelled", reason, utcnow()
    if broadcast_previous not in ("scheduled", "cancelled"):
        run.broadcast.status = "cancelled"
        if announce:
            do_action("broadcast_cancelled", run.broadcast, broadcast_previous)
    do_action("broadcast_run_cancelled", run, previous)
