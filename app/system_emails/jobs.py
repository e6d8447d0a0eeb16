"""The RQ job that delivers one system-e-mail send: claim, check, SMTP, record, retry or suppress.

A send is claimed (queued/deferred -> sending) in its own commit before the SMTP transaction, so a
second worker or a repeated job never sends it twice. While it works the job holds a lease on the
send (``<prefix>:system-emails:lease:<id>``) and keeps a write-ahead record in Redis
(``<prefix>:system-emails:wal:<id>``): ``claimed`` before the claim commits, ``smtp`` before the
transaction starts, then the server's answer, each acknowledged before the next step. Writing the
answer is retried while the database fails transiently. A send a dead job left in ``sending`` is
settled by the supervisor from that record (``app/system_emails/healing.py``).
"""
import json
import logging
import secrets
from datetime import timedelta

from flask import current_app
from redis.exceptions import RedisError
from sqlalchemy import update

from ..core.content_limits import ContentLimit
from ..core.extensions import db, redis_store
from ..core.hooks import do_action
from ..core.jobs import after_commit
from ..core.leases import Lease, redis_run_id
from ..core.transient import retry_transient, retrying
from ..core.utils import utcnow
from ..mail.suppression import Suppression
from ..mail.transport import DeliveryError, TemporaryFailure, UnknownOutcome, make_transport
from . import events
from .message import build_message
from .models import SystemEmail, SystemEmailSend

log = logging.getLogger(__name__)
CLAIMABLE = ("queued", "deferred")
RECORD_TTL = 7 * 86400
FORGET_OWN = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"


def track(send_id: int) -> str:
    """The job-tracking name of the jobs that deliver send ``send_id``."""
    return f"system-email:{send_id}"


def lease_key(token: str) -> str:
    """The lease of the job with ``token`` (alive while it delivers)."""
    return redis_store.key("system-emails", "lease", token)


def record_key(send_id: int) -> str:
    """The write-ahead record of send ``send_id``: JSON ``{"stage": "claimed" | "smtp" |
    "answer", "redis": <server run_id>, "token": <job's lease>, "answer": <outcome>}``."""
    return redis_store.key("system-emails", "wal", send_id)


class Record:
    """The record one job keeps for one send; ``open`` fails when another job's record exists."""

    def __init__(self, send_id: int, token: str):
        self.key, self.token, self.value = record_key(send_id), token, None

    def write(self, stage: str, answer: dict | None = None, only_new: bool = False) -> bool:
        """Set the stage (acknowledged); ``only_new``: only if no record exists. True if set."""
        value = json.dumps({"stage": stage, "redis": redis_run_id(), "token": self.token, "answer": answer})
        if not redis_store.client.set(self.key, value, ex=RECORD_TTL, nx=only_new):
            return False
        self.value = value
        return True

    def forget(self) -> None:
        """Delete the record if it is still this job's."""
        if self.value is not None:
            redis_store.client.eval(FORGET_OWN, 1, self.key, self.value)


def _claim(send_id: int) -> bool:
    result = db.session.execute(
        update(SystemEmailSend)
        .where(SystemEmailSend.id == send_id, SystemEmailSend.status.in_(CLAIMABLE))
        .values(status="sending", attempts=SystemEmailSend.attempts + 1, last_attempt_at=utcnow()))
    db.session.commit()
    return result.rowcount == 1


@retry_transient
def deliver_send(send_id: int) -> str:
    """Deliver send ``send_id``; returns its new status (the job's result), or "not claimable"
    when it is not queued or deferred, or another job's record holds it."""
    token = secrets.token_hex(8)
    with Lease(lease_key(token), float(current_app.config["JOB_LEASE_SECONDS"])):
        record = Record(send_id, token)
        if not record.write("claimed", only_new=True):
            return "not claimable"
        if not _claim(send_id):
            record.forget()
            return "not claimable"
        return _deliver(db.session.get(SystemEmailSend, send_id), record)


