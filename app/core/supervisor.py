"""The supervisor: a thread in every worker; every ``SUPERVISOR_SECONDS`` the one holding the
supervisor lease runs the domains' repairs (the ``supervisor_tasks`` filter), so no cron job and
no operator is needed to move work that a dead job, a lost Redis or a failed job left behind.

The lease is a Redis key (``<prefix>:supervisor``, three periods long) that its holder extends
at each pass; when the holder dies another worker takes it at its next pass after
the key expires, and when Redis restarts empty the first worker to ask takes it. Without Redis
nobody supervises: every repair needs Redis (leases, chunks, queues) as well as the database.
"""
import logging
import os
import secrets
import socket
import threading

from redis.exceptions import RedisError

from .extensions import db, redis_store
from .hooks import apply_filters
from .jobs import fork_guard
from .transient import is_transient

log = logging.getLogger(__name__)
LOCK_SCRIPT = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] or not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""


class Supervisor:
    """Runs the supervisor pass of ``app`` every ``interval`` seconds in a daemon thread."""

    def __init__(self, app, interval: float | None = None):
        self.app = app
        self.interval = float(interval or app.config["SUPERVISOR_SECONDS"])
        self.ident = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self._stop = threading.Event()

    def holds_lease(self) -> bool:
        """Take or extend the supervisor lease; True when this supervisor holds it now."""
        ttl_ms = int(3 * self.interval * 1000)
        return bool(redis_store.client.eval(LOCK_SCRIPT, 1, redis_store.key("supervisor"),
                                            self.ident, ttl_ms))

    def run_once(self) -> int:
        """One pass (inside an app context): every step of every task if this supervisor holds
        the lease; returns how many steps ran (0 without the lease)."""
        if not self.holds_lease():
            return 0
        done = 0
        for task in apply_filters("supervisor_tasks", []):
            for step in self._steps(task):
                done += self._run(step)
        return done

    def _steps(self, task) -> list:
        with fork_guard():
            try:
                steps = list(task())
                db.session.commit()
                return steps
            except Exception as error:
                self._failed(task, error)
                return []

    def _run(self, step) -> int:
        with fork_guard():  # a work horse forked meanwhile would inherit our locks
            try:
                step()
                db.session.commit()
                return 1
            except Exception as error:
                self._failed(step, error)
                return 0

    @staticmethod
    def _failed(what, error) -> None:
        try:
            db.session.rollback()
        except Exception:
            db.session.remove()
        if is_transient(error):
            log.warning("supervisor: %r failed transiently: %s", what, str(error).splitlines()[0][:200])
        else:
            log.exception("supervisor: %r failed", what)

    def loop(self) -> None:
        """Pass after pass until ``stop()``; nothing raised ends the loop."""
        while not self._stop.wait(self.interval):
            with self.app.app_context():
                try:
                    self.run_once()
                except RedisError as error:
                    log.warning("supervisor: Redis does not answer: %s", error)
                except Exception:
                    log.exception("supervisor pass failed")
                finally:
                    db.session.remove()

    def start(self) -> "Supervisor":
        """Run ``loop`` in a daemon thread; returns self."""
        threading.Thread(target=self.loop, name="herald-supervisor", daemon=True).start()
        return self

    def stop(self) -> None:
        """End the loop after the current pass."""
        self._stop.set()
