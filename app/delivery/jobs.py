"""RQ jobs of the delivery engine: plan a run, dispatch its chunks, send chunks (runners) and retry
deferred rows; enqueued as functions on the ``delivery`` queue, tracked under the run
(``chunks.track``) so the supervisor knows whether any job still moves it.

A send starts when the broadcasts domain fires ``broadcast_sent``: ``on_broadcast_sent`` (in
``app/delivery/services.py``) enqueues ``plan_run`` after the commit. Every job here is safe to
run twice and is tried again with backoff when the database or Redis fails transiently
(``app.core.transient.retry_transient``); what a job could not finish the supervisor
(``reaper.heal``) hands to a new one.
"""
import logging
import time

from flask import current_app

from ..broadcasts.models import BroadcastRun
from ..core.extensions import db
from ..core.transient import is_transient, retry_transient
from ..core.utils import utcnow
from . import chunks, planning, reaper, sending, services
from .models import Delivery

log = logging.getLogger(__name__)


@retry_transient
def plan_run(run_id: int) -> str:
    """Freeze the run's audience into the ledger, then start sending it (a second call is a no-op)."""
    run = db.session.get(BroadcastRun, run_id)
    if run is None or run.status != "planning":
        return "not planning"
    if run.broadcast.kind != "email":
        log.info("run %s belongs to a %s broadcast: nothing to deliver", run_id, run.broadcast.kind)
        return "not an e-mail"
    result = planning.plan(run)
    if not result.planned:
        db.session.rollback()
        return "already planned"
    services.set_status(run, "sending")
    db.session.commit()
    log.info("run %s planned: %s to send, %s excluded", run_id, result.total, result.excluded)
    return dispatch_run(run_id)


@retry_transient
def dispatch_run(run_id: int) -> str:
    """Enqueue chunk jobs for every queued row of a sending run, and a retry for deferred ones."""
    run = db.session.get(BroadcastRun, run_id)
    if run is None or run.status != "sending":
        return "not sending"
    chunks.drop_waiting(run_id)  # registered before a pause: the queued rows are cut afresh
    count = chunks.dispatch(run_id, planning.chunk_ranges(run_id))
    reaper.retry_overdue(run_id)
    if not count:
        services.finish_if_done(run_id)
    db.session.commit()
    return f"{count} chunk(s)"


def _deadline() -> float:
    return time.monotonic() + float(current_app.config["DELIVERY_JOB_SECONDS"])


def _send(sender: sending.Sender, where: list) -> str:
    """Run ``sender`` over ``where``; an unexpected error pauses the run with the reason, a
    transient one (database or Redis away) does not: the job is tried again."""
    try:
        return sender.run(where)
    except Exception as error:
        db.session.rollback()
        if is_transient(error):
            raise
        log.exception("run %s: sending failed", sender.run_id)
        try:
            services.pause_run(sender.run_id, f"Paused after an error in the delivery engine: {error}"[:500])
            db.session.commit()
        except (LookupError, ValueError):
            db.session.rollback()
        raise
    finally:
        if sender.earliest_retry is not None:
            chunks.retry_later(sender.run_id, sender.earliest_retry)
            sender.earliest_retry = None


@retry_transient
def send_chunks(run_id: int) -> str:
    """A runner: take the run's waiting chunks one after another and send their queued rows in
    batches, until none waits, the run stops, or the time box ends (then a fresh runner goes on,
    so other runs get their turn). A chunk this job could not finish goes back to the waiting
    ones."""
    reason, taken = "done", None
    with chunks.Lease() as lease:
        sender = sending.Sender(run_id, lease.token, deadline=_deadline(), lease=lease)
        try:
            while reason == "done":
                taken = chunks.take_waiting(run_id, lease.token)
                if taken is None:
                    break
                lo, hi = taken
                try:
                    reason = _send(sender, [Delivery.id.between(lo, hi), Delivery.status == "queued"])
                except BaseException:
                    chunks.hand_back(run_id, lo, hi, lease.token)
                    raise
                if reason != "timeup":
                    chunks.chunk_finished(run_id, lo, hi, lease.token)
        finally:
            sender.close()
    if reason == "timeup":
        chunks.hand_back(run_id, *taken, lease.token)
        chunks.start_runners(run_id, 1)
    else:
        reaper.supervise(run_id)
        db.session.commit()
    return reason


@retry_transient
def retry_deferred(run_id: int) -> str:
    """Send the run's deferred rows whose next attempt is due."""
    chunks.retry_started(run_id)
    with chunks.Lease() as lease:
        sender = sending.Sender(run_id, lease.token, deadline=_deadline(), lease=lease)
        try:
            reason = _send(sender, [Delivery.status == "deferred", Delivery.next_attempt_at <= utcnow()])
        finally:
            sender.close()
    if reason == "timeup":
        chunks.retry_later(run_id, utcnow())
    reaper.supervise(run_id)
    db.session.commit()
    return reason


@retry_transient
def watch_run(run_id: int) -> str:
    """One supervisor pass over a run (reap, repair, finish). The supervisor in every worker now
    does this; the job stays for watchdogs queued by earlier versions and does not reschedule."""
    status = reaper.supervise(run_id, thorough=True)
    db.session.commit()
    return status or "gone"
