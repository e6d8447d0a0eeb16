"""The RQ job that delivers one system-e-mail send: claim, check, SMTP, record, retry or suppress.

A send is claimed (queued/deferred -> sending) in its own commit before the SMTP transaction, so a
second worker or a repeated job never sends it twice; a worker killed mid-send leaves the row in
``sending`` where the log shows it, never silently re-sent.
"""
import logging
from datetime import timedelta

from flask import current_app
from sqlalchemy import update

from ..core.extensions import db
from ..core.hooks import do_action
from ..core.utils import utcnow
from ..mail.suppression import Suppression
from ..mail.transport import DeliveryError, TemporaryFailure, make_transport
from . import events
from .message import build_message
from .models import SystemEmail, SystemEmailSend

log = logging.getLogger(__name__)
CLAIMABLE = ("queued", "deferred")


def _claim(send_id: int) -> bool:
    result = db.session.execute(
        update(SystemEmailSend)
        .where(SystemEmailSend.id == send_id, SystemEmailSend.status.in_(CLAIMABLE))
        .values(status="sending", attempts=SystemEmailSend.attempts + 1, last_attempt_at=utcnow()))
    db.session.commit()
    return result.rowcount == 1


def deliver_send(send_id: int) -> str:
    """Deliver send ``send_id``; returns its new status (the job's result)."""
    if not _claim(send_id):
        return "not claimable"
    send = db.session.get(SystemEmailSend, send_id)
    if send.role != "test" and not send.email.active:
        return _finish(send, "cancelled", reason="the e-mail was deactivated before it was sent")
    blocked = events.suppressed_addresses([send.recipient])
    if blocked:
        return _finish(send, "skipped", reason=f"suppressed: the address {blocked[send.recipient]}")
    send.message_id, envelope_from, data = build_message(send)
    try:
        transport = make_transport(current_app.config["SMTP_URL"])
    except ValueError as error:
        return _failed(send, TemporaryFailure(421, str(error)))
    try:
        result = transport.send(data, envelope_from, send.recipient)
    except DeliveryError as error:
        return _failed(send, error)
    finally:
        transport.close()
    return _finish(send, "sent", reply=f"{result.code} {result.reply}")


def _failed(send: SystemEmailSend, error: DeliveryError) -> str:
    """Retry a temporary failure with exponential backoff; record a permanent one (and suppress)."""
    reply = f"{error.code} {error.reply}"
    config = current_app.config
    if error.temporary and send.attempts < config.get("SYSTEM_EMAIL_MAX_ATTEMPTS", 5):
        backoff = config.get("SYSTEM_EMAIL_RETRY_SECONDS", 60) * 2 ** (send.attempts - 1)
        send.status, send.reply = "deferred", reply[:500]
        send.scheduled_for = utcnow() + timedelta(seconds=backoff)
        events.queue_delivery(send, timedelta(seconds=backoff))
        db.session.commit()
        return "deferred"
    if error.mailbox_rejected and db.session.get(Suppression, send.recipient) is None:
        db.session.add(Suppression(email=send.recipient, reason="bounced", source="system_email",
                                   detail=reply[:500]))
    return _finish(send, "failed", reply=reply)


def _finish(send: SystemEmailSend, status: str, reply=None, reason=None) -> str:
    send.status = status
    send.reply = reply[:500] if reply else send.reply
    send.reason = reason or send.reason
    if status == "sent":
        send.sent_at = utcnow()
    if send.role != "test" and status in ("sent", "failed"):
        column = SystemEmail.sent_count if status == "sent" else SystemEmail.failed_count
        values = {column.key: column + 1}
        if status == "sent":
            values["last_sent_at"] = send.sent_at
        db.session.execute(update(SystemEmail).where(SystemEmail.id == send.email_id).values(**values))
    db.session.commit()
    if status in ("sent", "failed"):
        do_action(f"system_email_{status}", send)
    log.info("system e-mail send %s to %s: %s %s", send.id, send.recipient, status, send.reply or "")
    return status
