"""Where a test run's database and Redis are (TEST_DATABASE_URL, TEST_REDIS_URL) and the app config."""
import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"
PREFIX = "herald-test"  # HERALD_PREFIX of every test app: queue names and Redis keys
ISOLATION_MODES = ("savepoint", "truncate")
PASSWORD = "password123"  # the password of every user the factories make


def sqlalchemy_url(url: str) -> str:
    """``url`` with the psycopg 3 driver named, as Herald's own configuration does."""
    for scheme in ("postgres://", "postgresql://"):
        if url.startswith(scheme):
            return "postgresql+psycopg://" + url[len(scheme):]
    return url


@dataclass(frozen=True)
class RunSettings:
    """The services one test run uses, read from the environment.

    ``TEST_DATABASE_URL``: a PostgreSQL database the run empties and migrates (default: a new
    SQLite file per run). ``TEST_REDIS_URL``: a Redis database the run takes for itself and empties
    before every test (default ``redis://127.0.0.1:6379/15``). ``HERALD_TEST_ISOLATION=truncate``
    empties the tables after every test instead of rolling most tests back (for comparisons).
    """
    database_url: str | None
    redis_url: str
    isolation: str

    @classmethod
    def from_environment(cls, environ=None) -> "RunSettings":
        """Settings from ``environ`` (default ``os.environ``), checked."""
        environ = os.environ if environ is None else environ
        isolation = environ.get("HERALD_TEST_ISOLATION", "savepoint").strip().lower()
        if isolation not in ISOLATION_MODES:
            raise ValueError(f"HERALD_TEST_ISOLATION must be one of {', '.join(ISOLATION_MODES)}, "
                             f"not {isolation!r}")
        database_url = environ.get("TEST_DATABASE_URL") or None
        return cls(sqlalchemy_url(database_url) if database_url else None,
                   environ.get("TEST_REDIS_URL") or DEFAULT_REDIS_URL, isolation)

    def database_for(self, folder: Path) -> str:
        """The SQLAlchemy URL of this run's database (a SQLite file in ``folder`` by default)."""
        return self.database_url or f"sqlite:///{folder / 'test.db'}"

    @property
    def postgresql(self) -> bool:
        """True when the run uses PostgreSQL."""
        return bool(self.database_url and self.database_url.startswith("postgresql"))


def app_config(database_url: str, redis_url: str, instance: Path, smtp_url: str, **extra) -> dict:
    """The configuration of a test app: the run's services, the test SMTP sink, ``extra`` on top.

    BASE_URL is ``http://herald.test``, so links in e-mails are predictable; nothing is read from a
    ``.env`` value that this mapping sets.
    """
    config = {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "REDIS_URL": redis_url,
        "HERALD_PREFIX": PREFIX,
        "INSTANCE_PATH": str(instance),
        "MAILCATCHER_DIR": str(instance / "caught-mail"),
        "BASE_URL": "http://herald.test",
        "SERVER_NAME": None,
        "SMTP_URL": smtp_url,
    }
    config.update(extra)
    return config


def config_key(config: dict) -> str:
    """A stable key for a config mapping (values may be unhashable), to share apps between tests."""
    return repr(sorted((key, repr(value)) for key, value in config.items()))
