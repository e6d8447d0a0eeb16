"""The reaper and supervisor: rows left in ``sending`` by dead jobs become unknown, lost chunks
are sent again, and a run whose rows are all settled is finished.

A row is never re-sent by the reaper: ``unknown`` means the SMTP transaction may or may not have
happened. Only an administrator's "resend unknown" queues such rows again. Runs after every chunk
job, from the periodic ``watch_run`` job, from ``flask delivery supervise`` and when the run page
polls its progress; those callers commit (nothing here does).
"""
import logging

from flask import current_app
from sqlalchemy import select, update

from ..broadcasts.models import BroadcastRun
from ..core.extensions import db, redis_store
from ..core.utils import utcnow
from . import chunks, services
from .models import Delivery
from .planning import chunk_ranges, count_status

log = logging.getLogger(__name__)
UNKNOWN_REPLY = "outcome unknown: the worker stopped between marking this row sending and recording the reply"


def reap(run_id: int) -> int:
    """Report the rows held in ``sending`` by jobs that are no longer alive as unknown."""
    tokens = set(db.session.scalars(select(Delivery.claim).distinct()
                                    .where(Delivery.run_id == run_id, Delivery.status == "sending")))
    dead = tokens - chunks.live_tokens(tokens - {None})
    if not dead:
        return 0
    reaped = 0
    for token in dead:
        condition = Delivery.claim.is_(None) if token is None else Delivery.claim == token
        reaped += db.session.execute(
            update(Delivery).where(Delivery.run_id == run_id, Delivery.status == "sending", condition)
            .values(status="unknown", reply=UNKNOWN_REPLY)
            .execution_options(synchronize_session=False)).rowcount
    if reaped:
        log.warning("run %s: %s row(s) left in sending by a dead worker are now unknown", run_id, reaped)
    return reaped


def repair(run_id: int, check_waiting: bool = False) -> int:
    """Put the chunks of dead jobs back among the waiting ones, with runners to send them.

    With ``check_waiting`` (the watchdog) also start runners when chunks wait and nobody sends,
    and register the queued rows no chunk covers. Returns how many runners were started.
    """
    registered = chunks.registered_chunks(run_id)
    alive = chunks.live_tokens({value[2:] for value in registered.values() if value.startswith("r:")})
    lost = [(lo, hi) for (lo, hi), value in registered.items()
            if value.startswith("r:") and value[2:] not in alive]
    for lo, hi in lost:
        chunks.set_waiting(run_id, lo, hi)
    waiting = len(lost) + sum(1 for value in registered.values() if value == "w")
    parallel = int(current_app.config["DELIVERY_PARALLEL_JOBS"])
    runners = len(lost) if not check_waiting or alive else waiting
    chunks.start_runners(run_id, min(runners, parallel))
    if check_waiting and not registered and count_status(run_id, "queued"):
        chunks.dispatch(run_id, chunk_ranges(run_id))
    return min(runners, parallel)


def retry_overdue(run_id: int) -> None:
    """Enqueue a retry when deferred rows are due and no retry job is pending."""
    due = db.session.scalar(select(Delivery.next_attempt_at)
                            .where(Delivery.run_id == run_id, Delivery.status == "deferred")
                            .order_by(Delivery.next_attempt_at).limit(1))
    if due is not None and not chunks.retry_pending(run_id):
        chunks.retry_later(run_id, max(due, utcnow()))


def supervise(run_id: int, thorough: bool = False) -> str:
    """Reap, repair and finish one run; returns its status afterwards.

    ``thorough`` (the periodic watchdog) also checks waiting RQ jobs and overdue retries.
    """
    status = db.session.scalar(select(BroadcastRun.status).where(BroadcastRun.id == run_id))
    if status is None or status == "planning":
        return status
    reap(run_id)
    if status == "sending":
        repair(run_id, check_waiting=thorough)
        if thorough:
            retry_overdue(run_id)
        if services.finish_if_done(run_id):
            status = "sent"
    return db.session.scalar(select(BroadcastRun.status).where(BroadcastRun.id == run_id))


def supervise_throttled(run_id: int, seconds: int = 10) -> None:
    """A light ``supervise`` at most once per ``seconds`` per run across all callers (page polls)."""
    key = redis_store.key("delivery", "supervised", run_id)
    if redis_store.client.set(key, 1, nx=True, ex=seconds):
        supervise(run_id)


def active_run_ids() -> list[int]:
    """Runs that are planning, sending or paused."""
    return list(db.session.scalars(select(BroadcastRun.id).where(
        BroadcastRun.status.in_(("sending", "paused"))).order_by(BroadcastRun.id)))
