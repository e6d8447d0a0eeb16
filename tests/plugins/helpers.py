"""Helpers of the plugin-host tests: an admin client on any app, CSRF posts, CLI calls, jobs."""
from pathlib import Path

from app.core.extensions import db
from app.testing import csrf_token, login, make_user, run_jobs

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "plugins"
BUNDLED = Path(__file__).resolve().parents[2] / "plugins"


def admin_client(app):
    """A test client of ``app`` logged in as the super admin root@example.com (made once)."""
    from app.auth.models import User

    with app.app_context():
        existing = db.session.scalar(db.select(User.id).where(User.email == "root@example.com"))
        admin_id = existing or make_user("root@example.com", super_admin=True, name="Root").id
    return login(app.test_client(), admin_id)


def post(client, url, **data):
    """POST ``data`` with a valid CSRF token (read from the Plugins page)."""
    return client.post(url, data={"csrf_token": csrf_token(client, "/network/plugins/"), **data})


def cli(app, *args):
    """Invoke ``flask *args`` on ``app`` (inside its app context, which the CLI then uses)."""
    with app.app_context():
        return app.test_cli_runner().invoke(args=list(args))


def work(app):
    """Run every queued job in this process with ``app``, as `flask rq worker --burst` would; a
    job that raises fails the test."""
    with app.app_context():
        run_jobs()


def network(app, *slugs):
    """Core e-mails active with its e-mails installed, the given plugins active, one admin; returns
    the admin's client."""
    from app.plugins.network_setup import setup_network

    client = admin_client(app)
    with app.app_context():
        setup_network()
        db.session.commit()
    for slug in slugs:
        result = cli(app, "plugins", "activate", slug)
        assert result.exit_code == 0, result.output
    return client
