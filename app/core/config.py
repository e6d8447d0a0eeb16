"""Configuration read from environment variables (and a .env file when present)."""
import os
import secrets
from pathlib import Path

from dotenv import load_dotenv

from .settings.types import check_url

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_INSTANCE = PROJECT_ROOT / "instance"


class ConfigError(RuntimeError):
    """Raised when the configuration cannot start the app; its message says how to fix it."""


def _bool(value, default=False):
    if value is None:
        return default
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


def _secret_key(instance_path: Path, production: bool) -> str:
    """Return SECRET_KEY from the environment, or a key generated once and kept in instance/."""
    key = os.environ.get("SECRET_KEY")
    if key:
        return key
    if production:
        raise ConfigError("SECRET_KEY is not set: production refuses to start without one "
                          "(set SECRET_KEY to a long random string).")
    key_file = instance_path / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    key_file.write_text(key)
    key_file.chmod(0o600)
    return key


DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def redis_url() -> str:
    """REDIS_URL as Herald reads it: the environment, else the project's ``.env``, else the
    default (``make``'s ``redis`` target asks this, so that it checks the Redis the app will use)."""
    load_dotenv(PROJECT_ROOT / ".env", override=False)
    return os.environ.get("REDIS_URL", DEFAULT_REDIS_URL)


def load_config(overrides=None) -> dict:
    """Build the configuration mapping from the environment, then apply ``overrides``."""
    load_dotenv(PROJECT_ROOT / ".env", override=False)
    overrides = dict(overrides or {})
    instance_path = Path(overrides.get("INSTANCE_PATH") or os.environ.get("HERALD_INSTANCE")
                         or DEFAULT_INSTANCE)
    production = _bool(overrides.get("PRODUCTION", os.environ.get("HERALD_PRODUCTION")))
    database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{instance_path / 'herald.db'}"
    if database_url.startswith("postgres://"):
        database_url = "postgresql://" + database_url[len("postgres://"):]
    if database_url.startswith("postgresql://"):
        database_url = "postgresql+psycopg://" + database_url[len("postgresql://"):]
    config = {
        "PRODUCTION": production,
        "INSTANCE_PATH": str(instance_path),
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_TRACK_MODIFICATIONS": False,
        "REDIS_URL": os.environ.get("REDIS_URL", DEFAULT_REDIS_URL),
        # Seconds a Redis command may wait for its answer (a stopped Redis must not hold a request);
        # an RQ worker raises it for its own blocking reads.
        "REDIS_SOCKET_TIMEOUT": float(os.environ.get("REDIS_SOCKET_TIMEOUT", "5")),
        "HERALD_PREFIX": os.environ.get("HERALD_PREFIX", "herald"),
        "BASE_URL": os.environ.get("BASE_URL", "http://127.0.0.1:5000").rstrip("/"),
        "SMTP_URL": os.environ.get("SMTP_URL", "smtp://127.0.0.1:1025"),
        "MAIL_FROM": os.environ.get("MAIL_FROM", "Herald <noreply@herald.localhost>"),
        "RETURN_PATH_DOMAIN": os.environ.get("RETURN_PATH_DOMAIN", ""),  # VERP (docs/bounces.md); empty: off
        "RETURN_PATH_PREFIX": os.environ.get("RETURN_PATH_PREFIX", "bounces"),
        "MAILCATCHER_DIR": os.environ.get("MAILCATCHER_DIR", str(instance_path / "caught-mail")),
        "PLUGINS_DIR": os.environ.get("HERALD_PLUGINS_DIR", str(PROJECT_ROOT / "plugins")),
        "LOGIN_MAX_FAILURES": int(os.environ.get("LOGIN_MAX_FAILURES", "5")),
        "LOGIN_DELAY_SECONDS": int(os.environ.get("LOGIN_DELAY_SECONDS", "5")),
        "LOGIN_MAX_DELAY_SECONDS": int(os.environ.get("LOGIN_MAX_DELAY_SECONDS", "900")),
        "LOGIN_ACCOUNT_MAX_FAILURES": int(os.environ.get("LOGIN_ACCOUNT_MAX_FAILURES", "50")),
        "TRUSTED_PROXIES": int(os.environ.get("HERALD_TRUSTED_PROXIES", "0")),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": production,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": production,
        "WTF_CSRF_TIME_LIMIT": None,
        "TESTING": False,
        # Self-healing (docs/delivery.md): how long a job retries a transient database or Redis
        # failure, the longest wait between tries, a running job's lease, the supervisor's period.
        "TRANSIENT_RETRY_SECONDS": float(os.environ.get("TRANSIENT_RETRY_SECONDS", "600")),
        "TRANSIENT_RETRY_MAX_DELAY": float(os.environ.get("TRANSIENT_RETRY_MAX_DELAY", "10")),
        "JOB_LEASE_SECONDS": float(os.environ.get("JOB_LEASE_SECONDS", "60")),
        "SUPERVISOR_SECONDS": float(os.environ.get("SUPERVISOR_SECONDS", "5")),
        "SQLITE_BUSY_SECONDS": float(os.environ.get("SQLITE_BUSY_SECONDS", "30")),
    }
    config.update(overrides)
    try:  # it starts every link in every e-mail: the URL rules of url settings
        check_url(config["BASE_URL"], "BASE_URL")
    except ValueError as error:
        raise ConfigError(f"{error} (got {config['BASE_URL'][:100]!r})") from None
    if "SECRET_KEY" not in config:
        config["SECRET_KEY"] = _secret_key(Path(config["INSTANCE_PATH"]), production)
    # pool_pre_ping: a pooled connection is tried (one round trip) each time it is taken from
    # the pool, and replaced when a database restart or a network cut broke it, rather than
    # failing the request or job it was given to (each one failed once, minutes after an outage).
    if config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):  # WAL mode: app/core/extensions.py
        config.setdefault("SQLALCHEMY_ENGINE_OPTIONS",
                          {"connect_args": {"timeout": config["SQLITE_BUSY_SECONDS"]}, "pool_pre_ping": True})
    elif config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        # No JIT: Herald's big statements (planning, counts) are index- and sort-bound, and JIT
        # compilation costs more than it saves (bench/README.md, "Choices measured").
        config.setdefault("SQLALCHEMY_ENGINE_OPTIONS",
                          {"connect_args": {"options": "-c jit=off"}, "pool_pre_ping": True})
    return config
