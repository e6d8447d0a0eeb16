"""Live progress of a run: counts by status, the current rate, time left, and the failure streak.

Counts come from the live counters that triggers keep with every ledger write (migration 0015);
the rate from per-second counters in Redis that the senders bump after each recorded batch; the
consecutive-failure streak is shared by all workers of a run in Redis, so auto-pause sees
failures in a row across workers; a pause or cancel is signalled to the run's sending loops by a
Redis key they look at between messages.
"""
import time
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select

from ..core.extensions import db, redis_store
from .models import PENDING_STATUSES, STATUSES, Delivery, DeliveryClaim, DeliveryCount, DeliveryDuplicate

RATE_WINDOW = 10  # seconds averaged for the current rate
STREAK_SCRIPT = """
if ARGV[1] == '1' then
  redis.call('SET', KEYS[1], ARGV[2], 'EX', 86400)
  return tonumber(ARGV[2])
end
local streak = redis.call('INCRBY', KEYS[1], ARGV[2])
redis.call('EXPIRE', KEYS[1], 86400)
return streak
"""


def _rate_key(run_id):
    return redis_store.key("delivery", "rate", run_id)


def _streak_key(run_id):
    return redis_store.key("delivery", "streak", run_id)


def record_sent(run_id: int, count: int) -> None:
    """Count ``count`` messages sent now for the run's rate."""
    if count:
        key = _rate_key(run_id)
        pipe = redis_store.client.pipeline(transaction=False)
        pipe.hincrby(key, int(time.time()), count)
        pipe.expire(key, RATE_WINDOW * 6)
        pipe.execute()


def current_rate(run_id: int) -> float:
    """Messages per second over the last complete ``RATE_WINDOW`` seconds."""
    now = int(time.time())
    values = redis_store.client.hmget(_rate_key(run_id), [now - i for i in range(1, RATE_WINDOW + 1)])
    return sum(int(v) for v in values if v) / RATE_WINDOW


@dataclass
class Streak:
    """One job's part of its run's failure streak, shared by all the run's senders in Redis (so
    auto-pause sees failures in a row across workers). ``add`` counts each outcome in memory;
    the shared streak is updated (``push``) at each batch's end and, mid-batch, after every
    outcome group that ends with a failure, and after the first sent one that follows a streak
    (which it ends for every sender): so the streak Redis answers is the run's, every sender's
    failures included, and once it reaches ``threshold`` ``reason`` is set and the loop stops
    the batch. So the run pauses after ``threshold`` failures in a row plus at most one
    message in flight per other sender (not one streak per sender, nor a batch later), and a
    batch all sent costs no Redis command but its end's.
    Herald's own refusals of one recipient (``Outcome.own_refusal``) are left out: only what the
    transport says can pause a run (a bad address never stops the others)."""
    run_id: int
    threshold: int  # failures in a row that pause the run; 0: never
    known: int = 0  # the run's streak as Redis last answered
    pending: list = field(default_factory=list)  # outcomes not yet added to the shared streak
    failures: int = 0  # failures in a row at the end of ``pending``
    reason: str | None = None  # set once the streak reached ``threshold``: pause the run

    def add(self, outcomes) -> None:
        """Count ``outcomes`` (in the order the server answered them)."""
        for outcome in outcomes:
            if not outcome.own_refusal:
                self.pending.append(outcome)
                self.failures = 0 if outcome.status == "sent" else self.failures + 1
        # a failure: other senders' count too, ask now; a sent one after a streak: end it for all
        if self.threshold > 0 and (self.failures or (self.known and self.pending)):
            self.reason = self._add_pending() or self.reason

    def push(self) -> str | None:
        """At a batch's end: add the outcomes counted since the last look to the run's streak in
        Redis; returns the pause reason (then forgotten) when the streak reached ``threshold``
        with a failure last, now or earlier in the batch."""
        reason, self.reason = self._add_pending() or self.reason, None
        return reason

    def _add_pending(self) -> str | None:
        """One script call: the run's streak grows by ``pending``'s failures, or starts again from
        those after its last sent one; a pause reason when it reached ``threshold``."""
        pending, failures, self.pending, self.failures = self.pending, self.failures, [], 0
        if not pending or self.threshold <= 0:
            return None
        script = redis_store.client.register_script(STREAK_SCRIPT)
        self.known = int(script(keys=[_streak_key(self.run_id)],
                                args=[1 if failures < len(pending) else 0, failures]))
        if self.known < self.threshold or not failures:
            return None
        last = pending[-1]
        return (f"Paused automatically after {self.known} consecutive failures. "
                f"Last reply for {last.email}: {last.reply}")[:500]


