"""Outcomes of sending attempts and writing them to the ledger, for the send loop and the reaper.

An outcome is written for a row only by the holder of the claim that holds it (the sender, which
has locked its claim row with ``claims.hold``, or the reaper, which has deleted a dead job's claim
row): it is the row's one write per attempt (status, reply, ``attempts + 1``, the attempt's time;
migration 0022), with the run's counters, the suppression of rejected mailboxes and the
``delivery_results_recorded`` action in the same transaction; the caller commits. Outcomes also
travel as JSON through the write-ahead record in Redis (``app/delivery/wal.py``).
"""
import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select, text, update

from ..broadcasts.models import BroadcastRun
from ..core.extensions import db
from ..core.hooks import do_action, registry
from ..core.jobs import after_commit
from ..core.utils import normalise_email, utcnow
from ..mail.suppression import Suppression
from .models import Delivery
from .planning import insert_or_ignore
from .progress import clear_stop


@dataclass
class Outcome:
    """The result of one attempt, waiting to be written with the next batch."""
    id: int
    email: str
    status: str
    code: int | None
    reply: str
    message_id: str | None = None
    sent_at: object = None
    next_attempt_at: object = None
    rejected: bool = False  # a mailbox rejection (5xx at RCPT or DATA): the address is suppressed
    # Refused for good by Herald itself for this recipient alone (no address, no SMTPUTF8 at the
    # server, a message that cannot be built): says nothing of the transport, so it neither makes
    # nor breaks the failure streak (``progress.failure_streak``). Not kept in the record.
    own_refusal: bool = False

    def to_json(self) -> str:
        """The outcome without its address (the ledger row has it), as a compact JSON array (RFC
        8259) written by hand with the C string escaper: a third of the cost of ``json.dumps``."""
        return "[%s,%s,%s,%s,%s,%s,%s]" % (
            _string(self.status), "null" if self.code is None else int(self.code), _string(self.reply),
            _string(self.message_id), _string(_iso(self.sent_at)), _string(_iso(self.next_attempt_at)),
            "true" if self.rejected else "false")

    @classmethod
    def from_json(cls, row_id: int, email: str, data) -> "Outcome":
        """The outcome ``to_json`` wrote for row ``row_id`` (address ``email``)."""
        status, code, reply, message_id, sent_at, next_at, rejected = json.loads(data)
        return cls(row_id, email, status, code, reply, message_id, _parse(sent_at), _parse(next_at),
                   rejected)


UNKNOWN_STOPPED = ("outcome unknown: the send stopped on an error after the message was sent, "
                   "before the server's reply")
_ESCAPE = json.encoder.encode_basestring_ascii  # a JSON string literal, escaped (C)
_RUNS = BroadcastRun.__table__
LOCK_RUN = select(_RUNS.c.status).where(_RUNS.c.id == bindparam("run")).with_for_update()
COUNT_OUTCOMES = (update(_RUNS).where(_RUNS.c.id == bindparam("run"))  # built once, not per batch
                  .values(sent=_RUNS.c.sent + bindparam("sent"), failed=_RUNS.c.failed + bindparam("failed")))
# The run's counters, then one UPDATE from a JSON document planned without sequential scans
# (migration 0022): one round trip.
OUTCOMES_PG = text("SELECT herald_record_outcomes(:run, :sent, :failed, CAST(:rows AS json), :attempted_at)")


def _string(value) -> str:
    return "null" if value is None else _ESCAPE(value)


def _iso(moment):
    return moment.isoformat() if moment is not None else None


def _parse(value):
    return datetime.fromisoformat(value) if value else None


def record_outcomes(outcomes, attempted_at, run_id: int, sent: int = 0, failed: int = 0) -> None:
    """Write a batch of outcomes of attempts made at ``attempted_at`` (the claim's time) in one
    statement with the run's ``sent`` and ``failed`` counters (PostgreSQL: ``herald_record_outcomes``,
    the counters then an UPDATE from one JSON document planned without sequential scans, one round
    trip and one parameter to encode) or one executemany after the counters (SQLite, in-process). A row a cancel skipped meanwhile gets its
    outcome all the same (its message went out) and loses the cancel's reason."""
    if db.engine.dialect.name == "postgresql":  # on the session's connection: no ORM overhead
        db.session.connection().execute(OUTCOMES_PG, {"run": run_id, "sent": sent, "failed": failed,
                                         "attempted_at": attempted_at, "rows": json.dumps([
            {"id": o.id, "status": o.status, "code": o.code, "reply": o.reply,
             "message_id": o.message_id, "sent_at": _iso(o.sent_at), "next_at": _iso(o.next_attempt_at)}
            for o in outcomes])})
        return
    if sent or failed:
        db.session.execute(COUNT_OUTCOMES, {"run": run_id, "sent": sent, "failed": failed})
    db.session.execute(
        update(Delivery.__table__)
        .where(Delivery.id == bindparam("row_id"))
        .values(status=bindparam("new_status"), code=bindparam("new_code"), reply=bindparam("new_reply"),
                message_id=bindparam("new_message_id"), sent_at=bindparam("new_sent_at"),
                next_attempt_at=bindparam("new_next"), reason=None, attempts=Delivery.attempts + 1,
                last_attempt_at=attempted_at),
        [{"row_id": o.id, "new_status": o.status, "new_code": o.code, "new_reply": o.reply,
          "new_message_id": o.message_id, "new_sent_at": o.sent_at, "new_next": o.next_attempt_at}
         for o in outcomes])


def lock_run(run_id: int) -> str:
    """Lock the run's row and return its status, before any ledger write of the transaction
    (a cancel locks the run first too: the same order, so no deadlock on the counters)."""
    return db.session.connection().scalar(LOCK_RUN, {"run": run_id})


def give_back(run_id: int, untouched: list, status: str | None) -> None:
    """Rows claimed and never attempted (``Claimed`` items) need no write: the ledger still has
    them in the status they were claimed from, and a cancel has skipped them already (it skips
    every queued or deferred row). ``status``: the run's, read with ``lock_run`` in this
    transaction; a stop signal left over on a sending run (resumed meanwhile) is cleared."""
    if untouched and status == "sending":  # a stale signal: carry on next time
        after_commit(clear_stop, run_id)


def write_outcomes(run_id: int, outcomes, attempted_at) -> None:
    """Record ``outcomes`` (of rows the caller holds, attempted at ``attempted_at``), add them to the run's sent and failed
    counters, suppress rejected mailboxes as ``bounced`` and fire ``delivery_results_recorded``;
    the caller commits. The run's row comes first (its counters, or a lock), then the ledger: the
    order a cancel takes them in, so the two never deadlock."""
    if not outcomes:
        return
    sent = sum(1 for o in outcomes if o.status == "sent")
    failed = sum(1 for o in outcomes if o.status == "failed")
    if not (sent or failed) and db.engine.dialect.name != "postgresql":
        lock_run(run_id)
    record_outcomes(outcomes, attempted_at, run_id, sent, failed)  # the run's counters first
    rejections = {normalise_email(o.email): o.reply for o in outcomes if o.rejected}
    if rejections:  # suppressed as "bounced": the address cannot take mail
        db.session.execute(insert_or_ignore(Suppression.__table__).values(
            [{"email": email, "reason": "bounced", "source": "smtp", "detail": reply,
              "created_at": utcnow()} for email, reply in rejections.items()])
            .on_conflict_do_nothing(index_elements=["email"]))
    if registry().has("delivery_results_recorded"):
        do_action("delivery_results_recorded", run_id, outcomes)
