"""Sending claimed ledger rows: a small batch is committed as ``sending``, sent, then recorded.

Each cycle is one transaction: record the previous batch's outcomes, check the run still sends,
claim the next batch (``UPDATE ... RETURNING`` from queued or due deferred rows, so a row is
claimed once however many workers race) and commit it before any SMTP transaction starts. Each
reply goes to the job's write-ahead record in Redis (``app/delivery/wal.py``) before the next
transaction starts; a cycle that meets a transient failure (database or Redis away) is retried
with backoff, the outcomes kept in memory meanwhile. If the worker dies, only that batch is left
in ``sending``, and the reaper settles it from the record.
"""
import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta

from flask import current_app
from redis.exceptions import RedisError
from sqlalchemy import bindparam, literal_column, null, select, update

from ..broadcasts.mail import BroadcastMessages
from ..broadcasts.models import BroadcastRun
from ..core.extensions import db
from ..core.transient import retrying
from ..core.utils import utcnow
from ..mail.builder import Recipient
from ..mail.suppression import Suppression
from ..mail.transport import DeliveryError, ReplyLost, TemporaryFailure, pool
from ..network.models import Customer, Site
from . import progress, services
from .models import Delivery
from .outcomes import Outcome, write_outcomes
from .ratelimit import RateLimiter
from .settings import SendPolicy
from .wal import WriteAheadLog

log = logging.getLogger(__name__)
UNKNOWN_REPLY_LOST = "outcome unknown: the connection dropped after the message was sent, before the reply"


@dataclass
class Claimed:
    """A row this job holds in ``sending``; ``previous`` is the status it was claimed from."""
    recipient: Recipient
    attempts: int
    previous: str
    next_attempt_at: object = None


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
    lease: object = None  # the job's chunks.Lease: no SMTP transaction starts once it lapses

    def __post_init__(self):
        self.limiter = RateLimiter(self.policy.rates)
        self.factory, self.needs_site = None, False
        self.transport = None
        self.where: list = []
        self.claim_statement = None  # built by _claim for the current ``where``
        self.batch: list[Claimed] = []
        self.position, self.in_smtp = 0, False
        self.wal = WriteAheadLog(self.token)

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
        """Give the SMTP connection back to the pool (dropped if a transaction was cut short) and
        the record's connection; the record goes when no row is left in ``sending`` and every
        outcome is committed."""
        if self.transport is not None:
            pool.release(self.policy.smtp_url, self.transport, healthy=not self.in_smtp)
            self.transport = None
        self.wal.close(drop=not self.outcomes and not self.batch)

    def _next_batch(self) -> bool:
        """Record the outcomes and claim the next batch in one transaction, tried again while the
        database or Redis fails transiently (the outcomes wait in memory and in the record)."""
        pause_reason = progress.failure_streak(self.run_id, self.outcomes, self.policy.pause_after)
        written = retrying(self._record_and_claim, pause_reason, what=f"run {self.run_id}: recording")
        self._after_commit(written)
        return bool(self.batch)

    def _record_and_claim(self, pause_reason) -> list:
        written = list(self.outcomes)
        write_outcomes(self.run_id, self.token, written)
        if pause_reason:
            services.pause_run(self.run_id, pause_reason)
        batch, stop_reason = [], "timeup"
        if self.deadline is None or time.monotonic() <= self.deadline:
            batch = self._claim()
            stop_reason = "" if batch else self._why_nothing()
        if batch:
            self.wal.begin([c.recipient.delivery_id for c in batch])
        db.session.commit()
        self.outcomes, self.batch, self.position, self.stop_reason = [], batch, 0, stop_reason
        return written

    def _why_nothing(self) -> str:
        status = db.session.scalar(select(BroadcastRun.status).where(BroadcastRun.id == self.run_id))
        return "done" if status == "sending" else "stopped"

    def _claim_statement(self):
        """The claiming UPDATE for ``self.where``, built once per ``run()`` (not per batch)."""
        ids = (select(Delivery.id).where(Delivery.run_id == self.run_id, *self.where)
               .order_by(Delivery.id).limit(self.policy.batch_size))
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
                .returning(Delivery.id, Delivery.email, Delivery.customer_id, Delivery.attempts,
                           Delivery.next_attempt_at, *self._personal_columns())
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
        if self.transport is None:
            self.transport = pool.acquire(self.policy.smtp_url)
        for self.position, claimed in enumerate(self.batch):
            self.limiter.wait(len(self.batch) - self.position)
            message_id, envelope_from, data = self.factory.build(claimed.recipient)
            if self.lease is not None:
                self.lease.check()  # LeaseLost: the reaper may soon hand these rows to others
            self.wal.started(claimed.recipient.delivery_id)
            self.in_smtp = True
            try:
                result = self._transmit(data, envelope_from, claimed.recipient.email)
            except DeliveryError as error:
                outcome = self._failure(claimed, error, message_id)
            except RedisError:  # the record failed before the final dot: nothing was delivered
                self.in_smtp = False
                raise
            else:
                outcome = Outcome(claimed.recipient.delivery_id, claimed.recipient.email, "sent",
                                  result.code, result.reply[:500], message_id, sent_at=utcnow())
            self.in_smtp = False
            self.outcomes.append(outcome)
            self.wal.record(outcome)
        self.position = len(self.batch)

    def _transmit(self, data, envelope_from, recipient):
        """One SMTP transaction; the record's ``started`` entry is acknowledged before the final
        dot (by the transport when it can, before the transaction otherwise)."""
        if getattr(self.transport, "confirms_before_data_end", False):
            return self.transport.send(data, envelope_from, recipient, before_data_end=self.wal.confirm)
        self.wal.confirm()
        return self.transport.send(data, envelope_from, recipient)

    def _failure(self, claimed: Claimed, error: DeliveryError, message_id) -> Outcome:
        recipient, reply = claimed.recipient, f"{error.code} {error.reply}"[:500]
        if isinstance(error, ReplyLost):  # maybe delivered: never tried again by itself
            return Outcome(recipient.delivery_id, recipient.email, "unknown", None,
                           f"{UNKNOWN_REPLY_LOST}: {error.reply}"[:500], message_id)
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
    def _after_commit(self, outcomes) -> None:
        """Redis bookkeeping of committed outcomes (rate, record); a failure here loses nothing."""
        if not outcomes:
            return
        try:
            progress.record_sent(self.run_id, sum(1 for o in outcomes if o.status == "sent"))
        except RedisError as error:
            log.warning("run %s: cannot count the rate: %s", self.run_id, error)
        self.wal.settle(outcomes)

    def _recover(self) -> None:
        """After an error: keep the outcomes we have, give back rows never attempted. What cannot
        be written now stays in the record for the reaper."""
        try:
            db.session.rollback()
            written = list(self.outcomes)
            write_outcomes(self.run_id, self.token, written)
            untouched = self.batch[self.position + (1 if self.in_smtp else 0):]
            if untouched:
                db.session.execute(
                    update(Delivery.__table__)
                    .where(Delivery.id == bindparam("row_id"), Delivery.claim == self.token)
                    .values(status=bindparam("back_to"), attempts=Delivery.attempts - 1, claim=None),
                    [{"row_id": c.recipient.delivery_id, "back_to": c.previous} for c in untouched])
            db.session.commit()
            self.outcomes = []
            self.batch = self.batch[self.position:self.position + 1] if self.in_smtp else []
            self._after_commit(written)
        except Exception:  # the reaper settles what we could not write back, from the record
            log.exception("run %s: cannot record the outcomes after an error", self.run_id)
            db.session.rollback()