def reset_streak(run_id: int) -> None:
    """Start counting failures in a row afresh (on resume)."""
    redis_store.client.delete(_streak_key(run_id))


def _counters(run_id: int, prefix: str) -> dict:
    """{name without ``prefix``: value} of the run's live counters (``delivery_counts``, kept by
    triggers in the transaction that writes the ledger; migration 0015) whose name has ``prefix``.
    One seek on the counters' primary key: a handful of rows (at most 16 shards of each counter,
    migration 0023) whatever the run's size."""
    rows = db.session.execute(select(DeliveryCount.name, func.sum(DeliveryCount.value))
                              .where(DeliveryCount.run_id == run_id, DeliveryCount.name.startswith(prefix))
                              .group_by(DeliveryCount.name))
    return {name[len(prefix):]: int(value) for name, value in rows if value}


def sent_and_failed(run_ids) -> dict:
    """{run id: {"sent": n, "failed": n}} of ``run_ids`` from the live counters, in one query (a
    run's own ``sent`` and ``failed`` columns are written only when it finishes: a run sending,
    paused or cancelled showed 0 sent)."""
    run_ids = list(run_ids)
    figures = {run_id: {"sent": 0, "failed": 0} for run_id in run_ids}
    if run_ids:
        rows = db.session.execute(select(DeliveryCount.run_id, DeliveryCount.name, func.sum(DeliveryCount.value))
                                  .where(DeliveryCount.run_id.in_(run_ids),
                                         DeliveryCount.name.in_(["status:sent", "status:failed"]))
                                  .group_by(DeliveryCount.run_id, DeliveryCount.name))
        for run_id, name, value in rows:
            figures[run_id][name.removeprefix("status:")] = int(value or 0)
    return figures


def _stop_key(run_id):
    return redis_store.key("delivery", "stop", run_id)


def signal_stop(run_id: int, status: str) -> None:
    """Tell the run's sending loops that it is ``status`` (paused, cancelled): they look at this
    key between messages and while waiting for a rate-limit slot (after the commit that stops the
    run; a day's expiry)."""
    redis_store.client.set(_stop_key(run_id), status, ex=86400)


def clear_stop(run_id: int) -> None:
    """The run sends again (resume): its loops no longer stop."""
    redis_store.client.delete(_stop_key(run_id))


def stop_signalled(run_id: int) -> bool:
    """True when a pause or cancel of the run was signalled (one Redis EXISTS)."""
    return bool(redis_store.client.exists(_stop_key(run_id)))


def status_counts(run_id: int) -> dict:
    """{status: rows} for every status (zeros included), from the live counters; the rows held by
    sending jobs' claims (``delivery_claims``, a handful of rows) count as ``sending``, not in the
    status the ledger keeps for them until their outcome (queued or deferred)."""
    counts = dict.fromkeys(STATUSES, 0)
    counts.update(_counters(run_id, "status:"))
    for ids, queued in db.session.execute(select(DeliveryClaim.ids, DeliveryClaim.queued)
                                          .where(DeliveryClaim.run_id == run_id)):
        held = ids.count(",") + 1
        from_queued = min(queued, counts["queued"])
        from_deferred = min(held - queued, counts["deferred"])
        counts["queued"] -= from_queued
        counts["deferred"] -= from_deferred
        counts["sending"] += from_queued + from_deferred
    return counts


