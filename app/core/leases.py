"""Leases in Redis: keys a daemon thread keeps alive while their holder works, so a key not
refreshed for two beats means a dead holder (SIGKILL, lost machine) — once Redis itself has held
its data long enough.

A holder beats every third of its lease; ``alive`` counts it dead once two beats are missed (its
key has less than a third of its time left, or is gone), so a dead holder's work is taken over
between one and two thirds of the lease after its last beat plus the caller's own period — within
the lease. A holder that cannot beat fences itself first: ``Lease.check()`` raises ``LeaseLost``
once half the lease has passed without a beat, so it stops before anyone takes its work over.

Redis restarted empty (or flushed, or failed over) loses every lease at once while their holders
live on; each holder sets its key again at its next beat (a third of the lease). ``settled(ttl)``
tells the two apart: it is true only when this Redis (same ``run_id``) has kept an epoch marker
for at least ``ttl`` seconds, so nothing is reaped in the first lease period after a restart.
"""
import logging
import threading
import time

from redis.exceptions import RedisError

from .extensions import redis_store

log = logging.getLogger(__name__)


class LeaseLost(RuntimeError):
    """The holder could not refresh its lease for half of it: others may soon take its work."""


class Lease:
    """``key`` set with a ``ttl`` (seconds) and refreshed every ``ttl / 3`` by a daemon thread
    until the ``with`` block ends; ``on_beat(pipe)`` adds commands to each refresh. Entering
    raises RedisError when Redis does not answer; a failed refresh is logged and tried again.

    A ``fenced`` lease (a class attribute) that went half its time without a refresh is lost for
    good: the holder was frozen (SIGSTOP, a paused VM) or cut from Redis long enough for others
    to count it dead and take its work over, so it is never set again and ``check()`` raises
    from then on, even once Redis answers again (a refresh on waking would let the holder go on
    with work that is no longer its own)."""

    fenced = False

    def __init__(self, key: str, ttl: float, on_beat=None):
        self.key, self.ttl, self.on_beat = key, float(ttl), on_beat
        self._client = redis_store.client
        self._epoch = epoch_key()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lease-{key}", daemon=True)
        self.beaten_at = None  # time.monotonic() of the last refresh that Redis acknowledged
        self.lost = False  # a fenced lease that lapsed

    def __enter__(self):
        self.beat()
        self._thread.start()
        return self

    def beat(self) -> None:
        """Set the key again for ``ttl`` (and start the Redis epoch if it is new); a fenced lease
        that lapsed is not set again."""
        if self.fenced and (self.lost or self._lapsed()):
            self.lost = True
            return
        run_id = redis_run_id(self._client)
        pipe = self._client.pipeline(transaction=False)
        pipe.set(self.key, 1, px=int(self.ttl * 1000))
        pipe.eval(EPOCH_SCRIPT, 1, self._epoch, run_id)
        if self.on_beat is not None:
            self.on_beat(pipe)
        started = time.monotonic()
        pipe.execute()
        self.beaten_at = started

    def _lapsed(self) -> bool:
        return self.beaten_at is not None and time.monotonic() - self.beaten_at > self.ttl / 2

    def check(self) -> None:
        """Raise LeaseLost when no refresh went through for half the lease (seconds), and for a
        fenced lease from then on."""
        if self.beaten_at is None or self._lapsed() or self.lost:
            self.lost = self.fenced
            raise LeaseLost(f"lease {self.key} not refreshed for {self.ttl / 2:.0f} s")

    def _run(self):
        while not self._stop.wait(self.ttl / 3):
            try:
                self.beat()
            except RedisError:  # keep trying: a Redis outage must not end the holder's work
                log.warning("cannot refresh lease %s", self.key, exc_info=True)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=5)
        try:
            self._client.delete(self.key)
        except RedisError:  # it expires by itself
            log.warning("cannot release lease %s", self.key)


def alive(keys, ttl: float) -> set:
    """The keys among ``keys`` (leases of ``ttl`` seconds) whose holder beat within the last two
    thirds of the lease: more than a third of it is left (PTTL; -1, no expiry, counts as alive)."""
    keys = list(keys)
    if not keys:
        return set()
    pipe = redis_store.client.pipeline(transaction=False)
    for key in keys:
        pipe.pttl(key)
    left = ttl * 1000 / 3
    return {key for key, ms in zip(keys, pipe.execute()) if ms == -1 or ms > left}


EPOCH_SCRIPT = """
local marker = redis.call('GET', KEYS[1])
if (not marker) or string.sub(marker, 1, #ARGV[1] + 1) ~= ARGV[1] .. ':' then
  marker = ARGV[1] .. ':' .. redis.call('TIME')[1]
  redis.call('SET', KEYS[1], marker)
end
return {marker, redis.call('TIME')[1]}
"""


def epoch_key() -> str:
    """The key marking since when this Redis holds Herald's data."""
    return redis_store.key("epoch")


def redis_run_id(client=None) -> str:
    """The ``run_id`` of the Redis server: a new random id at each start (and on a replica
    promoted after a failover), so data written under another id may be stale or gone."""
    return (client or redis_store.client).info("server")["run_id"]


def settled(ttl: float) -> bool:
    """True when this Redis (same ``run_id``) has held Herald's data for at least ``ttl`` seconds,
    so a lease missing now belongs to a dead holder rather than to one that has not beaten since
    Redis restarted. The epoch marker is ``<run_id>:<Redis TIME>``, set by the first lease or
    check after a start, a flush or a failover."""
    marker, now = redis_store.client.eval(EPOCH_SCRIPT, 1, epoch_key(), redis_run_id())
    return int(now) - int(marker.decode().rsplit(":", 1)[1]) >= ttl
