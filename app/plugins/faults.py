"""Plugin faults and recovery mode, kept in Redis so web processes, workers and the CLI share them."""
import logging
import time
import uuid
from dataclasses import dataclass

import redis
from sqlalchemy.exc import SQLAlchemyError

from ..core.extensions import db
from ..core.hooks.guard import PluginFault
from ..core.settings.services import get_option
from ..core.utils import utcnow
from .suspensions import Suspensions

log = logging.getLogger(__name__)

THRESHOLD_OPTION = "plugins.recovery_threshold"
DEFAULT_THRESHOLD = 5
WINDOW_OPTION = "plugins.recovery_window"
DEFAULT_WINDOW = 10  # minutes
# Faults in these steps are shown but do not count towards recovery mode: the plugin is not
# running when they happen (setup faults live on the PluginInfo, per process, as before).
LIFECYCLE = ("setup", "activate", "deactivate", "upgrade", "uninstall", "migration")


def counts_towards_recovery(where: str) -> bool:
    """True for faults that break core pages and jobs (hooks, app-wide request hooks, setting
    validators); a fault of the plugin's own pages (``view ...``) breaks only that page, and
    anyone who can open it (anonymous visitors of a public page) could switch the plugin off."""
    return where not in LIFECYCLE and not where.startswith(("view ", "slow "))


@dataclass
class FaultRecord:
    """The faults of one plugin in one place (a hook, a page or a lifecycle step)."""
    slug: str
    where: str
    count: int
    first_at: str
    last_at: str
    error: str
    traceback: str