def unknown_reasons(run_id: int) -> dict:
    """{why: rows} for the run's rows whose outcome is unknown (the reaper's reply says why)."""
    rows = db.session.execute(select(Delivery.reply, func.count())
                              .where(Delivery.run_id == run_id, Delivery.status == "unknown")
                              .group_by(Delivery.reply)).all()
    return {reply or "outcome unknown": count for reply, count in rows}


def exclusion_counts(run_id: int) -> dict:
    """{reason: addresses} left out at planning or by a later suppression, duplicates included
    (skipped rows by reason from the live counters; duplicates: one seek in their primary key)."""
    counts = _counters(run_id, "reason:")
    counts.pop("cancelled", None)
    duplicates = db.session.scalar(select(func.count()).select_from(DeliveryDuplicate)
                                   .where(DeliveryDuplicate.run_id == run_id))
    if duplicates:
        counts["duplicate"] = duplicates
    return counts


def sent_per_hour(run_id: int) -> dict:
    """{UTC hour (naive datetime): messages whose ``sent_at`` falls in it}, from the live counters."""
    return {datetime.strptime(hour, "%Y-%m-%dT%H"): count
            for hour, count in _counters(run_id, "sent_hour:").items()}


def average_rate(run, sent: int) -> float | None:
    """Messages sent per second from a finished run's start to its finish (pauses included),
    rounded to 0.1; None while it is not finished, or when it never started or took no time."""
    if run.status not in ("sent", "cancelled", "failed") or not (run.started_at and run.finished_at):
        return None
    seconds = (run.finished_at - run.started_at).total_seconds()
    return round(sent / seconds, 1) if seconds > 0 else None


def snapshot(run) -> dict:
    """Everything the run page and the API show about a run's progress, JSON-ready.

    ``processed``: rows with a final outcome (sent, failed, unknown, or skipped by a suppression
    added since planning); rows skipped by a cancel are not processed, so a cancelled run shows
    how far it got. A run whose ledger has no row yet (planning, or cancelled while planning:
    ``total`` is then the audience's size when it was sent) has processed none. ``percent`` is
    processed of ``total`` (0.0 without a total, unless the run sent or failed). ``rate`` is the
    current rate (0.0 unless sending); ``average_rate`` a finished run's messages/s from start
    to finish, else None.
    """
    counts = status_counts(run.id)
    pending = sum(counts[s] for s in PENDING_STATUSES)
    cancelled = _counters(run.id, "reason:").get("cancelled", 0)
    total = run.total or 0
    rate = current_rate(run.id) if run.status == "sending" else 0.0
    # Counted as total - pending - cancelled, which is the whole total while the ledger is empty:
    # a run still planning, or cancelled while planning, showed 100 % (review E, 2026-12-01).
    planned = any(counts.values())
    processed = max(0, total - pending - cancelled) if planned else 0
    return {
        "run_id": run.id,
        "broadcast_id": run.broadcast_id,
        "status": run.status,
        "status_reason": run.status_reason,
        "total": total,
        "excluded": run.excluded,
        "sent": counts["sent"],
        "processed": processed,
        "cancelled": cancelled,
        "pending": pending,
        "percent": (round(100.0 * processed / total, 1) if total
                    else 100.0 if run.status in ("sent", "failed") else 0.0),
        "rate": round(rate, 1),
        "average_rate": average_rate(run, counts["sent"]),
        "eta_seconds": int(pending / rate) if rate > 0 and pending else None,
        "counts": counts,
        "unknown_reasons": unknown_reasons(run.id) if counts["unknown"] else {},
        "started_at": run.started_at.isoformat() + "Z" if run.started_at else None,
        "finished_at": run.finished_at.isoformat() + "Z" if run.finished_at else None,
        "finished": run.status in ("sent", "cancelled", "failed"),
    }
