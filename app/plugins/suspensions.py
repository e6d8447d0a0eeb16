"""Plugins switched off by recovery mode or a failed migration: stored in plugin_states, cached in Redis."""
import json
import logging

import redis
from sqlalchemy import event, select, update
from sqlalchemy.exc import InvalidRequestError, SQLAlchemyError

from ..core.extensions import db
from ..core.utils import utcnow
from .models import PluginState

log = logging.getLogger(__name__)
BUILT = "_"  # the field that marks the Redis hash as built from the database


class Suspensions:
    """The database (``plugin_states.suspended_*``) is the source of truth; one Redis hash
    ``{slug: {"kind", "reason", "at"}}`` is the fast copy every process reads per request, built
    again from the database when missing (Redis restarted or flushed).

    A suspension happens in the middle of someone else's transaction (a payment being recorded,
    a worker's send). It takes effect at once through Redis; the database row is written in a
    short transaction of its own, unless that would wait on the caller's own transaction
    (SQLite's write lock held by this very session, or a PostgreSQL row lock it holds): then it
    is written as soon as the caller's transaction ends, committed or rolled back.
    """

    def __init__(self, client, key: str):
        self._client, self.key = client, key

    @property
    def client(self) -> redis.Redis:
        """The app's Redis client."""
        return self._client()

    def all(self) -> dict[str, dict]:
        """{slug: {"kind", "reason", "at"}} of the suspended plugins."""
        try:
            raw = self.client.hgetall(self.key)
        except redis.RedisError as error:
            log.warning("cannot read suspended plugins from Redis, reading the database: %s", error)
            return self._stored()
        if not raw:
            return self._rebuild()
        return {slug.decode(): json.loads(value) for slug, value in raw.items()
                if slug.decode() != BUILT}

    def add(self, slug: str, kind: str, reason: str) -> bool:
        """Suspend ``slug`` (``kind``: faults or migration); True when it was not suspended."""
        entry = {"kind": kind, "reason": reason[:500], "at": utcnow().isoformat(timespec="seconds")}
        self.all()  # the cache exists before it is written to
        if not self.client.hsetnx(self.key, slug, json.dumps(entry)):
            return False
        self._write(slug, suspended_kind=kind, suspended_reason=entry["reason"],
                    suspended_at=utcnow())
        return True

    def remove(self, slug: str, kind: str | None = None) -> None:
        """Lift the suspension of ``slug`` (only one of ``kind`` when given)."""
        if kind is not None and self.all().get(slug, {}).get("kind") != kind:
            return
        self.client.hdel(self.key, slug)
        self._write(slug, suspended_kind=None, suspended_reason=None, suspended_at=None)

    # -- the database ----------------------------------------------------
    def _stored(self) -> dict[str, dict]:
        try:
            with db.engine.connect() as connection:
                rows = connection.execute(select(
                    PluginState.slug, PluginState.suspended_kind, PluginState.suspended_reason,
                    PluginState.suspended_at).where(PluginState.suspended_kind.is_not(None))).all()
        except SQLAlchemyError:  # not migrated yet
            return {}
        return {slug: {"kind": kind, "reason": reason or "",
                       "at": at.isoformat(timespec="seconds") if at else ""}
                for slug, kind, reason, at in rows}

    def _rebuild(self) -> dict[str, dict]:
        stored = self._stored()
        try:
            self.client.hset(self.key, mapping={BUILT: "1", **{s: json.dumps(e) for s, e in stored.items()}})
        except redis.RedisError as error:
            log.warning("cannot cache suspended plugins in Redis: %s", error)
        return stored

    def _write(self, slug: str, **values) -> None:
        session = db.session()
        if not _would_wait(session):
            try:
                with db.engine.begin() as connection:
                    if connection.dialect.name == "postgresql":
                        connection.execute(db.text("SET LOCAL lock_timeout = '2s'"))
                    connection.execute(update(PluginState).where(PluginState.slug == slug).values(**values))
                return
            except SQLAlchemyError as error:  # a lock this very session holds: after its end
                log.info("suspension of plugin %s is stored after the current transaction: %s",
                         slug, error)
        _after_transaction(session, lambda: self._write_now(slug, values))

    @staticmethod
    def _write_now(slug: str, values: dict) -> None:
        try:
            with db.engine.begin() as connection:
                connection.execute(update(PluginState).where(PluginState.slug == slug).values(**values))
        except SQLAlchemyError as error:
            log.error("could not store the suspension of plugin %s (Redis still has it): %s", slug, error)


def _would_wait(session) -> bool:
    """True when this session holds SQLite's write lock, so a second connection would wait."""
    if db.engine.dialect.name != "sqlite" or not session.in_transaction():
        return False
    try:
        driver = session.connection().connection.driver_connection
    except InvalidRequestError:  # called while the session commits (an after-commit callback)
        return False
    return bool(getattr(driver, "in_transaction", False))


def _after_transaction(session, action) -> None:
    """Run ``action()`` once, when ``session``'s outermost transaction ends (commit or rollback)."""
    done = []

    def ended(_session, transaction):
        if transaction.parent is None and not transaction.nested and not done:
            done.append(True)
            action()
    event.listen(session, "after_transaction_end", ended)
