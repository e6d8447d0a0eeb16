"""Outcomes of sending attempts and writing them to the ledger, for the send loop and the reaper.

An outcome is written for a row only by the holder of the claim that holds it (the sender, which
has locked its claim row with ``claims.hold``, or the reaper, which has deleted a dead job's claim
row): it is the row's one write per attempt (status, reply, ``attempts + 1``, the attempt's time;
migration 0022), with the run's live counters (the ledger's trigger), the suppression of rejected mailboxes and the
``delivery_results_recorded`` action in the same transaction; the caller commits. Outcomes also
travel as JSON through the write-ahead record in Redis (``app/delivery/wal.py``).
"""
import json
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import bindparam, select, text, update

from ..broadcasts.models import BroadcastRun
from ..core.extensions import db
from ..core.hooks import do_action, registry
from ..core.inputs import escape_controls
from ..core.jobs import after_commit
from ..core.utils import normalise_email, utcnow
from ..mail.suppression import Suppression
from .models import Delivery
from .planning import insert_or_ignore
from .progress import clear_stop


@dataclass(slots=True)
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
    # nor breaks the failure streak (``progress.Streak``). Not kept in the record.
    own_refusal: bool = False
    # ``to_json``'s text, made once: the record and the ledger's document (``record_outcomes``)
    # both use it. An outcome is not changed once made.
    _json: str | None = field(default=None, init=False, repr=False, compare=False)

    def to_json(self) -> str:
        """The outcome without its address (the ledger row has it), as a compact JSON array (RFC
        8259) written by hand with the C string escaper: a third of the cost of ``json.dumps``."""
        if self._json is None:
            message_id, sent_at, next_at = self.message_id, self.sent_at, self.next_attempt_at
            self._json = "[%s,%s,%s,%s,%s,%s,%s]" % (
                _ESCAPE(self.status), "null" if self.code is None else int(self.code), _ESCAPE(self.reply),
                "null" if message_id is None else _ESCAPE(message_id),
                "null" if sent_at is None else _ESCAPE(sent_at.isoformat()),
                "null" if next_at is None else _ESCAPE(next_at.isoformat()),
                "true" if self.rejected else "false")
        return self._json

    @classmethod
    def from_json(cls, row_id: int, email: str, data) -> "Outcome":
        """The outcome ``to_json`` wrote for row ``row_id`` (address ``email``). The server's text
        (the reply, the Message-ID) gets its controls written visibly (``escape_controls``, as
        where replies are read): a record written by an earlier version may hold a
        raw NUL, which PostgreSQL refuses, so the reaper's outcome write failed at every retry.
        Text already escaped comes back unchanged."""
        status, code, reply, message_id, sent_at, next_at, rejected = json.loads(data)
        return cls(row_id, email, status, code, _visible(reply, keep_newlines=True), _visible(message_id),
                   _parse(sent_at), _parse(next_at), rejected)


UNKNOWN_STOPPED = ("outcome unknown: the send stopped on an error after the message was sent, "
                   "before the server's reply")
_ESCAPE = json.encoder.encode_basestring_ascii  # a JSON string literal, escaped (C)
_RUNS = BroadcastRun.__table__
LOCK_RUN = select(_RUNS.c.status).where(_RUNS.c.id == bindparam("run")).with_for_update()
SHARE_RUN = select(_RUNS.c.status).where(_RUNS.c.id == bindparam("run")).with_for_update(read=True)
# One UPDATE from a JSON document planned without sequential scans (migrations 0022, 0023): one
# round trip. The run's row is not written: its sent and failed are the ledger's counters. Each
# outcome is an array read by position (migration 0024: cheaper than an object's keys): its row id,
# then ``Outcome.to_json``'s elements (the function reads the first six; ``rejected`` is not used).
OUTCOMES_PG = text("SELECT herald_record_outcomes(CAST(:rows AS jsonb), :attempted_at)")


def _visible(text, keep_newlines: bool = False):
    return None if text is None else escape_controls(text, keep_newlines)


def _parse(value):
    return datetime.fromisoformat(value) if value else None


def record_outcomes(outcomes, attempted_at) -> None:
    """Write a batch of outcomes of attempts made at ``attempted_at`` (the claim's time) in one
    statement (PostgreSQL: ``herald_record_outcomes``, an UPDATE from one JSON document planned
    without sequential scans, one round trip and one parameter to encode: an array
    ``[id, status, code, reply, message_id, sent_at, next_at, rejected]`` per outcome, the row id
    and then the JSON the write-ahead record got, not encoded again) or one executemany (SQLite,
    in-process). The run's row is not written (migration 0023): its sent and failed are the
    ledger's ``status:sent`` and ``status:failed`` counters, kept by the trigger in the rows' own
    shard. A row a cancel skipped meanwhile gets its outcome all the same (its message went out)
    and loses the cancel's reason."""
    if db.engine.dialect.name == "postgresql":  # on the session's connection: no ORM overhead
        rows = ",".join(["[%d,%s" % (o.id, o.to_json()[1:]) for o in outcomes])
        db.session.connection().execute(OUTCOMES_PG, {"attempted_at": attempted_at, "rows": f"[{rows}]"})
        return
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


def lock_run(run_id: int, share: bool = False) -> str:
    """Lock the run's row and return its status, before any ledger write of the transaction (a
    cancel locks the run first too: the same order, so no deadlock). ``share``: the sending jobs'
    lock (``FOR SHARE``): senders of one run do not wait for each other, while a cancel, a pause
    and the reaper (``FOR UPDATE``) wait for every sender's transaction and senders for theirs."""
    return db.session.connection().scalar(SHARE_RUN if share else LOCK_RUN, {"run": run_id})


def give_back(run_id: int, untouched: list, status: str | None) -> None:
    """Rows claimed and never attempted (``Claimed`` items) need no write: the ledger still has
    them in the status they were claimed from, and a cancel has skipped them already (it skips
    every queued or deferred row). ``status``: the run's, read with ``lock_run`` in this
    transaction; a stop signal left over on a sending run (resumed meanwhile) is cleared."""
    if untouched and status == "sending":  # a stale signal: carry on next time
        after_commit(clear_stop, run_id)


def write_outcomes(run_id: int, outcomes, attempted_at) -> None:
    """Record ``outcomes`` (of rows the caller holds, attempted at ``attempted_at``), suppress
    rejected mailboxes as ``bounced`` and fire ``delivery_results_recorded``; the caller commits,
    and has locked the run's row (``lock_run``) first: the order a cancel takes them in, so the
    two never deadlock."""
    if not outcomes:
        return
    record_outcomes(outcomes, attempted_at)
    rejections = {normalise_email(o.email): o.reply for o in outcomes if o.rejected}
    if rejections:  # suppressed as "bounced": the address cannot take mail
        db.session.execute(insert_or_ignore(Suppression.__table__).values(
            [{"email": email, "reason": "bounced", "source": "smtp", "detail": reply,
              "created_at": utcnow()} for email, reply in rejections.items()])
            .on_conflict_do_nothing(index_elements=["email"]))
    if registry().has("delivery_results_recorded"):
        do_action("delivery_results_recorded", run_id, outcomes)
