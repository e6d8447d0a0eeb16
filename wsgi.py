"""WSGI entry point (gunicorn 'wsgi:app', `flask --app wsgi`); stops with one line if a service is
down, except ``flask rq worker``, which waits for a database or Redis that is only away for now."""
import sys

from app import ConfigError, create_app
from app.core.health import ServiceUnavailable, start_checked


def _worker_command(argv) -> bool:
    """True when this process runs ``flask rq worker``."""
    return any(argv[i:i + 2] == ["rq", "worker"] for i in range(1, len(argv) - 1))


try:
    app = start_checked(create_app, wait=_worker_command(sys.argv))
except (ConfigError, ServiceUnavailable) as error:
    print(f"Herald cannot start: {error}", file=sys.stderr)
    sys.exit(1)
