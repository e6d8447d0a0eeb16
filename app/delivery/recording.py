"""The send loop's transactions: claiming ahead in the background, writing outcomes, recovering.

``Recording`` is the half of ``Sender`` (``app/delivery/sending.py``) that talks to the database:
each batch's outcomes are written and the next batch claimed by one transaction
(``app/delivery/cycle.py``), in a background thread while a batch is sent, else in the job's
thread; after an error it writes what it can and gives back the rest. It uses the Sender's
state: ``batch`` (``Claimed`` rows being sent, ``position`` the first not sent), ``ahead`` (claimed
after them), ``outcomes`` (not yet handed to a transaction), ``recording`` (handed to the
background one, not committed), ``flying`` (rows whose final dot may be out), ``claims``,
``wal`` and ``header_log`` (write-ahead records), ``background``, ``lease`` (the job's, or None).
"""
import logging
import time

from redis.exceptions import RedisError

from ..core.extensions import db
from ..core.transient import retrying, rollback_after_failure
from ..mail.outcomes import UNKNOWN
from . import progress
from .claims import holding, release
from .cycle import Cycle, run_cycle
from .outcomes import UNKNOWN_STOPPED, Outcome, give_back, lock_run, write_outcomes

log = logging.getLogger(__name__)


class Recording:
    """The transactions of a ``Sender`` (a mixin: see the module docstring for the state)."""

    def _cycle(self, outcomes: list, claim: bool = True, **work) -> Cycle:
        """The transaction's work: write ``outcomes``, claim (``claim``) unless the time box is over."""
        return Cycle(self.run_id, self.token, outcomes,
                     claim=claim and (self.deadline is None or time.monotonic() <= self.deadline), **work)

    def _transaction(self, cycle: Cycle, record) -> tuple[list, list, str]:
        """``run_cycle``, tried again while the database or Redis fails transiently (the outcomes
        wait in memory), for the budget of the job's own thread (the RQ job's timeout caps it; the
        background thread has no job of its own). Before each new try the record is written again
        (``_keep_record``): Redis may have restarted empty meanwhile, and a header written to it
        by the next try must not come without the outcomes held for its rows."""
        tries = 0

        def attempt():
            nonlocal tries
            if tries:
                held = {o.id: o for o in (*cycle.recording, *self.outcomes)}  # the batch being sent's too
                stop = cycle.untouched[0].recipient.delivery_id if cycle.untouched else self._stopped_at()
                self._keep_record(record, [*cycle.header, *(c.recipient.delivery_id for c in cycle.keep)],
                                  list(held.values()), stop)
            tries += 1
            return run_cycle(cycle, self.claims, record)
        return retrying(attempt, what=f"run {self.run_id}: recording", seconds=self.retry_seconds)

    def _cycle_now(self, pause_reason: str | None = None, claim: bool = True) -> None:
        """In this thread: write the outcomes held, give back the rows of the batch never
        attempted and any claimed ahead, pause the run for ``pause_reason`` (the failure streak
        of the batch), claim the next batch (unless ``claim`` is False). A claim that skipped
        ``SKIP_MOST`` suppressed rows without one to send (``"skipping"``) is committed and the
        claim goes on in another transaction, the lease (``LeaseLost``) and the time box looked
        at in between: no transaction holds the run's claim lock for the whole stretch."""
        while True:
            cycle = self._cycle(self.outcomes, claim, untouched=self.batch[self.position:] + self.ahead,
                                header=[c.recipient.delivery_id for c in (*self.batch, *self.ahead)],
                                pause_reason=pause_reason)
            db.session.rollback()  # no read transaction of the loop's own left open (SQLite: stale)
            written, batch, self.stop_reason = self._transaction(cycle, self.wal)
            self.outcomes, self.batch, self.ahead, self.position = [], batch, [], 0
            self.previous, self.claimed_at, self.unsent, self.flying = [], self.claims.claimed_at, {}, {}
            self._after_commit(written)
            if self.stop_reason != "skipping":
                return
            pause_reason = None  # paused already, if it was to be
            if self.lease is not None:
                self.lease.check()

    def _cycle_ahead(self) -> None:
        """In the background: write the outcomes of the batch before and claim the next batch
        after the current one, which stays claimed (``keep``)."""
        self.recording, self.outcomes = self.outcomes, []
        cycle = self._cycle(self.recording, keep=self.batch, since=self.claimed_at,
                            header=self.previous)
        self.background.start(self._transaction, cycle, self.header_log)

    def _collect(self) -> None:
        """Wait for the background transaction; keep the batch it claimed ahead (its error is
        raised here, and ``_recover`` deals with the rest)."""
        written, self.ahead, reason = self.background.result()
        self.recording, self.stop_reason = [], reason
        self._after_commit(written)
        if self.position < len(self.batch):  # stopped: the rest of the batch never goes out
            self.wal.stopped(self.batch[self.position].recipient.delivery_id)

    def _next_ahead(self) -> None:
        """The batch claimed ahead becomes the current one."""
        self.previous = [c.recipient.delivery_id for c in self.batch]
        self.batch, self.ahead, self.position = self.ahead, [], 0
        self.claimed_at, self.unsent, self.flying = self.claims.claimed_at, {}, {}

    def _stopped_at(self) -> int | None:
        """Once the loop stopped on an error (``failed``: it sends nothing more; ``_recover`` then
        waits for this thread), the first row of its batch that no transport call may have sent,
        as ``_recover`` names it; else None (the loop may still send). Without it a background
        retry that writes the record again on a restarted Redis left that row looking in flight."""
        if not self.failed:
            return None
        done = {o.id for o in (*self.recording, *self.outcomes)} | set(self.flying)
        rest = (c.recipient.delivery_id for c in self.batch if c.recipient.delivery_id not in done)
        return next(rest, None)

    def _keep_record(self, record, row_ids, outcomes, stop: int | None = None) -> None:
        """Write the record again (``WriteAheadLog.rewrite``) with what the job holds and has not
        committed, so the reaper settles from it if the job dies before its outcomes are written,
        even when Redis restarted empty since they were recorded. Best effort: without Redis the
        next try writes it again."""
        try:
            record.rewrite(row_ids, outcomes, stop)
        except RedisError as error:
            log.warning("run %s: cannot write the record again: %s", self.run_id, error)

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
        """After an error: wait for the background transaction, keep the outcomes we have, record
        the rows in flight as unknown and give back the rows never sent (and any claimed ahead).
        The record is written again first (Redis may have lost it) and the write is tried again
        with backoff while the database or Redis fails transiently, within the job's budget; what
        cannot be written then stays in the record for the reaper."""
        try:
            if self.background.pending:
                try:
                    self._collect()
                except BaseException:  # noqa: BLE001 - not committed: its outcomes are written below
                    log.warning("run %s: the transaction in flight failed", self.run_id, exc_info=True)
            pending = self.recording + self.outcomes
            done = {o.id for o in pending}
            lost = [Outcome(c.recipient.delivery_id, c.recipient.email, UNKNOWN, None,
                            UNKNOWN_STOPPED, message_id)
                    for row_id, (c, message_id) in self.flying.items() if row_id not in done]
            done |= {o.id for o in lost}
            untouched = [c for c in self.batch if c.recipient.delivery_id not in done] + self.ahead
            header = [*(o.id for o in self.recording),
                      *(c.recipient.delivery_id for c in (*self.batch, *self.ahead))]
            stop = untouched[0].recipient.delivery_id if untouched else None  # none from it on was sent
            written = retrying(self._write_back, header, pending + lost, untouched, stop,
                               what=f"run {self.run_id}: recording after an error",
                               seconds=self.retry_seconds)
            self.recording, self.outcomes, self.batch, self.ahead = [], [], [], []
            self.flying, self.unsent = {}, {}
            self._after_commit(written)
        except Exception:  # the reaper settles what we could not write back, from the record
            log.exception("run %s: cannot record the outcomes after an error", self.run_id)
            rollback_after_failure()

    def _write_back(self, header: list, outcomes: list, untouched: list, stop: int | None) -> list:
        """One try of ``_recover``'s transaction: the record written again, then ``outcomes``
        written and the claim released unless the reaper settled it already, the ``untouched``
        rows given back; returns the outcomes written."""
        self._keep_record(self.wal, header, outcomes, stop)
        db.session.rollback()
        run_status = lock_run(self.run_id, share=True)
        held, _ = holding(self.run_id, self.token)
        if held is None:  # the reaper settled our batch already
            outcomes = []
        else:
            write_outcomes(self.run_id, outcomes, held.claimed_at)
            release(self.token)
        give_back(self.run_id, untouched, run_status)
        db.session.commit()
        return outcomes
