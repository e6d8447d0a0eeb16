"""Sending claimed ledger rows: a batch's claim is committed before any SMTP, sent, then recorded.

Each batch's claim is committed before its first SMTP command, by the transaction that also
writes the outcomes of the batch before it; that transaction runs in the background while the
batch before is sent (``app/delivery/recording.py``, ``app/delivery/cycle.py``) and is retried
with backoff on a transient failure, the outcomes kept in memory. The job's write-ahead record in
Redis (``app/delivery/wal.py``) gets the claim's rows in sending order before the claim commits
and the outcomes right after the replies are read; the reaper settles a dead job's claim from it.
"""
import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta

from ..broadcasts.mail import BroadcastMessages
from ..broadcasts.models import BroadcastRun
from ..core.background import Background
from ..core.extensions import db
from ..core.transient import retry_budget
from ..core.utils import utcnow
from ..mail.outcomes import SENT, UNKNOWN, DeliveryError, PermanentFailure, TemporaryFailure, local_result
from ..mail.transport import pool
from . import progress
from .claims import Claimed, Claims
from .outcomes import Outcome
from .ratelimit import STOP_POLL, RateLimiter
from .recording import Recording
from .settings import SendPolicy
from .wal import WriteAheadLog

log = logging.getLogger(__name__)
CLAIM_SECONDS = 1.0  # of sending a claim holds at most (issue section 3): at the rate limit and as measured
# Rows of a job's first two claims, before any rate is measured (the second is claimed while the
# first is sent): one message, so that even a server taking a second a message shows progress
# after about a second (ten took ten seconds there); at full speed they cost two transactions
# of one row, then the measured rate sizes the claims (full batches to a fast server).
FIRST_CLAIM = 1
LEAST_CLAIM = 1  # rows a claim holds at least, however slow the server


