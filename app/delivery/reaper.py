"""The reaper and the run supervisor: the claims of dead jobs (``delivery_claims``) are settled from
their write-ahead records, lost chunks are sent again, a run no job moves any more is moved on from the
database, and a run whose rows are all settled is finished.

A dead job's rows (its lease gone, Redis settled: ``app.core.leases.settled``) get the outcome its
record holds; a row marked in flight (its final dot may have gone out) without a recorded reply becomes
``unknown`` (it may or may not have been delivered, so it is never re-sent automatically: only an
administrator's "resend unknown" queues it again); the rows it never reached are left as they are
(queued or deferred: a claim writes nothing to them) and its claim goes. When the record is missing or from another Redis run, every row without an outcome
is unknown. Runs after every chunk job, from the supervisor (``supervisor_tasks``, every pass),
from ``flask delivery supervise`` and when the run page polls; those callers commit (nothing here
does).

The supervisor checks every run that is planning, sending or paused (``heal``). With no live
tracked job (``app/core/job_tracking.py``) a ``planning`` run is planned again (a run planned
meanwhile makes it a no-op), and a ``sending`` run gets runners for its waiting chunks, its queued
rows registered again when Redis lost the chunks, a retry job for its deferred rows, and is
finished once settled; a ``paused`` run only has its dead jobs' rows settled.
"""
import json
import logging
from functools import partial

from flask import current_app
from sqlalchemy import delete, or_, select, update

from ..broadcasts.models import BroadcastRun
from ..core import leases
from ..core.extensions import db, redis_store
from ..core.job_tracking import live_jobs
from ..core.jobs import after_commit, enqueue_after_commit
from ..core.utils import utcnow
from . import chunks, jobs, progress, services, wal
from .models import Delivery, DeliveryClaim
from .outcomes import Outcome, lock_run, write_outcomes
from .planning import chunk_ranges, count_status

log = logging.getLogger(__name__)
UNKNOWN_IN_SMTP = ("outcome unknown: the worker stopped after this message was sent, before the server's "
                   "reply was read")
UNKNOWN_RECORD_LOST = ("outcome unknown: the worker stopped and its write-ahead record was lost "
                       "(Redis restarted or was emptied)")


def reap(run_id: int) -> int:
    """Settle the claims of the run's jobs that are no longer alive; returns how many rows."""
    tokens = set(db.session.scalars(select(DeliveryClaim.token).where(DeliveryClaim.run_id == run_id)))
    if not tokens or not leases.settled(float(current_app.config["DELIVERY_LEASE_SECONDS"])):
        return 0
    dead = tokens - chunks.live_tokens(tokens)
    return sum(settle(run_id, token) for token in sorted(dead))


def settle(run_id: int, token: str) -> int:
    """Settle the claim of dead job ``token`` from its record: the run's row is locked first (the
    order of the send loop and of a cancel), then the claim is deleted; nothing happens when it is
    gone already (settled by another pass, or the job wrote its outcomes at the last moment)."""
    lock_run(run_id)
    table = DeliveryClaim.__table__
    claim = db.session.execute(delete(table).where(table.c.token == token)
                               .returning(table.c.ids, table.c.claimed_at)).first()
    if claim is None:
        return 0
    ids = json.loads(claim.ids)
    rows = db.session.execute(select(Delivery.id, Delivery.email).where(Delivery.id.in_(ids))
                              .order_by(Delivery.id)).all()
    intact, order, flying, recorded = wal.read(token, set(ids))
    intact = intact and set(ids) <= set(order)
    outcomes = [Outcome.from_json(row.id, row.email, recorded[row.id]) for row in rows if row.id in recorded]
    if outcomes:
        write_outcomes(run_id, outcomes, claim.claimed_at)
    rest = [row for row in rows if row.id not in recorded]
    back = [row for row in rest if intact and row.id not in flying]  # never reached their dot: left
    unknown = [row.id for row in rest if not (intact and row.id not in flying)]
    reply = UNKNOWN_IN_SMTP if intact else UNKNOWN_RECORD_LOST
    if unknown:
        db.session.execute(update(Delivery).where(Delivery.id.in_(unknown))
                           .values(status="unknown", reply=reply, reason=None,
                                   attempts=Delivery.attempts + 1, last_attempt_at=claim.claimed_at)
                           .execution_options(synchronize_session=False))
    after_commit(wal.forget, token)
    sent = sum(1 for o in outcomes if o.status == "sent")
    if sent:
        after_commit(progress.record_sent, run_id, sent)
    log.warning("run %s: dead job %s settled: %s from its record, %s unknown, %s left queued",
                run_id, token, len(outcomes), len(unknown), len(back))
    return len(rows)


