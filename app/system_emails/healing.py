"""The system e-mails' part of the supervisor (``supervisor_tasks``): a send a dead job left in
``sending`` is settled from its write-ahead record, and a due send whose job is gone (failed,
killed, lost with Redis, or scheduled with no RQ scheduler running) is enqueued again.

A dead job's send (its lease gone, Redis settled) takes the answer its record holds; a send whose
record says ``claimed`` (same Redis run) never reached SMTP and is queued again; one whose record
says ``smtp``, or whose record is missing or from another Redis run, may or may not have been
delivered: it becomes ``unknown``, never re-sent automatically. Nothing here commits.
"""
import json
import logging
from datetime import timedelta
from functools import partial

from flask import current_app
from sqlalchemy import or_, select

from ..core import leases
from ..core.extensions import db, redis_store
from ..core.job_tracking import live_jobs
from ..core.jobs import after_commit, enqueue_after_commit
from ..core.utils import utcnow
from . import jobs
from .models import SystemEmailSend

log = logging.getLogger(__name__)
BATCH = 500  # sends looked at per pass and kind
UNKNOWN_REASON = "outcome unknown: the worker stopped during the SMTP transaction (or lost its record)"


def supervisor_tasks(tasks: list) -> list:
    """``supervisor_tasks`` filter: add the check of stuck and lost sends."""
    return [*tasks, send_steps]


def _lease() -> float:
    return float(current_app.config["JOB_LEASE_SECONDS"])


def send_steps() -> list:
    """One step per send in ``sending``, and per queued or deferred send due a lease ago."""
    stuck = db.session.scalars(select(SystemEmailSend.id).where(SystemEmailSend.status == "sending")
                               .order_by(SystemEmailSend.id).limit(BATCH)).all()
    overdue = utcnow() - timedelta(seconds=_lease())
    due = db.session.scalars(select(SystemEmailSend.id).where(
        SystemEmailSend.status.in_(jobs.CLAIMABLE),
        or_(SystemEmailSend.scheduled_for.is_(None), SystemEmailSend.scheduled_for <= overdue))
        .order_by(SystemEmailSend.id).limit(BATCH)).all()
    return [partial(reap_send, i) for i in stuck] + [partial(requeue_send, i) for i in due]


def _record(send_id: int) -> dict | None:
    raw = redis_store.client.get(jobs.record_key(send_id))
    return json.loads(raw) if raw else None


def _holder_alive(record: dict | None) -> bool:
    return bool(record and leases.alive([jobs.lease_key(record["token"])], _lease()))


def reap_send(send_id: int) -> str | None:
    """Settle send ``send_id`` if a dead job left it in ``sending``; returns its status then."""
    send = db.session.get(SystemEmailSend, send_id)
    if send is None or send.status != "sending":
        return None if send is None else send.status
    record = _record(send_id)
    if _holder_alive(record) or not leases.settled(_lease()):
        return send.status
    if record is None and send.last_attempt_at and send.last_attempt_at > utcnow() - timedelta(seconds=2 * _lease()):
        return send.status  # no record yet: a job whose record Redis lost may still be working
    same_redis = record is not None and record["redis"] == leases.redis_run_id()
    if record is not None and record["stage"] == "answer":
        status = jobs.apply(send, record["answer"])
    elif same_redis and record["stage"] == "claimed":
        send.status, send.attempts = "queued", send.attempts - 1
        status = "queued"
        enqueue_after_commit(jobs.deliver_send, send_id, queue="emails", track=jobs.track(send_id))
    else:
        send.status, send.reason, status = "unknown", UNKNOWN_REASON, "unknown"
    if record is not None:
        after_commit(redis_store.client.delete, jobs.record_key(send_id))
    log.warning("system e-mail send %s left by a dead job: %s", send_id, status)
    return status


def requeue_send(send_id: int) -> bool:
    """Enqueue a due send no live job will deliver (dropping a dead job's stale record); True if
    it was enqueued."""
    if live_jobs(jobs.track(send_id)):
        return False
    record = _record(send_id)
    if record is not None:
        if _holder_alive(record):
            return False
        redis_store.client.delete(jobs.record_key(send_id))
    log.warning("system e-mail send %s is due but no job delivers it: enqueued again", send_id)
    enqueue_after_commit(jobs.deliver_send, send_id, queue="emails", track=jobs.track(send_id))
    return True
