"""Test fixtures: app, db, client, CLI runner, logged-in admin and customer, and plugin hosts.

Real services only: SQLite (or PostgreSQL when TEST_DATABASE_URL is set), Redis at TEST_REDIS_URL
(a dedicated database number, emptied before every test).
"""
import os
import re
import uuid

import pytest
import redis as redis_lib
from sqlalchemy import text

from app import create_app
from app.core.extensions import db as _db

TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")


def _database_url(tmp_path_factory):
    if TEST_DATABASE_URL:
        url = TEST_DATABASE_URL
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url[len("postgresql://"):]
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    """A database migrated once per test session with `flask db upgrade` (the real migrations)."""
    url = _database_url(tmp_path_factory)
    app = create_app(_config(url, tmp_path_factory.mktemp("instance")))
    with app.app_context():
        if _db.engine.dialect.name == "postgresql":
            with _db.engine.begin() as connection:
                connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        from flask_migrate import upgrade
        upgrade(revision="heads")
        _db.engine.dispose()
    return url


def _config(url, instance, **extra):
    config = {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": url,
        "REDIS_URL": TEST_REDIS_URL,
        "HERALD_PREFIX": "herald-test",
        "INSTANCE_PATH": str(instance),
        "MAILCATCHER_DIR": str(instance / "caught-mail"),
        "BASE_URL": "http://herald.test",
        "SERVER_NAME": None,
    }
    config.update(extra)
    return config


def _empty_tables():
    tables = [t for t in reversed(_db.metadata.sorted_tables)]
    with _db.engine.begin() as connection:
        if _db.engine.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in tables)
            connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                connection.execute(table.delete())


@pytest.fixture
def redis_client():
    """The test Redis database, emptied before the test."""
    client = redis_lib.Redis.from_url(TEST_REDIS_URL)
    client.flushdb()
    yield client
    client.close()


@pytest.fixture
def app_config(tmp_path):
    """Extra config for the ``app`` fixture; override in a module to change settings."""
    return {}


@pytest.fixture
def app(database_url, tmp_path, redis_client, app_config):
    """A fresh app on the migrated test database with empty tables and an empty Redis."""
    application = create_app(_config(database_url, tmp_path, **app_config))
    with application.app_context():
        _empty_tables()
        yield application
        _db.session.remove()
        _db.engine.dispose()


@pytest.fixture
def db(app):
    """The SQLAlchemy extension, inside the app context."""
    return _db


@pytest.fixture
def client(app):
    """A test client."""
    return app.test_client()


@pytest.fixture
def runner(app):
    """A CLI runner for ``flask`` commands."""
    return app.test_cli_runner()


def make_user(email, password="password123", super_admin=False, name="Test User"):
    """Create and commit a user."""
    from app.auth.services import create_user

    user = create_user(email, password, name, super_admin=super_admin)
    _db.session.commit()
    return user


@pytest.fixture
def admin(app):
    """A super admin user."""
    return make_user("admin@example.com", super_admin=True, name="Ada Admin")


def login(client, user):
    """Log ``user`` (a User or its id) in on ``client`` through the session (no form round trip)."""
    from app.auth.models import User

    if isinstance(user, int):
        with client.application.app_context():
            ident = _db.session.get(User, user).get_id()
    else:
        ident = user.get_id()  # "<id>:<session token>", what Flask-Login keeps in the session
    with client.session_transaction() as session:
        session["_user_id"] = ident
        session["_fresh"] = True
    return client


@pytest.fixture
def admin_client(client, admin):
    """A client logged in as the super admin."""
    return login(client, admin)


@pytest.fixture
def customer(app):
    """A customer with a login, a site and an active membership of product 'starter'."""
    from app.network.models import Membership, Product, Site
    from app.network.services import register_customer

    user = make_user("carol@example.com", name="Carol Customer")
    product = Product(slug="starter", name="Starter", kind="plan")
    _db.session.add(product)
    person = register_customer("carol@example.com", "Carol Customer", user=user)
    _db.session.add(Site(customer=person, title="Carol's blog", path="carol"))
    _db.session.add(Membership(customer=person, product=product, status="active"))
    _db.session.commit()
    return person


@pytest.fixture
def customer_client(client, customer):
    """A client logged in as the customer."""
    return login(client, customer.user)


CSRF_RE = re.compile(r'name="csrf-token" content="([^"]+)"')


def csrf_token(client, url="/login"):
    """A valid CSRF token for ``client``'s session, read from a rendered page."""
    page = client.get(url).get_data(as_text=True)
    match = CSRF_RE.search(page)
    assert match, f"no CSRF token on {url}"
    return match.group(1)


MAIL_FRAME_RE = re.compile(r'<iframe[^>]*\bsandbox=""[^>]*\bsrc="(/network/mail-frame/[0-9a-f]+)"')


def mail_frames(client, page: str) -> str:
    """The documents of the sandboxed e-mail preview frames on ``page`` (fetched with ``client``)."""
    urls = MAIL_FRAME_RE.findall(page)
    assert urls, "no sandboxed mail preview frame on the page"
    return "".join(client.get(url).get_data(as_text=True) for url in urls)


@pytest.fixture
def plugin_dir(tmp_path):
    """An empty plugins folder; write packages into it and pass it as PLUGINS_DIR."""
    path = tmp_path / f"plugins_{uuid.uuid4().hex[:8]}"
    path.mkdir()
    return path


def write_plugin(plugin_dir, slug, code):
    """Write ``plugins_dir/<slug>/__init__.py`` with ``code``."""
    package = plugin_dir / slug
    package.mkdir()
    (package / "__init__.py").write_text(code)
    return package


@pytest.fixture
def make_app(app, database_url, tmp_path):
    """Build extra apps (e.g. with a custom PLUGINS_DIR) on the test database."""
    apps = []

    def factory(**extra):
        application = create_app(_config(database_url, tmp_path, **extra))
        apps.append(application)
        return application

    yield factory
    for application in apps:
        with application.app_context():
            _db.session.remove()
            _db.engine.dispose()


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture
def live_server(app):
    """The app served by werkzeug on a free port in a thread; yields its base URL."""
    import threading

    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def browser():
    """A headless Chromium from Debian's package, driven by Playwright (never a downloaded one)."""
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium chromium-driver "
                    "(make test installs it when run as root)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()
