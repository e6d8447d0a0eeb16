"""Transient failures (the database or Redis unreachable, SQLite busy) and retrying them with backoff.

A job or a step that meets a transient failure rolls its transaction back, waits and tries again,
with delays of 0.5, 1, 2, 4 … seconds capped at ``TRANSIENT_RETRY_MAX_DELAY`` (10 s), for up to
``TRANSIENT_RETRY_SECONDS`` (600 s; less when the job's RQ timeout is shorter); then the error
is raised and the supervisor (``app/core/supervisor.py``) moves the work on later. Anything else
(a bug, a constraint violation, a missing table) is raised at once: retrying cannot fix it.
"""
import functools
import logging
import sqlite3
import time

import redis
from flask import current_app
from rq import get_current_job
from sqlalchemy import exc as sa_exc

from .extensions import db
from .leases import LeaseLost

log = logging.getLogger(__name__)
REDIS_TRANSIENT = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError,
                   redis.exceptions.ReadOnlyError, redis.exceptions.TryAgainError)
# SQLite reports contention and an unreadable file as OperationalError, like a missing table.
SQLITE_TRANSIENT = ("locked", "busy", "unable to open database", "disk i/o error")
JOB_TIMEOUT_MARGIN = 30  # seconds left to the job after its last retry, before RQ's timeout


def is_transient(error: BaseException) -> bool:
    """True for failures that go away by themselves: Redis unreachable, loading or read-only (or
    a lease that could not be refreshed for that reason);
    a lost or refused database connection (any PostgreSQL OperationalError, e.g. admin shutdown,
    serialization failure, deadlock); SQLite busy or locked; an exhausted connection pool."""
    if isinstance(error, (sa_exc.TimeoutError, LeaseLost) + REDIS_TRANSIENT):
        return True
    if not isinstance(error, sa_exc.DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    if not isinstance(error, (sa_exc.OperationalError, sa_exc.InterfaceError)):
        return False
    if isinstance(error.orig, sqlite3.Error):
        return any(word in str(error.orig).lower() for word in SQLITE_TRANSIENT)
    return True


def rollback_after_failure() -> None:
    """Roll the session back after a failed statement; a session whose connection is gone is
    removed instead (it starts afresh on next use). Never raises."""
    try:
        db.session.rollback()
    except Exception:  # the connection is gone: the session starts afresh next time
        log.debug("rollback after a transient failure failed", exc_info=True)
        db.session.remove()


def retry_budget() -> float:
    """Seconds a job may spend retrying: ``TRANSIENT_RETRY_SECONDS``, capped by the current RQ
    job's timeout less a margin."""
    seconds = float(current_app.config["TRANSIENT_RETRY_SECONDS"])
    job = get_current_job()
    if job is not None and job.timeout and job.timeout > 0:
        seconds = min(seconds, max(1.0, job.timeout - JOB_TIMEOUT_MARGIN))
    return seconds


def retrying(func, *args, what: str = "", seconds: float | None = None, **kwargs):
    """``func(*args, **kwargs)``, called again after a rollback and a growing delay for as long as
    it fails transiently, up to ``seconds`` (default ``retry_budget()``); then the last error is
    raised. ``what`` names the step in the log."""
    deadline = time.monotonic() + (retry_budget() if seconds is None else seconds)
    delay, cap = 0.5, float(current_app.config["TRANSIENT_RETRY_MAX_DELAY"])
    name = what or getattr(func, "__qualname__", repr(func))
    while True:
        try:
            return func(*args, **kwargs)
        except Exception as error:
            if not is_transient(error):
                raise
            rollback_after_failure()
            left = deadline - time.monotonic()
            if left <= 0:
                log.error("%s: giving up after a transient failure: %s", name, error)
                raise
            wait = min(delay, cap, left)
            log.warning("%s: transient failure, retrying in %.1f s: %s", name,
                        wait, str(error).splitlines()[0][:200])
            time.sleep(wait)
            delay *= 2


def retry_transient(job):
    """Decorator for RQ job functions: the whole job is tried again on a transient failure (see
    ``retrying``). The job must be safe to repeat from the top, as every run-moving job is."""
    @functools.wraps(job)
    def wrapper(*args, **kwargs):
        return retrying(job, *args, what=job.__name__, **kwargs)
    return wrapper