def repair(run_id: int, idle: bool = False) -> int:
    """Put the chunks of dead jobs back among the waiting ones, with runners to send them.

    ``idle`` (no tracked job moves the run): also start runners for waiting chunks, and register
    the queued rows when no chunk is registered (Redis lost them). Returns runners started.
    """
    registered = chunks.registered_chunks(run_id)
    alive = chunks.live_tokens({value[2:] for value in registered.values() if value.startswith("r:")})
    lost = [(lo, hi) for (lo, hi), value in registered.items()
            if value.startswith("r:") and value[2:] not in alive]
    for lo, hi in lost:
        chunks.set_waiting(run_id, lo, hi)
    waiting = len(lost) + sum(1 for value in registered.values() if value == "w")
    runners = min(waiting if idle else len(lost), int(current_app.config["DELIVERY_PARALLEL_JOBS"]))
    chunks.start_runners(run_id, runners)
    if idle and not registered and count_status(run_id, "queued"):
        log.warning("run %s: queued rows but no chunk in Redis: dispatched again", run_id)
        return chunks.dispatch(run_id, chunk_ranges(run_id))
    return runners


def retry_overdue(run_id: int, idle: bool = False) -> None:
    """Enqueue a retry when deferred rows exist and no retry job is pending (``idle``: the
    supervisor found no live job for the run, whatever Redis says)."""
    due = db.session.scalar(select(Delivery.next_attempt_at)
                            .where(Delivery.run_id == run_id, Delivery.status == "deferred")
                            .order_by(Delivery.next_attempt_at).limit(1))
    if due is not None and (idle or not chunks.retry_pending(run_id)):
        chunks.retry_later(run_id, max(due, utcnow()), force=idle)


def supervise(run_id: int, thorough: bool = False, idle: bool = False) -> str:
    """Reap, repair and finish one run; returns its status afterwards.

    ``thorough`` (the supervisor, the CLI) also checks overdue retries; ``idle`` says no tracked
    job moves the run, so work waiting in Redis or only in the database is started again.
    """
    status = db.session.scalar(select(BroadcastRun.status).where(BroadcastRun.id == run_id))
    if status is None or status == "planning":
        return status
    reaped = reap(run_id)
    if status == "sending":
        repair(run_id, idle)
        if thorough or reaped:
            retry_overdue(run_id, idle)
        services.finish_if_done(run_id)
    return db.session.scalar(select(BroadcastRun.status).where(BroadcastRun.id == run_id))


def supervise_throttled(run_id: int, seconds: int = 10) -> None:
    """A light ``supervise`` at most once per ``seconds`` per run across all callers (page polls)."""
    key = redis_store.key("delivery", "supervised", run_id)
    if redis_store.client.set(key, 1, nx=True, ex=seconds):
        supervise(run_id)


def active_run_ids() -> list[int]:
    """Runs that are planning, sending or paused, and finished runs whose rows a job still holds
    (a run cancelled while a job that then died held a batch: its record still says what went out)."""
    held = select(DeliveryClaim.run_id)
    return list(db.session.scalars(select(BroadcastRun.id).where(or_(
        BroadcastRun.status.in_(("planning", "sending", "paused")), BroadcastRun.id.in_(held)))
        .order_by(BroadcastRun.id)))


def supervisor_tasks(tasks: list) -> list:
    """``supervisor_tasks`` filter: add the check of every active run."""
    return [*tasks, run_steps]


def run_steps() -> list:
    """One step per run that is planning, sending or paused, or holds a dead job's claim."""
    return [partial(heal, run_id) for run_id in active_run_ids()]


def heal(run_id: int) -> str | None:
    """Check one run and move it on if nothing does; returns its status afterwards (None: gone).
    Redis and database errors propagate (the supervisor logs them and tries next pass)."""
    status = db.session.scalar(select(BroadcastRun.status).where(BroadcastRun.id == run_id))
    idle = status in ("planning", "sending") and live_jobs(chunks.track(run_id)) == 0
    if status == "planning":
        if idle:
            log.warning("run %s is planning but no job plans it: planning again", run_id)
            enqueue_after_commit(jobs.plan_run, run_id, queue="delivery", track=chunks.track(run_id))
        return status
    if status in ("sending", "paused"):
        return supervise(run_id, thorough=True, idle=idle)
    if status is not None:
        reap(run_id)  # a finished run: only dead jobs' claims to settle
    return status
