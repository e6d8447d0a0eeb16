"""Background jobs on RQ: the queues, enqueue-after-commit, and the app-aware job class.

Importing this module builds no app. Jobs are enqueued by passing the function itself (never a
dotted string: a reader and the import linter must see who starts what) and run inside an app
context pushed by ``HeraldJob``; the worker is started with ``flask rq worker``. A job enqueued
with ``track="<name>"`` is a tracked job (``app/core/job_tracking.py``): the supervisor can ask
whether any job still moves that piece of work.
"""
import inspect
import logging
import os
import threading
import time
from contextlib import contextmanager

from flask import current_app
from rq import Queue
from redis.exceptions import RedisError
from rq.job import Job
from sqlalchemy import event

from . import job_tracking
from .extensions import db, redis_store
from .transient import REDIS_TRANSIENT

log = logging.getLogger(__name__)
QUEUES = ("default", "delivery", "emails", "scheduling")


def queue_name(name: str) -> str:
    """The real RQ queue name of logical queue ``name``, under this network's prefix."""
    return f"{current_app.config['HERALD_PREFIX']}:{name}"


def get_queue(name: str = "default") -> Queue:
    """The RQ queue ``name`` of this network, using the app-aware job class."""
    if name not in QUEUES:
        raise ValueError(f"unknown queue {name!r}; known queues: {', '.join(QUEUES)}")
    return Queue(queue_name(name), connection=redis_store.client, job_class=HeraldJob)


def _job_function(func):
    """``func`` when it is a module-level function (what a worker can import by its name)."""
    if not inspect.isfunction(func) or func.__qualname__ != func.__name__:
        raise TypeError(f"enqueue a module-level job function, not {func!r}")
    return func


def enqueue_now(func, *args, queue: str = "default", track: str | None = None, **options) -> Job:
    """Enqueue ``func`` (a module-level function) at once; use only where no database change has
    to commit first. TypeError for anything but a function. ``track`` and ``options`` as for
    ``enqueue_after_commit``."""
    return _enqueue(_job_function(func), args, queue, dict(options, track=track))


def enqueue_after_commit(func, *args, queue: str = "default", track: str | None = None,
                         **options) -> None:
    """Enqueue ``func`` once the current database transaction commits; dropped on rollback.

    ``func`` is a module-level function (TypeError otherwise); ``options`` go to RQ's
    ``enqueue_call`` style arguments (``job_id``, ``job_timeout``, ...), plus ``enqueue_in`` (a
    timedelta) for a delayed job. ``track`` lists the job under that name (a tracked job).
    """
    _pending("job", _job_function(func), args, queue, dict(options, track=track))


def enqueue_many(func, args_list, queue: str = "default", track: str | None = None,
                 **options) -> list:
    """Enqueue ``func`` once per argument tuple of ``args_list`` in one round trip (tracked under
    ``track`` when given); returns the job ids. ``options`` as for ``Queue.prepare_data``."""
    rq_queue, datas = get_queue(queue), []
    for args in args_list:
        data_options = job_tracking.tracked_options(track, options)
        datas.append(rq_queue.prepare_data(_job_function(func), tuple(args), **data_options))
    with redis_store.client.pipeline() as pipe:
        jobs = rq_queue.enqueue_many(datas, pipeline=pipe)
        pipe.execute()
    return [job.id for job in jobs]


def _enqueue(func, args, queue, options) -> Job:
    options = dict(options)
    delay, track = options.pop("enqueue_in", None), options.pop("track", None)
    due = time.time() + delay.total_seconds() if delay is not None else None
    options = job_tracking.tracked_options(track, options, due)
    if delay is not None:
        return get_queue(queue).enqueue_in(delay, func, *args, **options)
    return get_queue(queue).enqueue(func, *args, **options)


def after_commit(func, *args) -> None:
    """Call ``func(*args)`` once the current database transaction commits; dropped on rollback
    (of the transaction or of the savepoint it was registered in). For side effects outside the
    database that must follow the commit, such as dropping a run's chunks from Redis."""
    _pending(None, func, args, None, None)


def _pending(kind, func, args, queue, options) -> None:
    session = db.session()
    session.connection()  # make sure a transaction is open, so its commit event fires
    transaction = session.get_nested_transaction() or session.get_transaction()
    session.info.setdefault("herald_pending_jobs", []).append((transaction, kind, func, args, queue, options))


def _flush_pending(session) -> None:
    pending = session.info.pop("herald_pending_jobs", [])
    for _transaction, kind, func, args, queue, options in pending:
        if kind is None:
            func(*args)
            continue
        try:
            _enqueue(func, args, queue, options)
        except REDIS_TRANSIENT as error:  # committed: the supervisor enqueues it once Redis answers
            log.warning("%s%r not enqueued (Redis: %s); the supervisor will enqueue it again",
                        getattr(func, "__name__", func), args, error)


def _inside(transaction, rolled_back) -> bool:
    while transaction is not None:
        if transaction is rolled_back:
            return True
        transaction = transaction.parent
    return False


def _drop_pending(session, previous_transaction) -> None:
    """Forget the jobs registered inside the transaction (or savepoint) that rolled back."""
    if not previous_transaction.nested:
        session.info.pop("herald_pending_jobs", None)
        return
    pending = session.info.get("herald_pending_jobs", [])
    session.info["herald_pending_jobs"] = [entry for entry in pending
                                           if not _inside(entry[0], previous_transaction)]


def init_job_events() -> None:
    """Hook enqueue-after-commit into the session's commit and rollback events (once)."""
    session_class = db.session.session_factory.class_
    if not event.contains(session_class, "after_commit", _flush_pending):
        event.listen(session_class, "after_commit", _flush_pending)
        event.listen(session_class, "after_soft_rollback", _drop_pending)


# A process forked while another of its threads holds a lock keeps that lock held forever in the
# child: a work horse forked while the supervisor or the scheduler thread was inside SQLAlchemy
# (mapper configuration, the statement cache) or a database driver hung on its first query (seen in
# tests/delivery/test_self_healing.py). Those threads hold fork_guard() around each piece of
# database work, and os.fork waits for it; reentrant, so a guarded thread that forks never waits
# for itself.
_FORK_GUARD = threading.RLock()
os.register_at_fork(before=_FORK_GUARD.acquire, after_in_parent=_FORK_GUARD.release,
                    after_in_child=_FORK_GUARD.release)


@contextmanager
def fork_guard():
    """Hold off forks of this process (RQ's work horses) while the block runs; for threads of a
    worker's main process that use the database. Keep the block short: a horse waits for it."""
    with _FORK_GUARD:
        yield


def _forget(job) -> None:
    try:
        job_tracking.finished(job)
    except RedisError:  # the list drops it anyway once RQ says it is over
        log.warning("cannot take job %s off its list", job.id)


class HeraldJob(Job):
    """An RQ job that runs inside an app context of the worker's app; a tracked job holds its
    lease while it runs and leaves its list when it ends, however it ends."""

    app = None  # set by the worker command (or a test) before jobs run
    _pid = None

    def perform(self):  # noqa: D102 - RQ API
        app = HeraldJob.app
        if app is None:
            raise RuntimeError("HeraldJob.app is not set: start workers with `flask rq worker`")
        with app.app_context():
            if HeraldJob._pid != os.getpid():  # a forked work horse: no shared DB sockets
                db.engine.dispose(close=False)
                HeraldJob._pid = os.getpid()
            lease = job_tracking.running_lease(self)
            try:
                if lease is None:
                    return super().perform()
                with lease:
                    return super().perform()
            finally:
                db.session.remove()
                if lease is not None:
                    _forget(self)