class FaultStore:
    """Faults per plugin and the plugins recovery mode switched off, in this network's Redis.

    Redis rather than the database: a fault happens in the middle of someone else's transaction
    (a payment being recorded, a worker between claim and send); writing it there would be lost
    with a rollback or force an early commit, and a second connection would wait on SQLite's
    write lock held by that very transaction. Redis counts atomically across every process.
    One hash per plugin holds ``<where>|count``, ``|first``, ``|last``, ``|error`` and
    ``|traceback``; a sorted set per plugin holds the times of its counting faults within the
    window; ``suspensions`` (stored in the database, cached in Redis) the plugins switched off.
    """

    def __init__(self, app):
        self.app = app
        self.suspensions = Suspensions(lambda: self.client, self._key("suspended"))

    @property
    def client(self) -> redis.Redis:
        """The app's Redis client."""
        return self.app.extensions["herald_redis"]

    def _key(self, *parts) -> str:
        return ":".join([self.app.config["HERALD_PREFIX"], "plugins", *parts])

    def record(self, fault: PluginFault) -> bool:
        """Store ``fault``; True when it made recovery mode switch the plugin off (the
        threshold's number of counting faults within the window)."""
        where = fault.where
        counts = counts_towards_recovery(where)
        threshold, window = (self.threshold(), self.window() * 60) if counts else (0, 0)
        pipe = self._store(fault.slug, where, fault.summary, fault.traceback)
        if counts:
            recent, stamp = self._key("recent", fault.slug), time.time()
            pipe.zadd(recent, {uuid.uuid4().hex: stamp})
            pipe.zremrangebyscore(recent, "-inf", stamp - window)
            pipe.expire(recent, window + 60)
            pipe.zcard(recent)
        total = pipe.execute()[-1]
        if counts and threshold and total >= threshold:
            return self.suspend(fault.slug, "faults", f"{total} faults within {window // 60} minutes, "
                                f"the last in {where}: {fault.summary}")
        return False

    def record_slow(self, slug: str, where: str, seconds: float) -> None:
        """Record that plugin ``slug``'s callback in ``where`` took ``seconds`` (over the
        PLUGIN_SLOW_SECONDS threshold): shown with its faults as ``slow <where>``, never counted."""
        limit = self.app.config["PLUGIN_SLOW_SECONDS"]
        log.warning("plugin %s was slow in %s: %.1f s", slug, where, seconds)
        self._store(slug, f"slow {where}", f"took {seconds:.1f} s (more than {limit:g} s)", "").execute()

    def _store(self, slug, where, summary, trace):
        now = utcnow().isoformat(timespec="seconds")
        key = self._key("faults", slug)
        pipe = self.client.pipeline()
        pipe.hincrby(key, f"{where}|count", 1)
        pipe.hsetnx(key, f"{where}|first", now)
        pipe.hset(key, mapping={f"{where}|last": now, f"{where}|error": summary[:500],
                                f"{where}|traceback": trace})
        return pipe

    def threshold(self) -> int:
        """Faults after which a plugin is switched off (the setting; 0 turns recovery mode off)."""
        return self._option(THRESHOLD_OPTION, DEFAULT_THRESHOLD)

    def window(self) -> int:
        """Minutes within which the threshold's faults must fall (the setting)."""
        return max(1, self._option(WINDOW_OPTION, DEFAULT_WINDOW))

    @staticmethod
    def _option(key, default) -> int:
        try:
            with db.session.no_autoflush:
                value = get_option(key, default)
        except SQLAlchemyError:  # e.g. the plugin's own SQL error aborted the transaction
            return default
        return value if isinstance(value, int) and not isinstance(value, bool) else default

    def faults(self, slugs) -> dict[str, list[FaultRecord]]:
        """{slug: its FaultRecords, most recent first} for the plugins in ``slugs`` that have any."""
        slugs = list(slugs)
        try:
            pipe = self.client.pipeline(transaction=False)
            for slug in slugs:
                pipe.hgetall(self._key("faults", slug))
            hashes = pipe.execute()
        except redis.RedisError as error:
            log.warning("cannot read plugin faults from Redis: %s", error)
            return {}
        found = {}
        for slug, raw in zip(slugs, hashes):
            fields = {k.decode(): v.decode() for k, v in raw.items()}
            places = {name.rpartition("|")[0] for name in fields if "|" in name}
            records = [FaultRecord(slug, where, int(fields.get(f"{where}|count", 0)),
                                   fields.get(f"{where}|first", ""), fields.get(f"{where}|last", ""),
                                   fields.get(f"{where}|error", ""), fields.get(f"{where}|traceback", ""))
                       for where in places]
            if records:
                found[slug] = sorted(records, key=lambda r: r.last_at, reverse=True)
        return found

    def reset_count(self, slug: str) -> None:
        """Start counting towards recovery mode afresh (on activation) and lift a suspension;
        the records stay on the Plugins page."""
        self.client.delete(self._key("recent", slug))
        self.suspensions.remove(slug)

    def forget(self, slug: str, where: str) -> None:
        """Forget the faults of ``slug`` in ``where`` (a migration that has now succeeded)."""
        fields = [f"{where}|{name}" for name in ("count", "first", "last", "error", "traceback")]
        self.client.hdel(self._key("faults", slug), *fields)

    def clear(self, slug: str) -> None:
        """Forget the plugin's faults and lift its suspension."""
        self.client.delete(self._key("faults", slug), self._key("recent", slug))
        self.suspensions.remove(slug)

    def suspend(self, slug: str, kind: str, reason: str) -> bool:
        """Switch plugin ``slug`` off everywhere (``kind``: faults or migration); True if it was on."""
        if not self.suspensions.add(slug, kind, reason):
            return False
        log.error("plugin %s is switched off (%s): %s", slug,
                  "recovery mode" if kind == "faults" else kind, reason)
        return True

    def resume(self, slug: str, kind: str | None = None) -> None:
        """Lift the suspension of ``slug`` (only one of ``kind`` when given)."""
        self.suspensions.remove(slug, kind)

    def suspended(self) -> dict[str, dict]:
        """{slug: {"kind", "reason", "at"}} of the plugins switched off (recovery mode or a
        failed migration): the database's record, read through the Redis cache."""
        return self.suspensions.all()
