"""Chunks of a run in Redis, the runner jobs that send them, and the jobs' leases.

A run's chunks live in one hash, field ``"lo:hi"`` with value ``"w"`` (waiting) or
``"r:<lease token>"`` (being sent). Up to ``DELIVERY_PARALLEL_JOBS`` runner jobs per run take
waiting chunks one after another until their time box ends, so any number of workers send a run
in parallel while each forked job pays its start-up once. A running job keeps
``lease:<token>`` alive from a daemon thread; when the key is gone the job is dead (SIGKILL, lost
machine) and whatever it left in ``sending`` is reported unknown by the reaper, never re-sent.
"""
import logging
import secrets
import threading
from datetime import datetime

from flask import current_app
from redis.exceptions import RedisError

from ..core.extensions import redis_store
from ..core.jobs import get_queue
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


class Lease:
    """A Redis key kept alive by a daemon thread while a job works; gone means the job died."""

    def __init__(self, ttl: float | None = None):
        self.token = secrets.token_hex(8)
        self.ttl = float(ttl or current_app.config["DELIVERY_LEASE_SECONDS"])
        self._key = _lease_key(self.token)
        self._client = redis_store.client
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"lease-{self.token}", daemon=True)

    def __enter__(self):
        self._client.set(self._key, 1, px=int(self.ttl * 1000))
        self._thread.start()
        return self

    def _beat(self):
        while not self._stop.wait(self.ttl / 3):
            try:
                self._client.set(self._key, 1, px=int(self.ttl * 1000))
            except RedisError:  # keep trying: a short Redis outage must not kill the job
                log.warning("cannot refresh delivery lease %s", self.token, exc_info=True)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=5)
        self._client.delete(self._key)


def live_tokens(tokens) -> set:
    """The lease tokens among ``tokens`` whose job is still alive."""
    tokens = list(tokens)
    if not tokens:
        return set()
    pipe = redis_store.client.pipeline(transaction=False)
    for token in tokens:
        pipe.exists(_lease_key(token))
    return {token for token, alive in zip(tokens, pipe.execute()) if alive}


def start_runners(run_id: int, count: int) -> None:
    """Enqueue ``count`` runner jobs (``send_chunks``) for the run."""
    if count <= 0:
        return
    queue = get_queue("delivery")
    datas = [queue.prepare_data(jobs.send_chunks, (run_id,), timeout=job_timeout(),
                                description=f"delivery run {run_id}") for _ in range(count)]
    with redis_store.client.pipeline() as pipe:
        queue.enqueue_many(datas, pipeline=pipe)
        pipe.execute()


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


def chunk_finished(run_id, lo, hi, token) -> None:
    """Forget range lo..hi unless another job has taken it over since."""
    key, field = _chunks_key(run_id), f"{lo}:{hi}"
    if redis_store.client.hget(key, field) == f"r:{token}".encode():
        redis_store.client.hdel(key, field)


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


def retry_later(run_id: int, due) -> None:
    """Make sure a ``retry_deferred`` job runs for the run at ``due`` (naive UTC) or earlier."""
    key = redis_store.key("delivery", "retry", run_id)
    client = redis_store.client
    due_ts = (due - _EPOCH).total_seconds()
    current = client.get(key)
    if current is not None and float(current) <= due_ts + 0.5:
        return
    client.set(key, due_ts, ex=7 * 86400)
    delay = due - utcnow()
    queue = get_queue("delivery")
    if delay.total_seconds() <= 0:
        queue.enqueue(jobs.retry_deferred, run_id, job_timeout=job_timeout())
    else:
        queue.enqueue_in(delay, jobs.retry_deferred, run_id, job_timeout=job_timeout())


def retry_started(run_id: int) -> None:
    """A retry job runs now: a later deferral must enqueue the next one."""
    redis_store.client.delete(redis_store.key("delivery", "retry", run_id))


def retry_pending(run_id: int) -> bool:
    """True when a retry job is pending for the run."""
    return bool(redis_store.client.exists(redis_store.key("delivery", "retry", run_id)))

