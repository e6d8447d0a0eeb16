"""Chunks of a run in Redis: which id ranges wait in RQ or are being sent, and the jobs' leases.

A run's chunks live in one hash, field ``"lo:hi"`` with value ``"q:<rq job id>"`` (waiting) or
``"r:<lease token>"`` (running). A running job keeps ``lease:<token>`` alive from a daemon thread;
when the key is gone the job is dead (SIGKILL, lost machine) and whatever it left in ``sending``
is reported unknown by the reaper, never re-sent.
"""
import logging
import secrets
import threading
from datetime import datetime

from flask import current_app
from redis.exceptions import RedisError
from rq.exceptions import NoSuchJobError
from rq.job import Job

from ..extensions import redis_store
from ..jobs import get_queue
from ..utils import utcnow

log = logging.getLogger(__name__)
SEND_CHUNK = "app.delivery.jobs.send_chunk"
_EPOCH = datetime(1970, 1, 1)
RETRY_DEFERRED = "app.delivery.jobs.retry_deferred"


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


def dispatch(run_id: int, ranges) -> int:
    """Enqueue one ``send_chunk`` job per (lo, hi) range and register them; returns how many."""
    ranges = list(ranges)
    if not ranges:
        return 0
    queue = get_queue("delivery")
    client = redis_store.client
    for start in range(0, len(ranges), 500):
        part = ranges[start:start + 500]
        datas = [queue.prepare_data(SEND_CHUNK, (run_id, lo, hi), timeout=job_timeout(),
                                    job_id=f"delivery-chunk-{run_id}-{lo}-{secrets.token_hex(6)}",
                                    description=f"delivery run {run_id} ids {lo}-{hi}")
                 for lo, hi in part]
        client.hset(_chunks_key(run_id), mapping={f"{lo}:{hi}": f"q:{data.job_id}"
                                                  for (lo, hi), data in zip(part, datas)})
        with client.pipeline() as pipe:
            queue.enqueue_many(datas, pipeline=pipe)
            pipe.execute()
    return len(ranges)


START_SCRIPT = """
local value = redis.call('HGET', KEYS[1], ARGV[1])
if value and value ~= 'q:' .. ARGV[3] then
  if string.sub(value, 1, 2) ~= 'r:' or redis.call('EXISTS', KEYS[2] .. string.sub(value, 3)) == 1 then
    return 0
  end
end
redis.call('HSET', KEYS[1], ARGV[1], 'r:' .. ARGV[2])
return 1
"""
TAKE_SCRIPT = """
local fields = redis.call('HGETALL', KEYS[1])
for i = 1, #fields, 2 do
  if string.sub(fields[i + 1], 1, 2) == 'q:' then
    redis.call('HSET', KEYS[1], fields[i], 'r:' .. ARGV[1])
    return {fields[i], string.sub(fields[i + 1], 3)}
  end
end
return false
"""


def chunk_started(run_id, lo, hi, token, job_id) -> bool:
    """Record that the job holding lease ``token`` works on lo..hi; False when another live job
    has taken the range over (this job then has nothing to do)."""
    script = redis_store.client.register_script(START_SCRIPT)
    return bool(script(keys=[_chunks_key(run_id), _lease_key("")], args=[f"{lo}:{hi}", token, job_id]))


def take_waiting(run_id, token):
    """Take over one of the run's chunks still waiting in RQ: (lo, hi), or None when none waits.

    Its RQ job is withdrawn from the queue; if a worker got it first, that job finds the range
    taken by a live lease and ends at once.
    """
    script = redis_store.client.register_script(TAKE_SCRIPT)
    taken = script(keys=[_chunks_key(run_id)], args=[token])
    if not taken:
        return None
    field, job_id = (part.decode() for part in taken)
    if get_queue("delivery").remove(job_id):
        try:
            Job.fetch(job_id, connection=redis_store.client).delete(remove_from_queue=False)
        except NoSuchJobError:
            pass
    lo, hi = (int(x) for x in field.split(":"))
    return lo, hi


def chunk_finished(run_id, lo, hi, token) -> None:
    """Forget range lo..hi unless another job has taken it over since."""
    key, field = _chunks_key(run_id), f"{lo}:{hi}"
    if redis_store.client.hget(key, field) == f"r:{token}".encode():
        redis_store.client.hdel(key, field)


def registered_chunks(run_id) -> dict:
    """{(lo, hi): "q:<job id>" | "r:<token>"} for the run."""
    raw = redis_store.client.hgetall(_chunks_key(run_id))
    return {tuple(int(x) for x in field.decode().split(":")): value.decode()
            for field, value in raw.items()}


def forget_chunk(run_id, lo, hi) -> None:
    """Drop one registration (its job is gone)."""
    redis_store.client.hdel(_chunks_key(run_id), f"{lo}:{hi}")


def cancel_waiting(run_id) -> int:
    """Remove the run's waiting chunk jobs from RQ (pause, cancel); running ones stop by themselves."""
    removed = 0
    connection = redis_store.client
    for (lo, hi), value in registered_chunks(run_id).items():
        if value.startswith("q:"):
            try:
                Job.fetch(value[2:], connection=connection).delete()
            except NoSuchJobError:
                pass
            forget_chunk(run_id, lo, hi)
            removed += 1
    return removed


def waiting_job_alive(value: str) -> bool:
    """True when the RQ job of a ``q:`` registration still waits or runs."""
    try:
        status = Job.fetch(value[2:], connection=redis_store.client).get_status(refresh=False)
    except NoSuchJobError:
        return False
    return status in ("queued", "started", "scheduled", "deferred")


def forget_run(run_id) -> None:
    """Drop all of a run's chunk registrations (the run is over)."""
    redis_store.client.delete(_chunks_key(run_id))


def schedule_retry(run_id: int, due) -> None:
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
        queue.enqueue(RETRY_DEFERRED, run_id, job_timeout=job_timeout())
    else:
        queue.enqueue_in(delay, RETRY_DEFERRED, run_id, job_timeout=job_timeout())


def retry_started(run_id: int) -> None:
    """A retry job runs now: a later deferral must schedule the next one."""
    redis_store.client.delete(redis_store.key("delivery", "retry", run_id))


def retry_scheduled(run_id: int) -> bool:
    """True when a retry job is scheduled for the run."""
    return bool(redis_store.client.exists(redis_store.key("delivery", "retry", run_id)))

