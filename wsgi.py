"""WSGI entry point (gunicorn 'wsgi:app', `flask --app wsgi`); stops with one line if a service is down."""
import sys

from app import ConfigError, create_app
from app.core.health import ServiceUnavailable, check_services

try:
    app = create_app()
    if not app.config.get("SKIP_SERVICE_CHECK"):
        check_services(app)
except (ConfigError, ServiceUnavailable) as error:
    print(f"Herald cannot start: {error}", file=sys.stderr)
    sys.exit(1)
