"""Flask extensions, created unbound here and bound to an app in create_app()."""
import redis
from flask import current_app
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData, event

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

db = SQLAlchemy(metadata=MetaData(naming_convention=NAMING_CONVENTION))
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()


def _write_ahead_journal(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def init_database(engine) -> None:
    """SQLite only: every connection uses the write-ahead journal (https://sqlite.org/wal.html),
    so readers (pages, the supervisor) never block the writer (a worker) nor it them; writers
    wait for each other up to ``SQLITE_BUSY_SECONDS`` (the driver's busy timeout)."""
    if engine.dialect.name == "sqlite" and not event.contains(engine, "connect", _write_ahead_journal):
        event.listen(engine, "connect", _write_ahead_journal)


class RedisClient:
    """Holds one Redis connection pool per app in ``app.extensions['herald_redis']``."""

    def init_app(self, app):
        """Create the app's Redis client from REDIS_URL (connections are made lazily)."""
        app.extensions["herald_redis"] = redis.Redis.from_url(
            app.config["REDIS_URL"], socket_connect_timeout=3, health_check_interval=30,
            socket_timeout=app.config.get("REDIS_SOCKET_TIMEOUT", 5))

    @property
    def client(self) -> redis.Redis:
        """The current app's Redis client."""
        return current_app.extensions["herald_redis"]

    def key(self, *parts) -> str:
        """A Redis key under this network's HERALD_PREFIX, so networks can share one Redis."""
        return ":".join([current_app.config["HERALD_PREFIX"], *map(str, parts)])


redis_store = RedisClient()
