"""Sending claimed ledger rows: a batch is committed as ``sending`` before any SMTP, sent, then recorded."""
import json
import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta

from flask import current_app
from sqlalchemy import bindparam, func, literal_column, null, select, text, update

from ..broadcasts.mail import BroadcastMessages
from ..broadcasts.models import BroadcastRun
from ..core.extensions import db
from ..core.hooks import do_action, registry
from ..core.utils import normalise_email, utcnow
from ..mail.builder import Recipient
from ..mail.suppression import Suppression
from ..mail.outcomes import SENT, UNKNOWN, DeliveryError, PermanentFailure, TemporaryFailure, local_result
from ..mail.transport import pool
from ..network.models import Customer, Site
from . import progress, services
from .models import Delivery
from .planning import insert_or_ignore
from .ratelimit import STOP_POLL, RateLimiter
from .settings import SendPolicy

log = logging.getLogger(__name__)


@dataclass
class Claimed:
    """A row this job holds in ``sending``; ``previous`` is the status it was claimed from."""
    recipient: Recipient
    attempts: int
    previous: str
    next_attempt_at: object = None


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


@dataclass
class Sender:
    """Sends rows of one run for one job (holding lease ``token``) until ``deadline``.

    ``run(where)`` may be called several times (one chunk after another): the compiled message,
    the SMTP connection and the policy are reused; ``close()`` gives the connection back.
    """
    run_id: int
    token: str
    deadline: float | None = None
    policy: SendPolicy = field(default_factory=SendPolicy.current)
    stop_reason: str = ""
    earliest_retry: object = None
    outcomes: list = field(default_factory=list)

    def __post_init__(self):
        self.limiter = RateLimiter(self.policy.rates)
        # A claim holds about a second of sending at the configured rate (at least one message),
        # so a pause or a cancel never waits behind a long batch; unlimited: the full batch.
        self.claim_size = min(self.policy.batch_size, self.limiter.slots_per_call or self.policy.batch_size)
        self.next_stop_check = 0.0
        self.factory, self.needs_site = None, False
        self.transport = None
        self.where: list = []
        self.claim_statement = None  # built by _claim for the current ``where``
        self.batch: list[Claimed] = []
        self.position, self.in_smtp = 0, False

    # -- the loop -----------------------------------------------------------
    def run(self, where: list) -> str:
        """Send the rows matched by ``where`` (conditions on Delivery) until none is left, the run
        stops, or the time box ends; returns why it ended ("done", "stopped", "timeup")."""
        self.where, self.claim_statement = where, None
        if self.factory is None:
            run = db.session.get(BroadcastRun, self.run_id)
            self.factory = BroadcastMessages(run.broadcast, run.id)
            self.needs_site = self.factory.needs_site
            db.session.commit()
        try:
            while self._next_batch():
                self._send_batch()
            return self.stop_reason
        except BaseException:
            self._recover()
            raise

    def close(self) -> None:
        """Give the SMTP connection back to the pool (dropped if a transaction was cut short)."""
        if self.transport is not None:
            pool.release(self.policy.smtp_url, self.transport, healthy=not self.in_smtp)
            self.transport = None

    def _next_batch(self) -> bool:
        pause_reason = progress.failure_streak(self.run_id, self.outcomes, self.policy.pause_after)
        untouched = self.batch[self.position:]  # not attempted: the run was stopped
        run_status = self._lock_run() if untouched else None
        written = self._write_outcomes()
        self._give_back(untouched, run_status)
        self._announce(written)
        if pause_reason:
            services.pause_run(self.run_id, pause_reason)
        self.batch, self.position = [], 0
        if self.deadline is not None and time.monotonic() > self.deadline:
            self.stop_reason = "timeup"
        else:
            self.batch = self._claim()
            self.stop_reason = "" if self.batch else self._why_nothing()
        db.session.commit()
        self._after_commit(written)
        return bool(self.batch)

    def _why_nothing(self) -> str:
        status = db.session.scalar(select(BroadcastRun.status).where(BroadcastRun.id == self.run_id))
        return "done" if status == "sending" else "stopped"

    def _claim_statement(self):
        """The claiming UPDATE for ``self.where``, built once per ``run()`` (not per batch)."""
        ids = (select(Delivery.id).where(Delivery.run_id == self.run_id, *self.where)
               .order_by(Delivery.id).limit(self.claim_size))
        if db.engine.dialect.name == "postgresql":
            ids = ids.with_for_update(skip_locked=True)
        # A CTE is evaluated once: PostgreSQL may re-run a LIMIT subquery inside IN (...) and so
        # claim more rows than the batch.
        claimable = ids.cte("claimable")
        sending = select(BroadcastRun.id).where(BroadcastRun.id == self.run_id,
                                                BroadcastRun.status == "sending").exists()
        return (update(Delivery).where(Delivery.id.in_(select(claimable.c.id)), sending, *self.where)
                .values(status="sending", claim=self.token, attempts=Delivery.attempts + 1,
                        last_attempt_at=bindparam("now"))
                .returning(Delivery.id, func.coalesce(Delivery.spelling, Delivery.email),  # sent to
                           Delivery.customer_id, Delivery.attempts, Delivery.next_attempt_at,
                           *self._personal_columns())
                .execution_options(synchronize_session=False))

    def _claim(self) -> list[Claimed]:
        """Claim the next batch in one round trip: the UPDATE returns each row with the customer's
        name, first site and any suppression added since planning (scalar subqueries)."""
        if self.claim_statement is None:
            self.claim_statement = self._claim_statement()
        rows = db.session.execute(self.claim_statement, {"now": utcnow()}).all()
        rows.sort(key=lambda row: row.id)
        rows = self._skip_suppressed(rows)
        base_url, claimed = current_app.config["BASE_URL"], []
        for row_id, email, customer_id, attempts, next_at, name, _, domain, path in rows:  # unpacking
            site = Site.address(domain, path, base_url) if self.needs_site and (domain or path) else ""
            claimed.append(Claimed(Recipient(row_id, email, customer_id, name or "", site), attempts,
                                   "deferred" if next_at else "queued", next_at))
        return claimed

    def _personal_columns(self) -> list:
        # Correlated to the row being updated; spelled out because SQLite's RETURNING drops the
        # table name from columns (``email = email`` would compare the subquery's own column).
        customer_id, email = literal_column("deliveries.customer_id"), literal_column("deliveries.email")

        def first_site(column):
            return select(column).where(Site.customer_id == customer_id).order_by(Site.id).limit(1) \
                .scalar_subquery() if self.needs_site else null()
        return [select(Customer.name).where(Customer.id == customer_id).scalar_subquery().label("name"),
                select(Suppression.reason).where(Suppression.email == email).scalar_subquery().label("suppressed"),
                first_site(Site.domain).label("site_domain"), first_site(Site.path).label("site_path")]

    def _skip_suppressed(self, rows):
        """Rows whose address was suppressed since planning are skipped, not sent."""
        suppressed = [row for row in rows if row.suppressed]
        if not suppressed:
            return rows
        db.session.execute(update(Delivery.__table__)
                           .where(Delivery.id == bindparam("row_id"))
                           .values(status="skipped", reason=bindparam("why"), claim=None,
                                   attempts=Delivery.attempts - 1),
                           [{"row_id": row.id, "why": row.suppressed} for row in suppressed])
        return [row for row in rows if not row.suppressed]

    # -- sending --------------------------------------------------------------
    def _send_batch(self) -> None:
        """Hand each message to the transport (pipelined), then flush; see docs/delivery.md. When
        the run is paused or cancelled it stops adding messages (``position`` is the first not
        sent) and flushes those in flight; ``_next_batch`` gives back the rest."""
        if self.transport is None:
            self.transport = pool.acquire(self.policy.smtp_url)
        self.next_stop_check = 0.0  # look at the start of every batch
        flush = lambda: self._settle(self.transport.flush())  # noqa: E731 - before a wait
        for self.position, claimed in enumerate(self.batch):
            self.in_smtp = False
            if self._stopping() or not self.limiter.wait(len(self.batch) - self.position, flush, self._stopping):
                break
            try:
                message_id, envelope_from, data = self.factory.build(claimed.recipient)
            except Exception as error:  # noqa: BLE001 - one recipient's message fails, not the run
                log.warning("run %s: delivery %s not built", self.run_id, claimed.recipient.delivery_id,
                            exc_info=True)
                self._settle([local_result((claimed, None), PermanentFailure(
                    554, f"5.6.0 not sent: the message could not be built: {error}", local=True))])
                continue
            self.in_smtp = True  # from here the row may be on the wire
            self._settle(self.transport.submit((claimed, message_id), data, envelope_from,
                                               claimed.recipient.email))
        else:
            self.position, self.in_smtp = len(self.batch), True
        self._settle(self.transport.flush())
        self.in_smtp = False

    def _stopping(self) -> bool:
        """True once a pause or cancel of the run is signalled; looks in Redis at most every
        ``STOP_POLL`` seconds (one EXISTS), so it costs nothing per message at full speed."""
        now = time.monotonic()
        if now < self.next_stop_check:
            return False
        self.next_stop_check = now + STOP_POLL
        return progress.stop_signalled(self.run_id)

    def _settle(self, results) -> None:
        """Keep the outcomes of the transport's ``results`` (unknown: may have been delivered)."""
        for result in results:
            (claimed, message_id), recipient = result.key, result.key[0].recipient
            if result.status in (SENT, UNKNOWN):
                self.outcomes.append(Outcome(recipient.delivery_id, recipient.email, result.status,
                                             result.code, result.reply[:500], message_id,
                                             sent_at=utcnow() if result.accepted else None))
            else:
                self.outcomes.append(self._failure(claimed, result.error, message_id))

    def _failure(self, claimed: Claimed, error: DeliveryError, message_id) -> Outcome:
        recipient, reply = claimed.recipient, f"{error.code} {error.reply}"[:500]
        if isinstance(error, TemporaryFailure) and claimed.attempts < self.policy.max_attempts:
            due = utcnow() + timedelta(seconds=self.policy.backoff(claimed.attempts))
            if self.earliest_retry is None or due < self.earliest_retry:
                self.earliest_retry = due
            return Outcome(recipient.delivery_id, recipient.email, "deferred", error.code, reply,
                           message_id, next_attempt_at=due)
        if isinstance(error, TemporaryFailure):
            reply = f"gave up after {claimed.attempts} attempts: {reply}"[:500]
        return Outcome(recipient.delivery_id, recipient.email, "failed", error.code, reply, message_id,
                       rejected=error.mailbox_rejected)

    # -- recording -----------------------------------------------------------
    def _write_outcomes(self) -> list:
        outcomes, self.outcomes = self.outcomes, []
        if not outcomes:
            return outcomes
        sent = sum(1 for o in outcomes if o.status == "sent")
        failed = sum(1 for o in outcomes if o.status == "failed")
        # First the run's row (its counters, in the same transaction as the outcomes), then the
        # ledger and its counters: the order a cancel takes them in, so the two never deadlock.
        if sent or failed:
            db.session.execute(COUNT_OUTCOMES, {"run": self.run_id, "sent": sent, "failed": failed})
        else:
            self._lock_run()
        record_outcomes(self.token, outcomes)
        rejections = {normalise_email(o.email): o.reply for o in outcomes if o.rejected}
        if rejections:  # suppressed as "bounced": the address cannot take mail
            db.session.execute(insert_or_ignore(Suppression.__table__).values(
                [{"email": email, "reason": "bounced", "source": "smtp", "detail": reply,
                  "created_at": utcnow()} for email, reply in rejections.items()])
                .on_conflict_do_nothing(index_elements=["email"]))
        return outcomes

    def _announce(self, outcomes) -> None:
        """``delivery_results_recorded``, inside the transaction that writes the outcomes."""
        if outcomes and registry().has("delivery_results_recorded"):
            do_action("delivery_results_recorded", self.run_id, outcomes)

    def _after_commit(self, outcomes) -> None:
        if outcomes:
            progress.record_sent(self.run_id, sum(1 for o in outcomes if o.status == "sent"))

    def _lock_run(self) -> str:
        """Lock the run's row and return its status, before any ledger write of the transaction
        (a cancel locks the run first too: the same order, so no deadlock on the counters)."""
        return db.session.scalar(select(BroadcastRun.status).where(BroadcastRun.id == self.run_id)
                                 .with_for_update())

    def _give_back(self, untouched: list, status: str | None) -> None:
        """Rows claimed and never attempted go back to the status they were claimed from, or
        become skipped (cancelled) when the run is cancelled (``status``: the run's, read with
        ``_lock_run`` in this transaction, so a cancel committed before or waits for the rows)."""
        if not untouched:
            return
        if status == "sending":  # a stale signal (the run was resumed meanwhile): carry on next time
            progress.clear_stop(self.run_id)
        cancelled = status == "cancelled"
        db.session.execute(
            update(Delivery.__table__)
            .where(Delivery.id == bindparam("row_id"), Delivery.claim == self.token)
            .values(status=bindparam("back_to"), reason=bindparam("why"), attempts=Delivery.attempts - 1,
                    claim=None, next_attempt_at=bindparam("next_at")),
            [{"row_id": c.recipient.delivery_id, "back_to": "skipped" if cancelled else c.previous,
              "why": "cancelled" if cancelled else None, "next_at": None if cancelled else c.next_attempt_at}
             for c in untouched])

    def _recover(self) -> None:
        """After an error: keep the outcomes we have, give back rows never attempted."""
        try:
            db.session.rollback()
            untouched = self.batch[self.position + (1 if self.in_smtp else 0):]
            run_status = self._lock_run() if untouched else None
            written = self._write_outcomes()
            self._give_back(untouched, run_status)
            self._announce(written)
            db.session.commit()
            self._after_commit(written)
        except Exception:  # the reaper reports what we could not write back as unknown
            log.exception("run %s: cannot record the outcomes after an error", self.run_id)
            db.session.rollback()


