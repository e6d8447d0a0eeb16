"""Start-up checks: the database and Redis must answer, else one clear line says how to fix it."""
import redis
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from .extensions import db
from .utils import without_credentials as _safe_url


class ServiceUnavailable(RuntimeError):
    """A required service does not answer; the message names it and how to fix it."""


def check_services(app) -> list[str]:
    """Ping the database and Redis; return one line each, or raise ServiceUnavailable."""
    database_url = app.config["SQLALCHEMY_DATABASE_URI"]
    try:
        with app.app_context(), db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as error:
        reason = str(error.orig if hasattr(error, "orig") else error).strip().splitlines()[0]
        raise ServiceUnavailable(f"Database at {_safe_url(database_url)} does not answer ({reason}): "
                                 "start it or set DATABASE_URL.") from None
    redis_url = app.config["REDIS_URL"]
    try:
        redis.Redis.from_url(redis_url, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        raise ServiceUnavailable(f"Redis at {_safe_url(redis_url)} does not answer ({error}): "
                                 "start redis-server or set REDIS_URL.") from None
    return [f"database ok: {_safe_url(database_url)}", f"redis ok: {_safe_url(redis_url)}"]
