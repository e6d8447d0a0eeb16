"""Herald's pytest plugin (entry point `herald`): the app, database, Redis and isolation fixtures."""
# The web (clients, logins, browser), SMTP sink, worker and plugin fixtures come from the modules
# in pytest_plugins; helpers and factories are imported from app.testing.
import pytest

from .settings import RunSettings

pytest_plugins = ["app.testing.smtp", "app.testing.worker", "app.testing.web", "app.testing.plugins"]

MARKERS = (
    "committed: the test commits for real, so workers, threads, live servers and other processes see "
    "its data; every table is emptied after it (other tests are rolled back)",
    "herald_plugin(slug, path=None): activate plugin `slug` for the test; `path` (a package folder, "
    "relative to the rootdir) makes that folder a plugin of the run",
)


def pytest_configure(config):
    """Declare the plugin's markers (the suite runs with --strict-markers)."""
    for line in MARKERS:
        config.addinivalue_line("markers", line)


def needs_commits(request, settings: RunSettings) -> bool:
    """True when the test must commit for real rather than be rolled back."""
    return (settings.isolation == "truncate" or "committed" in request.fixturenames
            or request.node.get_closest_marker("committed") is not None
            or request.node.get_closest_marker("herald_plugin") is not None)


@pytest.fixture(scope="session")
def herald_settings():
    """Session: the run's settings (TEST_DATABASE_URL, TEST_REDIS_URL, HERALD_TEST_ISOLATION)."""
    try:
        return RunSettings.from_environment()
    except ValueError as error:
        pytest.exit(str(error), returncode=4)


@pytest.fixture(scope="session")
def redis_database(herald_settings):
    """Session: the run's own Redis database (TEST_REDIS_URL), claimed for the run and emptied."""
    from .redisdb import RedisDatabase, RedisInUse

    try:
        database = RedisDatabase(herald_settings.redis_url).claim()
    except RedisInUse as error:
        pytest.exit(str(error), returncode=4)
    database.empty()
    yield database
    database.empty()
    database.release()


@pytest.fixture(scope="session")
def database_url(herald_settings, redis_database, smtp_server, tmp_path_factory):
    """Session: the URL of the run's database, migrated once with ``flask db upgrade`` (all heads)."""
    from app.core.extensions import db

    from .apps import AppCache, dispose
    from .database import empty_tables, join_test_transaction, migrate

    url = herald_settings.database_for(tmp_path_factory.mktemp("db"))
    application = AppCache(url, redis_database.url, smtp_server.url, tmp_path_factory).build(
        tmp_path_factory.mktemp("instance"))
    migrate(application, db, fresh=True)
    with application.app_context():
        empty_tables(db)  # rows a migration may have seeded: every test starts from empty tables
    dispose(application)
    join_test_transaction(db)
    return url


@pytest.fixture(scope="session")
def herald_apps(database_url, redis_database, smtp_server, tmp_path_factory):
    """Session: the cache of test apps, one per distinct ``app_config`` (see AppCache)."""
    from .apps import AppCache

    cache = AppCache(database_url, redis_database.url, smtp_server.url, tmp_path_factory)
    yield cache
    cache.close()


@pytest.fixture
def app_config():
    """Function: extra config for ``app`` ({}); override it in a conftest or module.

    Tests with equal extra config share one app for the run.
    """
    return {}


@pytest.fixture
def committed():
    """Function: request it (or mark the test ``committed``) to commit for real.

    Workers, threads, live servers and other processes then see the test's data; every table is
    emptied after the test. Without it a test runs in one transaction that is rolled back.
    """


@pytest.fixture
def redis_client(redis_database):
    """Function: a client of the run's Redis database, emptied before the test."""
    redis_database.empty()
    return redis_database.client


@pytest.fixture
def app(request, herald_apps, app_config, redis_client, herald_settings):
    """Function: the Herald app for ``app_config``, its app context pushed for the test.

    The app is built once per run (per distinct ``app_config``); the test's changes to its config
    and registries (hooks, settings) are undone after it. Redis is emptied before the test; the
    database is rolled back after it, or emptied for committed tests (see ``committed``).
    """
    from app.core.extensions import db

    from .apps import AppState
    from .database import committed, rolled_back

    application = herald_apps.get(app_config)
    isolation = committed if needs_commits(request, herald_settings) else rolled_back
    with application.app_context(), AppState(application), isolation(db):
        yield application


@pytest.fixture
def db(app):
    """Function: the SQLAlchemy extension (``db.session``), inside the test's app and isolation."""
    from app.core.extensions import db as extension

    return extension


@pytest.fixture
def client(app):
    """Function: a Flask test client of the app (anonymous until ``login``)."""
    return app.test_client()


@pytest.fixture
def runner(app):
    """Function: a CLI runner for the app's ``flask`` commands, in the test's app context."""
    return app.test_cli_runner()


@pytest.fixture
def make_app(app, committed, herald_apps, tmp_path):
    """Function: ``make_app(**config)`` builds extra apps on the run's database (e.g. another
    PLUGINS_DIR); their connections are closed after the test. Needs committed data."""
    from .apps import dispose

    built = []

    def factory(**extra):
        instance = tmp_path / f"instance-{len(built)}"
        instance.mkdir()
        application = herald_apps.build(instance, **extra)
        built.append(application)
        return application

    yield factory
    for application in built:
        dispose(application)