_RUNS = BroadcastRun.__table__
COUNT_OUTCOMES = (update(_RUNS).where(_RUNS.c.id == bindparam("run"))  # built once, not per batch
                  .values(sent=_RUNS.c.sent + bindparam("sent"), failed=_RUNS.c.failed + bindparam("failed")))
OUTCOMES_PG = text("""
UPDATE deliveries AS d SET status = v.status, code = v.code, reply = v.reply,
       message_id = v.message_id, sent_at = v.sent_at, next_attempt_at = v.next_at, claim = NULL
FROM json_to_recordset(CAST(:rows AS json))
     AS v(id bigint, status text, code integer, reply text, message_id text, sent_at timestamp,
          next_at timestamp)
WHERE d.id = v.id AND d.claim = :token
""")


def _iso(moment):
    return moment.isoformat() if moment is not None else None


def record_outcomes(token: str, outcomes) -> None:
    """Write a batch of outcomes for rows still claimed by ``token`` in one statement (PostgreSQL:
    an UPDATE from one JSON document, one round trip and one parameter to encode) or one
    executemany (SQLite, in-process)."""
    if db.engine.dialect.name == "postgresql":
        db.session.execute(OUTCOMES_PG, {"token": token, "rows": json.dumps([
            {"id": o.id, "status": o.status, "code": o.code, "reply": o.reply,
             "message_id": o.message_id, "sent_at": _iso(o.sent_at), "next_at": _iso(o.next_attempt_at)}
            for o in outcomes])})
        return
    db.session.execute(
        update(Delivery.__table__)
        .where(Delivery.id == bindparam("row_id"), Delivery.claim == token)
        .values(status=bindparam("new_status"), code=bindparam("new_code"), reply=bindparam("new_reply"),
                message_id=bindparam("new_message_id"), sent_at=bindparam("new_sent_at"),
                next_attempt_at=bindparam("new_next"), claim=None),
        [{"row_id": o.id, "new_status": o.status, "new_code": o.code, "new_reply": o.reply,
          "new_message_id": o.message_id, "new_sent_at": o.sent_at, "new_next": o.next_attempt_at}
         for o in outcomes])
