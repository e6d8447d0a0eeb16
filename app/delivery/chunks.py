"""Chunks of a run in Redis, the runner jobs that send them, and the jobs' leases.

A run's chunks live in one hash, field ``"lo:hi"`` with value ``"w"`` (waiting) or
``"r:<lease token>"`` (being sent). Up to ``DELIVERY_PARALLEL_JOBS`` runner jobs per run take
waiting chunks one after another until their time box ends, so any number of workers send a run
in parallel while each forked job pays its start-up once. A running job keeps
``lease:<token>`` alive from a daemon thread; when the key is gone the job is dead (SIGKILL, lost
machine) and the reaper settles what it left in ``sending`` from its write-ahead record. Every
job that moves a run is a tracked job under ``track(run_id)``, so the supervisor sees a run that
no job moves any more.
"""
import logging
import secrets
from datetime import datetime

from flask import current_app

from ..core import leases
from ..core.extensions import redis_store
from ..core.jobs import enqueue_many, enqueue_now
from ..core.utils import utcnow
from . import jobs

log = logging.getLogger(__name__)
_EPOCH = datetime(1970, 1, 1)


def _chunks_key(run_id):
    return redis_store.key("delivery", "chunks", run_id)


def _lease_key(token):
    return redis_store.key("delivery", "lease", token)


def job_timeout() -> int:
    """RQ's hard timeout for a sending job: far above the time box a job gives itself."""
    return int(current_app.config["DELIVERY_JOB_SECONDS"]) * 5 + 600


def track(run_id: int) -> str:
    """The job-tracking name of the jobs that move run ``run_id`` (``app/core/job_tracking.py``)."""
    return f"delivery-run:{run_id}"


class Lease(leases.Lease):
    """A sending job's lease (``DELIVERY_LEASE_SECONDS``); its random ``token`` is also the claim
    of the rows the job holds in ``sending`` and names its write-ahead record. Fenced: once it
    lapsed the job sends no more (the reaper may have settled its claim, another job taken its
    rows), even if it wakes up and Redis answers."""

    fenced = True

    def __init__(self, ttl: float | None = None):
        self.token = secrets.token_hex(8)
        super().__init__(_lease_key(self.token), ttl or current_app.config["DELIVERY_LEASE_SECONDS"])


def live_tokens(tokens) -> set:
    """The lease tokens among ``tokens`` whose job is still alive."""
    keys = {_lease_key(token): token for token in tokens}
    return {keys[key] for key in leases.alive(keys, float(current_app.config["DELIVERY_LEASE_SECONDS"]))}


def start_runners(run_id: int, count: int) -> None:
    """Enqueue ``count`` runner jobs (``send_chunks``) for the run, tracked."""
    if count > 0:
        enqueue_many(jobs.send_chunks, [(run_id,)] * count, queue="delivery", track=track(run_id),
                     timeout=job_timeout(), description=f"delivery run {run_id}")


def dispatch(run_id: int, ranges, runners: int | None = None) -> int:
    """Register (lo, hi) ranges as waiting chunks and start runners for them; returns how many
    chunks. ``runners`` defaults to one per chunk, at most ``DELIVERY_PARALLEL_JOBS``."""
    ranges = list(ranges)
    if not ranges:
        return 0
    redis_store.client.hset(_chunks_key(run_id), mapping={f"{lo}:{hi}": "w" for lo, hi in ranges})
    parallel = int(current_app.config["DELIVERY_PARALLEL_JOBS"])
    start_runners(run_id, min(len(ranges), parallel) if runners is None else runners)
    return len(ranges)


TAKE_SCRIPT = """
local fields = redis.call('HGETALL', KEYS[1])
for i = 1, #fields, 2 do
  if fields[i + 1] == 'w' then
    redis.call('HSET', KEYS[1], fields[i], 'r:' .. ARGV[1])
    return fields[i]
  end
end
return false
"""


def take_waiting(run_id, token):
    """Take one of the run's waiting chunks for the job holding ``token``: (lo, hi), or None."""
    script = redis_store.client.register_script(TAKE_SCRIPT)
    taken = script(keys=[_chunks_key(run_id)], args=[token])
    if not taken:
        return None
    lo, hi = (int(x) for x in taken.decode().split(":"))
    return lo, hi


HAND_BACK_SCRIPT = """
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  if ARGV[3] == '' then redis.call('HDEL', KEYS[1], ARGV[1]) else redis.call('HSET', KEYS[1], ARGV[1], ARGV[3]) end
  return 1
end
return 0
"""


def chunk_finished(run_id, lo, hi, token) -> None:
    """Forget range lo..hi (all its rows were handled) unless another job has taken it over."""
    redis_store.client.eval(HAND_BACK_SCRIPT, 1, _chunks_key(run_id), f"{lo}:{hi}", f"r:{token}", "")


def hand_back(run_id, lo, hi, token) -> None:
    """Put range lo..hi back among the waiting chunks (its job failed before finishing it)
    unless another job has taken it over."""
    redis_store.client.eval(HAND_BACK_SCRIPT, 1, _chunks_key(run_id), f"{lo}:{hi}", f"r:{token}", "w")


def registered_chunks(run_id) -> dict:
    """{(lo, hi): "w" | "r:<token>"} for the run."""
    raw = redis_store.client.hgetall(_chunks_key(run_id))
    return {tuple(int(x) for x in field.decode().split(":")): value.decode()
            for field, value in raw.items()}


def set_waiting(run_id, lo, hi) -> None:
    """Put range lo..hi back among the waiting chunks (its job died or ran out of time)."""
    redis_store.client.hset(_chunks_key(run_id), f"{lo}:{hi}", "w")


def drop_waiting(run_id) -> int:
    """Forget the run's waiting chunks (pause, cancel): runners then find nothing to take, and
    resume registers the queued rows afresh. Chunks being sent stop by themselves."""
    waiting = [f"{lo}:{hi}" for (lo, hi), value in registered_chunks(run_id).items() if value == "w"]
    if waiting:
        redis_store.client.hdel(_chunks_key(run_id), *waiting)
    return len(waiting)


def forget_run(run_id) -> None:
    """Drop all of a run's chunk registrations (the run is over)."""
    redis_store.client.delete(_chunks_key(run_id))


def retry_later(run_id: int, due, force: bool = False) -> None:
    """Make sure a ``retry_deferred`` job (tracked) runs for the run at ``due`` (naive UTC) or
    earlier; ``force`` enqueues one even if one seems pending (the supervisor found none alive)."""
    key = redis_store.key("delivery", "retry", run_id)
    client = redis_store.client
    due_ts = (due - _EPOCH).total_seconds()
    current = client.get(key)
    if not force and current is not None and float(current) <= due_ts + 0.5:
        return
    client.set(key, due_ts, ex=7 * 86400)
    delay = due - utcnow()
    options = {"enqueue_in": delay} if delay.total_seconds() > 0 else {}
    enqueue_now(jobs.retry_deferred, run_id, queue="delivery", track=track(run_id),
                job_timeout=job_timeout(), **options)


def retry_started(run_id: int) -> None:
    """A retry job runs now: a later deferral must enqueue the next one."""
    redis_store.client.delete(redis_store.key("delivery", "retry", run_id))


def retry_pending(run_id: int) -> bool:
    """True when a retry job is pending for the run."""
    return bool(redis_store.client.exists(redis_store.key("delivery", "retry", run_id)))

