"""Start-up checks: the database and Redis must answer, else one clear line says how to fix it; a
worker started while one of them is away (refused, timed out, starting up) waits for it."""
import sys
import time

import redis
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from .extensions import db
from .transient import is_transient
from .utils import without_credentials as _safe_url

START_MAX_DELAY = 30.0  # seconds between a waiting worker's attempts (1, 2, 4 … 30)
# What no wait fixes, in the driver's words (psycopg gives no SQLSTATE for a refused connection):
# no such database or role, a wrong password, a client the server does not accept, an unknown
# host, an SQLite file that cannot be opened. A refused or cut connection, a timeout, a server
# starting up or shutting down, or one with too many clients are waited for.
_PERMANENT = ("does not exist", "authentication failed", "password", "pg_hba.conf", "resolve host",
              "translate host name", "unable to open")


class ServiceUnavailable(RuntimeError):
    """A required service does not answer; the message names it and how to fix it. ``transient``:
    it may answer later (refused, timed out, starting up), as opposed to a wrong password, a
    missing database or an unknown host, which no wait fixes."""

    def __init__(self, message: str, transient: bool = False):
        super().__init__(message)
        self.transient = transient


def check_services(app) -> list[str]:
    """Ping the database and Redis; return one line each, or raise ServiceUnavailable."""
    database_url = app.config["SQLALCHEMY_DATABASE_URI"]
    try:
        with app.app_context(), db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as error:
        reason = str(error.orig if hasattr(error, "orig") else error).strip().splitlines()[0]
        raise ServiceUnavailable(f"Database at {_safe_url(database_url)} does not answer ({reason}): "
                                 "start it or set DATABASE_URL.", _database_may_return(error)) from None
    redis_url = app.config["REDIS_URL"]
    try:
        redis.Redis.from_url(redis_url, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        transient = is_transient(error) and not isinstance(error, redis.AuthenticationError)
        raise ServiceUnavailable(f"Redis at {_safe_url(redis_url)} does not answer ({error}): "
                                 "start redis-server or set REDIS_URL.", transient) from None
    return [f"database ok: {_safe_url(database_url)}", f"redis ok: {_safe_url(redis_url)}"]


def _database_may_return(error: SQLAlchemyError) -> bool:
    """True when the database may answer later (``core.transient``: a connection refused, cut or
    timed out, a server starting up) and the driver's message names nothing in ``_PERMANENT``."""
    reason = str(getattr(error, "orig", error)).lower()
    return is_transient(error) and not any(words in reason for words in _PERMANENT)


def start_checked(make_app, wait: bool = False):
    """``make_app()``'s app once ``check_services`` passes. With ``wait`` (a worker: restarted
    during an outage, it comes up when the database returns), a service away for a transient
    reason is waited for: one line on stderr per attempt, the app built again after 1, 2, 4 …
    ``START_MAX_DELAY`` seconds (what it read at start, e.g. the plugins' migrations, is read
    again from the live database); SIGTERM ends the wait. Raises ServiceUnavailable otherwise."""
    delay, attempt = 1.0, 1
    while True:
        app = make_app()
        if app.config.get("SKIP_SERVICE_CHECK"):
            return app
        try:
            check_services(app)
            if attempt > 1:
                print(f"Herald: the services answer after {attempt} attempts: starting", file=sys.stderr,
                      flush=True)
            return app
        except ServiceUnavailable as error:
            if not (wait and error.transient):
                raise
            print(f"Herald is waiting (attempt {attempt}, next in {delay:.0f} s): {error}", file=sys.stderr,
                  flush=True)
        with app.app_context():
            db.engine.dispose()
        time.sleep(delay)
        delay, attempt = min(delay * 2, START_MAX_DELAY), attempt + 1
