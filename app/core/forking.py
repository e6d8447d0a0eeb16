"""A guard between a worker's threads that use the database and RQ's fork of a work horse.

A process forked while another of its threads holds a lock keeps that lock held forever in the
child: a work horse forked while the supervisor or the scheduler thread was inside SQLAlchemy
(mapper configuration, the statement cache) or a database driver hung on its first query (seen in
tests/delivery/test_self_healing.py). Those threads hold ``fork_guard()`` around each piece of
database work; ``os.fork`` waits for it (``os.register_at_fork``), so a child never inherits one.
"""
import os
import threading
from contextlib import contextmanager

_GUARD = threading.RLock()  # reentrant: a guarded thread that forks must not wait for itself


def _release() -> None:
    _GUARD.release()


os.register_at_fork(before=_GUARD.acquire, after_in_parent=_release, after_in_child=_release)


@contextmanager
def fork_guard():
    """Hold off forks of this process while the block runs (keep the block short: a work horse
    waits for it)."""
    with _GUARD:
        yield