def _deliver(send: SystemEmailSend, record: Record) -> str:
    if send.role != "test" and not send.email.active:
        return settle(send.id, {"status": "cancelled",
                                "reason": "the e-mail was deactivated before it was sent"}, record)
    blocked = events.suppressed_addresses([send.recipient])
    if blocked:
        return settle(send.id, {"status": "skipped",
                                "reason": f"suppressed: the address {blocked[send.recipient]}"}, record)
    try:
        message_id, envelope_from, data = build_message(send)
    except ContentLimit as limit:  # content saved before a limit existed: this send only
        return settle(send.id, {"status": "skipped", "reason": f"skipped: {limit}"[:500]}, record)
    try:
        transport = make_transport(current_app.config["SMTP_URL"])
    except ValueError as error:
        return settle(send.id, answer(TemporaryFailure(421, str(error)), message_id), record)
    record.write("smtp")
    try:
        result = transport.send(data, envelope_from, send.recipient)
    except DeliveryError as error:
        outcome = answer(error, message_id)
    else:
        outcome = {"status": "sent", "reply": f"{result.code} {result.reply}", "message_id": message_id}
    finally:
        transport.close()
    try:
        record.write("answer", outcome)
    except RedisError as error:  # the database write below is what counts; the record helps the reaper
        log.warning("send %s: cannot record the answer: %s", send.id, error)
    return settle(send.id, outcome, record)


def answer(error: DeliveryError, message_id=None) -> dict:
    """The outcome of a refused attempt: ``failed`` or, for a temporary failure, ``retry``;
    ``unknown`` when the reply was lost after the message was sent (never tried again)."""
    if isinstance(error, UnknownOutcome):
        return {"status": "unknown", "reply": f"{error.code} {error.reply}", "message_id": message_id,
                "reason": "outcome unknown: the connection dropped after the message was sent"}
    return {"status": "retry" if error.temporary else "failed", "reply": f"{error.code} {error.reply}",
            "rejected": error.mailbox_rejected, "message_id": message_id}


def settle(send_id: int, outcome: dict, record: Record) -> str:
    """Write ``outcome`` for the send and commit, retried while the database fails transiently,
    then drop the record; returns the new status."""
    def write():
        status = apply(db.session.get(SystemEmailSend, send_id), outcome)
        db.session.commit()
        return status
    status = retrying(write, what=f"system e-mail send {send_id}")
    try:
        record.forget()
    except RedisError as error:  # stale: the send is no longer sending, so nobody reads it
        log.warning("send %s: cannot drop the record: %s", send_id, error)
    send = db.session.get(SystemEmailSend, send_id)
    log.info("system e-mail send %s to %s: %s %s", send_id, send.recipient, status, send.reply or "")
    return status


def apply(send: SystemEmailSend, outcome: dict) -> str:
    """Set the send's status from ``outcome`` (no commit): a temporary failure is deferred with
    exponential backoff until ``SYSTEM_EMAIL_MAX_ATTEMPTS``, a mailbox rejection suppresses the
    address; ``system_email_sent`` / ``system_email_failed`` fire after the commit."""
    status, reply, config = outcome["status"], outcome.get("reply"), current_app.config
    send.message_id = outcome.get("message_id") or send.message_id
    if status == "retry" and send.attempts < config.get("SYSTEM_EMAIL_MAX_ATTEMPTS", 5):
        backoff = config.get("SYSTEM_EMAIL_RETRY_SECONDS", 60) * 2 ** (send.attempts - 1)
        send.status, send.reply = "deferred", reply[:500]
        send.scheduled_for = utcnow() + timedelta(seconds=backoff)
        events.queue_delivery(send, timedelta(seconds=backoff))
        return "deferred"
    if status == "retry":
        status = "failed"
    if outcome.get("rejected") and db.session.get(Suppression, send.recipient) is None:
        db.session.add(Suppression(email=send.recipient, reason="bounced", source="system_email",
                                   detail=reply[:500]))
    send.status = status
    send.reply = reply[:500] if reply else send.reply
    send.reason = outcome.get("reason") or send.reason
    if status == "sent":
        send.sent_at = utcnow()
    if send.role != "test" and status in ("sent", "failed"):
        column = SystemEmail.sent_count if status == "sent" else SystemEmail.failed_count
        values = {column.key: column + 1}
        if status == "sent":
            values["last_sent_at"] = send.sent_at
        db.session.execute(update(SystemEmail).where(SystemEmail.id == send.email_id).values(**values))
    if status in ("sent", "failed"):
        after_commit(do_action, f"system_email_{status}", send)
    return status
