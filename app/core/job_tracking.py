"""Tracked jobs: the RQ jobs queued or running for one piece of work (a run, a send), so the
supervisor can tell work that some job will move from work that nobody moves any more.

A job enqueued with ``track="<name>"`` is listed in the hash ``<prefix>:jobs:<name>`` (field:
job id, value: when it is due, Unix seconds) and carries the name in its meta. While it runs,
``HeraldJob`` keeps a lease ``<prefix>:jobs:alive:<job id>`` (``JOB_LEASE_SECONDS``) whose beat
also lists the job again (so a job survives Redis restarting empty); it leaves the list at its end.
A listed job is alive while RQ still holds it queued (in its queue, or taken from it less than a
lease ago) or deferred, scheduled and not overdue by
more than the lease (no scheduler may be running), or started with its lease kept
(``leases.alive``; or started less than a lease ago). Anything else — finished, failed, gone with
Redis, killed — is dropped.
"""
import calendar
import time
import uuid

from flask import current_app
from rq import Queue
from rq.job import Job
from rq.utils import utcparse

from .extensions import redis_store
from .leases import Lease, alive

TRACK_TTL = 30 * 86400  # a list nobody touched for a month is forgotten


def track_key(track: str) -> str:
    """The hash listing the jobs of ``track``."""
    return redis_store.key("jobs", track)


def alive_key(job_id: str) -> str:
    """The lease a running tracked job keeps."""
    return redis_store.key("jobs", "alive", job_id)


def new_job_id() -> str:
    """An id for a tracked job, known before it is enqueued."""
    return uuid.uuid4().hex


def record(track: str, job_id: str, due: float | None = None, pipe=None) -> None:
    """List ``job_id`` under ``track``, due at ``due`` (Unix seconds; now when None)."""
    target = pipe if pipe is not None else redis_store.client.pipeline(transaction=False)
    key = track_key(track)
    target.hset(key, job_id, int(due or time.time()))
    target.expire(key, TRACK_TTL)
    if pipe is None:
        target.execute()


def tracked_options(track: str | None, options: dict, due: float | None = None) -> dict:
    """RQ enqueue options for a tracked job (its id and meta), after listing it under ``track``;
    ``options`` unchanged when ``track`` is None."""
    if track is None:
        return options
    options = dict(options)
    options.setdefault("job_id", new_job_id())
    options["meta"] = {**options.get("meta", {}), "herald_track": track}
    record(track, options["job_id"], due)
    return options


def running_lease(job) -> Lease | None:
    """The lease a tracked job holds while it runs (None for an untracked job)."""
    track = (job.meta or {}).get("herald_track")
    if not track:
        return None
    key, job_id = track_key(track), job.id

    def relist(pipe):
        pipe.hset(key, job_id, int(time.time()))
        pipe.expire(key, TRACK_TTL)
    return Lease(alive_key(job.id), float(current_app.config["JOB_LEASE_SECONDS"]), on_beat=relist)


def finished(job) -> None:
    """Take a tracked job off its list (its work is done or handed on)."""
    track = (job.meta or {}).get("herald_track")
    if track:
        redis_store.client.hdel(track_key(track), job.id)


def live_jobs(track: str) -> int:
    """How many listed jobs of ``track`` are alive (see the module docstring); the dead ones
    leave the list. Redis errors propagate."""
    client = redis_store.client
    listed = {job_id.decode(): float(due) for job_id, due in client.hgetall(track_key(track)).items()}
    if not listed:
        return 0
    lease = float(current_app.config["JOB_LEASE_SECONDS"])
    pipe = client.pipeline(transaction=False)
    for job_id in listed:
        pipe.hmget(Job.key_for(job_id), "status", "started_at", "origin")
    answers = pipe.execute()
    in_queue = _in_their_queues(client, listed, answers)
    running = alive([alive_key(job_id) for job_id in listed], lease)
    now, live, dead = time.time(), 0, []
    for index, job_id in enumerate(listed):
        status, started_at, _ = answers[index]
        running_now = alive_key(job_id) in running
        # "queued" but in no queue: taken by a worker that died before starting it (RQ leaves
        # it in its intermediate list until its own cleanup), unless taken within a lease
        waiting = status == b"deferred" or (status == b"queued" and (
            job_id in in_queue or now < listed[job_id] + lease))
        if (waiting or running_now
                or (status == b"scheduled" and now < listed[job_id] + lease)
                or (status == b"started" and _started_within(started_at, lease, now))):
            live += 1
        else:
            dead.append(job_id)
    if dead:
        client.hdel(track_key(track), *dead)
    return live


def _in_their_queues(client, listed, answers) -> set:
    """The ids among ``listed`` with status "queued" that their queue (``origin``) still lists."""
    queued = [(job_id, origin) for job_id, (status, _, origin) in zip(listed, answers)
              if status == b"queued" and origin]
    if not queued:
        return set()
    pipe = client.pipeline(transaction=False)
    for job_id, origin in queued:
        pipe.lpos(Queue.redis_queue_namespace_prefix + origin.decode(), job_id)
    return {job_id for (job_id, _), position in zip(queued, pipe.execute()) if position is not None}


def _started_within(started_at, seconds: float, now: float) -> bool:
    if not started_at:
        return False
    started = calendar.timegm(utcparse(started_at.decode()).utctimetuple())
    return now - started < seconds
