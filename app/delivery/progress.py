"""Live progress of a run: counts by status, the current rate, time left, and the failure streak.

Counts come from the ledger (index on run, status); the rate from per-second counters in Redis
that the senders bump after each recorded batch; the consecutive-failure streak is shared by all
workers of a run in Redis, so auto-pause sees failures in a row across workers.
"""
import time

from sqlalchemy import func, select

from ..core.extensions import db, redis_store
from .models import PENDING_STATUSES, STATUSES, Delivery, DeliveryDuplicate

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


def failure_streak(run_id: int, outcomes, threshold: int) -> str | None:
    """Add a batch's outcomes to the run's streak of failures; a pause reason when it is too long."""
    if not outcomes or threshold <= 0:
        return None
    last_sent = max((i for i, o in enumerate(outcomes) if o.status == "sent"), default=None)
    failures = len(outcomes) - (last_sent + 1 if last_sent is not None else 0)
    script = redis_store.client.register_script(STREAK_SCRIPT)
    streak = int(script(keys=[_streak_key(run_id)], args=[1 if last_sent is not None else 0, failures]))
    if streak < threshold or not failures:
        return None
    last = outcomes[-1]
    return (f"Paused automatically after {streak} consecutive failures. "
            f"Last reply for {last.email}: {last.reply}")[:500]


def reset_streak(run_id: int) -> None:
    """Start counting failures in a row afresh (on resume)."""
    redis_store.client.delete(_streak_key(run_id))


def status_counts(run_id: int) -> dict:
    """{status: rows} for every status (zeros included)."""
    counts = dict.fromkeys(STATUSES, 0)
    counts.update(db.session.execute(select(Delivery.status, func.count())
                                     .where(Delivery.run_id == run_id)
                                     .group_by(Delivery.status)).all())
    return counts


def unknown_reasons(run_id: int) -> dict:
    """{why: rows} for the run's rows whose outcome is unknown (the reaper's reply says why)."""
    rows = db.session.execute(select(Delivery.reply, func.count())
                              .where(Delivery.run_id == run_id, Delivery.status == "unknown")
                              .group_by(Delivery.reply)).all()
    return {reply or "outcome unknown": count for reply, count in rows}


def exclusion_counts(run_id: int) -> dict:
    """{reason: addresses} left out at planning or by a later suppression, duplicates included."""
    rows = db.session.execute(select(Delivery.reason, func.count())
                              .where(Delivery.run_id == run_id, Delivery.status == "skipped",
                                     Delivery.reason != "cancelled")
                              .group_by(Delivery.reason)).all()
    counts = {reason: count for reason, count in rows}
    duplicates = db.session.scalar(select(func.count()).select_from(DeliveryDuplicate)
                                   .where(DeliveryDuplicate.run_id == run_id))
    if duplicates:
        counts["duplicate"] = duplicates
    return counts


def snapshot(run) -> dict:
    """Everything the run page and the API show about a run's progress, JSON-ready."""
    counts = status_counts(run.id)
    pending = sum(counts[s] for s in PENDING_STATUSES)
    total = run.total or 0
    rate = current_rate(run.id) if run.status == "sending" else 0.0
    done = total - min(total, pending)
    return {
        "run_id": run.id,
        "broadcast_id": run.broadcast_id,
        "status": run.status,
        "status_reason": run.status_reason,
        "total": total,
        "excluded": run.excluded,
        "sent": counts["sent"],
        "processed": done,
        "pending": pending,
        "percent": round(100.0 * done / total, 1) if total else 100.0,
        "rate": round(rate, 1),
        "eta_seconds": int(pending / rate) if rate > 0 and pending else None,
        "counts": counts,
        "unknown_reasons": unknown_reasons(run.id) if counts["unknown"] else {},
        "started_at": run.started_at.isoformat() + "Z" if run.started_at else None,
        "finished_at": run.finished_at.isoformat() + "Z" if run.finished_at else None,
        "finished": run.status in ("sent", "cancelled", "failed"),
    }