@dataclass
class Sender(Recording):
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
    lease: object = None  # the job's chunks.Lease: no message goes out once it lapses

    def __post_init__(self):
        self.limiter = RateLimiter(self.policy.rates, current=lambda: SendPolicy.current().rates)
        self.streak = progress.Streak(self.run_id, self.policy.pause_after)
        # A claim holds about a second of sending: at most the rate limit's reservation and the
        # rows the batch before went at in a second (``_follow_rate``), FIRST_CLAIM rows at first.
        self.measured_claim = FIRST_CLAIM
        self.claim_size = min(self.policy.batch_size, FIRST_CLAIM)
        self.next_stop_check = 0.0
        self.factory, self.needs_site = None, False
        self.transport = None
        self.where: list = []
        self.claims = None  # the Claims of the current ``where``
        self.batch: list[Claimed] = []
        self.position, self.in_smtp = 0, False
        self.waiting = False  # the record names the row at ``position`` as waiting for its slot
        self.prepared = None
        self.unsent: dict = {}  # row id -> (Claimed, message id): handed over, no outcome yet
        self.flying: dict = {}  # the same, marked in flight (its dot may be out), no outcome yet
        self.wal = WriteAheadLog(self.token)
        self.failed = False  # run() raised: the outcomes it could not write are left to the reaper
        self.retry_seconds = retry_budget()  # read in the job's thread (its RQ job's timeout)
        self.header_log = WriteAheadLog(self.token)  # the background transaction's connection
        self.background = Background(f"herald-claims-{self.token[:8]}")
        self.ahead: list[Claimed] = []  # claimed by the background transaction, sent next
        self.recording: list = []  # outcomes handed to the background transaction, not committed
        self.previous: list = []  # ids of the batch whose outcomes ``recording`` holds
        self.claimed_at = None  # when the current batch was claimed

    # -- the loop -----------------------------------------------------------
    def run(self, where: list) -> str:
        """Send the rows matched by ``where`` (conditions on Delivery) until none is left, the run
        stops, or the time box ends; returns why it ended ("done", "stopped", "timeup").

        While a batch is sent, the transaction that writes the outcomes of the batch before and
        claims the next one runs in a background thread (``app/delivery/cycle.py``), so the
        database's work and waits overlap the sending; a batch that stops early or pauses the
        run ends with the same transaction in this thread. The outcomes of the last batch wait
        for the next ``run``'s first transaction (one per chunk) or for ``close``."""
        self.where = where
        if self.factory is None:
            run = db.session.get(BroadcastRun, self.run_id)
            self.factory = BroadcastMessages(run.broadcast, run.id)
            self.needs_site = self.factory.needs_site
            db.session.commit()
        if self.claims is None or self.claims.where is not where:
            self.claims = Claims(self.run_id, self.token, self.claim_size, self.needs_site, where)
        try:
            self._cycle_now()
            while self.batch:
                self.claims.size = self.claim_size  # no transaction of the job is running now
                self._cycle_ahead()
                self._send_batch()
                self._collect()
                pause_reason = self.streak.push()
                if self.position < len(self.batch) or pause_reason or self.stop_reason == "skipping":
                    self.claims.size = self.claim_size  # _collect waited: nothing of the job runs
                    self._cycle_now(pause_reason)  # stopped or failing (give back), or skip on
                elif self.ahead:
                    self._next_ahead()
                else:  # nothing left: the outcomes go with the next transaction (or ``close``)
                    break
            return self.stop_reason
        except BaseException:
            self.failed = True  # what _recover cannot write is the reaper's, not close()'s
            self._recover()
            raise

    def close(self) -> None:
        """Write the last batch's outcomes (``run`` leaves them for the next chunk's first
        transaction), give the SMTP connection back to the pool (dropped if a transaction was cut
        short) and the record's connections; the record goes when no row is left in ``sending``
        and every outcome is committed. What cannot be written is left to the reaper."""
        if (self.outcomes or self.batch) and not self.failed:
            try:
                self._cycle_now(claim=False)
            except Exception:  # noqa: BLE001 - the record keeps them; the reaper writes them
                log.exception("run %s: cannot write the last outcomes", self.run_id)
                self._recover()
        if self.transport is not None:
            pool.release(self.policy.smtp_url, self.transport, healthy=not self.in_smtp)
            self.transport = None
        self.header_log.close()
        self.wal.close(drop=not self.outcomes and not self.batch)

    # -- sending --------------------------------------------------------------
    def _send_batch(self) -> None:
        """Hand each message to the transport (pipelined), then flush; see docs/delivery.md. When
        the run is paused or cancelled it stops adding messages (``position`` is the first not
        sent) and flushes those in flight; ``_cycle_now`` gives back the rest."""
        if self.transport is None:
            self.transport = pool.acquire(self.policy.smtp_url)
        self.next_stop_check = 0.0  # look at the start of every batch
        started = time.monotonic()
        self.prepared = None  # (Claimed, what _build gave) of the next row, built during a reply wait
        last, reclaim = len(self.batch) - 1, False
        for self.position, claimed in enumerate(self.batch):
            if self.streak.reason or self._stopping() or not self.limiter.wait(
                    len(self.batch) - self.position, self._before_wait, self._stopping):
                break
            if self.limiter.changed and self._limit_tightened():
                reclaim = True  # the rest goes back; the next claim holds a second of the new rate
                break
            prepared, self.prepared = self.prepared, None
            built = prepared[1] if prepared is not None and prepared[0] is claimed else self._build(claimed)
            if isinstance(built, Exception):
                self._settle([local_result((claimed, None), PermanentFailure(
                    554, f"5.6.0 not sent: the message could not be built: {built}", local=True))])
                continue
            message_id, envelope_from, data = built
            key = (claimed, message_id)
            whole = not getattr(self.transport, "pipelining", False)  # submit may send it all
            self._mark_in_flight(key if whole else None)
            if self.waiting:  # before the row's first SMTP write, on the record's connection
                self.wal.started()
                self.waiting = False
            self.in_smtp = True
            results = self.transport.submit(key, data, envelope_from, claimed.recipient.email,
                                            self._prepare_next if self.position < last else None)
            self.in_smtp = False
            self.unsent[claimed.recipient.delivery_id] = key
            self._settle(results)
        else:
            self.position = len(self.batch)
        # Stopped: the message whose content has not gone out stays unsent; also when the stop
        # came while the batch's last envelope was answered (its content would go with the
        # flush): one more look a batch at most. Claims of about a second end a batch every
        # message or two at a slow server, so this is where a stop usually lands there.
        if self.unsent and not reclaim and (self.position < len(self.batch) or self.streak.reason
                                            or self._stopping()):
            self._abandon()
        self._flush()
        self._follow_rate(self.position, time.monotonic() - started)

    def _limit_tightened(self) -> bool:
        """Once after the limiter took changed rates: True when a limit now holds and the rows left
        in the batch are more than a second of it (a batch claimed at a faster rate, or with no
        limit, would otherwise hold many seconds: the review's 50 rows at 3/s, 17 s). The loop
        then gives them back, as a pause does, and claims again at the new size."""
        self.limiter.changed = False
        return self.limiter.active and len(self.batch) - self.position > self.limiter.slots_per_call

    def _follow_rate(self, sent: int, seconds: float) -> None:
        """Size the next claims (``claim_size``) to about CLAIM_SECONDS of sending, whichever of
        two bounds is lower: the rows the batch just sent would fill in that time at the rate it
        went (``sent`` rows in ``seconds``: the server's speed, and the limit's waits when a
        limit held it back; the database's work is done meanwhile in the background), at least
        LEAST_CLAIM; and, with a rate limit, its reservation (a second at the strictest limit).
        At most the batch size. A fast server keeps full batches; a server slower than the limit
        gets small claims (until 2026-12-01 a limit of 100/s let one job claim 100 rows of a
        server taking 0.3 s a message: 30 s of sending while other workers sat idle and the
        progress stood still), so progress moves, a claim is given back about every second, and
        other jobs of the run can take the rows this one has not claimed."""
        if sent and seconds > 0:
            self.measured_claim = max(LEAST_CLAIM, int(sent / seconds * CLAIM_SECONDS))
        size = min(self.policy.batch_size, self.measured_claim)
        if self.limiter.active:
            size = min(size, self.limiter.slots_per_call)
        self.claim_size = size

    def _build(self, claimed: Claimed):
        """(Message-ID, envelope sender, bytes) of ``claimed``'s message, or the exception that
        stopped it (one recipient's message fails, not the run)."""
        try:
            return self.factory.build(claimed.recipient)
        except Exception as error:  # noqa: BLE001 - settled as that row's failure
            log.warning("run %s: delivery %s not built", self.run_id, claimed.recipient.delivery_id,
                        exc_info=True)
            return error

    def _prepare_next(self) -> None:
        """Build the next row's message while the server answers the current write (the
        transport's ``meanwhile``); it goes out only if the loop gets to it (not after a stop)."""
        following = self.batch[self.position + 1]
        self.prepared = (following, self._build(following))

    def _before_wait(self) -> None:
        """Before sleeping until the next rate-limit slot: flush the messages in flight (no
        ``DATA`` stays open across a wait), then name the next row in the record as not started
        (``wal.waiting``), so a worker killed while it sleeps leaves that row queued, not unknown.
        Only a wait costs this command (and ``wal.started`` after it): none at full speed."""
        self._flush()
        self.wal.waiting(self.batch[self.position].recipient.delivery_id)
        self.waiting = True

    def _abandon(self) -> None:
        """The batch stopped (pause, cancel, the failure streak, a rate-limit wait cut short) with
        a message whose envelope the server accepted and whose content has not gone out (at a
        slow server its content would go a whole reply later, after the stop): the connection is
        closed before it, the server drops that transaction, and the row is given back with the
        rest of the batch (``position`` moves back to it), never counted as an attempt."""
        abandon = getattr(self.transport, "abandon", None)  # a plugin's transport may not have it
        key = abandon() if abandon is not None else None
        if key is None:
            return
        self.unsent.pop(key[0].recipient.delivery_id, None)
        self.flying.pop(key[0].recipient.delivery_id, None)
        self.position = min(self.position, self.batch.index(key[0]))

    def _flush(self) -> None:
        """Send the content of the messages handed over without an outcome (if any), settle them."""
        if not self.unsent:
            return
        self._mark_in_flight(None)
        self.in_smtp = True
        results = self.transport.flush()
        self.in_smtp = False
        self._settle(results)

    def _mark_in_flight(self, also) -> None:
        """Keep in memory the rows whose final dot the next transport call may send (those handed
        over without an outcome, and ``also`` when the transport sends a whole message at once), for
        ``_recover``; the record needs no write for them (``wal.read``). No final dot goes out once
        the job's lease lapsed (LeaseLost: others may soon take these rows)."""
        if self.lease is not None:
            self.lease.check()
        if self.unsent or also is not None:
            self.flying = dict(self.unsent)
            if also is not None:
                self.flying[also[0].recipient.delivery_id] = also

    def _stopping(self) -> bool:
        """True once a pause or cancel of the run is signalled; looks in Redis at most every
        ``STOP_POLL`` seconds (one EXISTS), so it costs nothing per message at full speed."""
        now = time.monotonic()
        if now < self.next_stop_check:
            return False
        self.next_stop_check = now + STOP_POLL
        return progress.stop_signalled(self.run_id)

    def _settle(self, results) -> None:
        """Keep the outcomes of the transport's ``results`` (unknown: may have been delivered) and
        write them to the record at once."""
        if not results:
            return
        start, now = len(self.outcomes), utcnow()
        for result in results:
            (claimed, message_id), recipient = result.key, result.key[0].recipient
            if result.status in (SENT, UNKNOWN):
                self.outcomes.append(Outcome(recipient.delivery_id, recipient.email, result.status,
                                             result.code, result.reply[:500], message_id,
                                             sent_at=now if result.accepted else None))
            else:
                self.outcomes.append(self._failure(claimed, result.error, message_id))
            self.flying.pop(recipient.delivery_id, None)
            self.unsent.pop(recipient.delivery_id, None)
        self.wal.record(self.outcomes[start:])
        self.streak.add(self.outcomes[start:])

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
                       rejected=error.mailbox_rejected,
                       own_refusal=isinstance(error, PermanentFailure) and error.local)
