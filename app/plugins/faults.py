"""Plugin faults and recovery mode, kept in Redis so web processes, workers and the CLI share them."""
import json
import logging
from dataclasses import dataclass

import redis
from sqlalchemy.exc import SQLAlchemyError

from ..core.extensions import db
from ..core.hooks.guard import PluginFault
from ..core.settings.services import get_option
from ..core.utils import utcnow

log = logging.getLogger(__name__)

THRESHOLD_OPTION = "plugins.recovery_threshold"
DEFAULT_THRESHOLD = 5
# Faults in these steps are shown but do not count towards recovery mode: the plugin is not
# running when they happen (setup faults live on the PluginInfo, per process, as before).
LIFECYCLE = ("setup", "activate", "deactivate", "upgrade", "uninstall", "migration")


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
    One hash per plugin holds ``<where>|count``, ``|first``, ``|last``, ``|error``,
    ``|traceback`` and ``total``; one hash holds the suspended plugins and why.
    """

    def __init__(self, app):
        self.app = app

    @property
    def client(self) -> redis.Redis:
        """The app's Redis client."""
        return self.app.extensions["herald_redis"]

    def _key(self, *parts) -> str:
        return ":".join([self.app.config["HERALD_PREFIX"], "plugins", *parts])

    def record(self, fault: PluginFault) -> bool:
        """Store ``fault``; True when it made recovery mode switch the plugin off."""
        where, now = fault.where, utcnow().isoformat(timespec="seconds")
        counts = where not in LIFECYCLE
        pipe = self.client.pipeline()
        pipe.hincrby(self._key("faults", fault.slug), f"{where}|count", 1)
        pipe.hsetnx(self._key("faults", fault.slug), f"{where}|first", now)
        pipe.hset(self._key("faults", fault.slug), mapping={
            f"{where}|last": now, f"{where}|error": fault.summary[:500],
            f"{where}|traceback": fault.traceback})
        if counts:
            pipe.hincrby(self._key("faults", fault.slug), "total", 1)
        total = pipe.execute()[-1]
        threshold = self.threshold()
        if counts and threshold and total >= threshold:
            return self.suspend(fault.slug, "faults",
                                f"{total} faults, the last in {where}: {fault.summary}")
        return False

    def threshold(self) -> int:
        """Faults after which a plugin is switched off (the setting; 0 turns recovery mode off)."""
        try:
            with db.session.no_autoflush:
                value = get_option(THRESHOLD_OPTION, DEFAULT_THRESHOLD)
        except SQLAlchemyError:  # e.g. the plugin's own SQL error aborted the transaction
            return DEFAULT_THRESHOLD
        return value if isinstance(value, int) and not isinstance(value, bool) else DEFAULT_THRESHOLD

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
        pipe = self.client.pipeline()
        pipe.hdel(self._key("faults", slug), "total")
        pipe.hdel(self._key("suspended"), slug)
        pipe.execute()

    def forget(self, slug: str, where: str) -> None:
        """Forget the faults of ``slug`` in ``where`` (a migration that has now succeeded)."""
        fields = [f"{where}|{name}" for name in ("count", "first", "last", "error", "traceback")]
        self.client.hdel(self._key("faults", slug), *fields)

    def clear(self, slug: str) -> None:
        """Forget the plugin's faults and lift its suspension."""
        pipe = self.client.pipeline()
        pipe.delete(self._key("faults", slug))
        pipe.hdel(self._key("suspended"), slug)
        pipe.execute()

    def suspend(self, slug: str, kind: str, reason: str) -> bool:
        """Switch plugin ``slug`` off everywhere (``kind``: faults or migration); True if it was on."""
        entry = json.dumps({"kind": kind, "reason": reason[:500],
                            "at": utcnow().isoformat(timespec="seconds")})
        if not self.client.hsetnx(self._key("suspended"), slug, entry):
            return False
        log.error("plugin %s is switched off (recovery mode): %s", slug, reason)
        return True

    def resume(self, slug: str, kind: str | None = None) -> None:
        """Lift the suspension of ``slug`` (only one of ``kind`` when given)."""
        if kind is None or self.suspended().get(slug, {}).get("kind") == kind:
            self.client.hdel(self._key("suspended"), slug)

    def suspended(self) -> dict[str, dict]:
        """{slug: {"kind", "reason", "at"}} of the plugins recovery mode switched off."""
        try:
            raw = self.client.hgetall(self._key("suspended"))
        except redis.RedisError as error:
            log.warning("cannot read suspended plugins from Redis: %s", error)
            return {}
        return {slug.decode(): json.loads(value) for slug, value in raw.items()}
