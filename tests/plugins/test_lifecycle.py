"""Install, upgrade and uninstall: failed migrations, upgrade(), Uninstall, deleted folders."""
import shutil
import sys

import pytest
from flask_migrate import upgrade as alembic_upgrade
from sqlalchemy import inspect, select, text

from app import create_app
from app.core.extensions import db
from app.core.settings.models import Option
from app.plugins.models import PluginState
from app.system_emails.models import SystemEmail
from app.system_emails.services import import_defaults
from app.testing import audit_entries
from tests.plugins.helpers import FIXTURES, admin_client, cli, post


def _config(database, plugins, instance, redis_url):
    return {"TESTING": True, "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}",
            "REDIS_URL": redis_url, "HERALD_PREFIX": "herald-test", "INSTANCE_PATH": str(instance),
            "PLUGINS_DIR": str(plugins)}


@pytest.fixture(scope="session")
def core_database(tmp_path_factory, redis_database):
    """A SQLite file with the core's migrations only, copied by each test (fast, and on its own:
    these tests run plugin migrations, which must not touch the shared test database)."""
    folder = tmp_path_factory.mktemp("core_db")
    (folder / "plugins").mkdir()
    app = create_app(_config(folder / "core.db", folder / "plugins", folder, redis_database.url))
    with app.app_context():
        alembic_upgrade(revision="heads")
        db.engine.dispose()
    return folder / "core.db"


@pytest.fixture
def network(tmp_path, core_database, redis_client, redis_database):
    """A network on its own database with a plugins folder holding copies of the given fixture
    plugins; ``network.app()`` builds an app as a restarted process would."""
    class Network:
        plugins = tmp_path / "plugins"
        database = tmp_path / "network.db"
        apps: list = []  # noqa: RUF012 - one network per test

        def add(self, *slugs):
            for slug in slugs:
                shutil.copytree(FIXTURES / "lifecycle" / slug, self.plugins / slug)

        def app(self):
            for name in [m for m in sys.modules if m.startswith("herald_plugin_")]:
                del sys.modules[name]  # a new process imports the plugins' code afresh
            application = create_app(_config(self.database, self.plugins, tmp_path, redis_database.url))
            self.apps.append(application)
            return application

    network = Network()
    network.plugins.mkdir()
    shutil.copy(core_database, network.database)
    yield network
    for application in network.apps:
        with application.app_context():
            db.engine.dispose()


def _tables(app):
    with app.app_context():
        return set(inspect(db.engine).get_table_names())


def _versions(app):
    with app.app_context():
        return set(db.session.scalars(text("SELECT version_num FROM alembic_version")))


def test_a_failed_migration_leaves_nothing_and_the_plugin_cannot_be_activated(network):
    network.add("notes_ok", "broken_migration")
    app = network.app()
    with app.app_context():  # the admin had switched it on before this version
        db.session.add(PluginState(slug="broken_migration", active=True))
        db.session.commit()
    result = cli(app, "db", "upgrade")
    assert result.exit_code == 1
    assert "plugin broken_migration: its migration failed" in result.output
    assert "no such table: no_such_table" in result.output
    assert "notes_ok_items" in _tables(app)  # the other plugin and the core migrated
    assert "broken_migration_items" not in _tables(app)  # no half-created table on SQLite
    assert "broken_migration_0001" not in _versions(app)
    with app.app_context():
        assert not app.extensions["herald_plugins"].is_active("broken_migration")  # switched off
    activation = cli(app, "plugins", "activate", "broken_migration")
    assert activation.exit_code == 1
    assert "cannot be activated: its migration failed (OperationalError" in activation.output
    assert "plugin broken_migration: Broken migration cannot be activated: its migration failed" \
        in cli(app, "check").output
    page = admin_client(app).get("/network/plugins/").get_data(as_text=True)
    assert "Broken migration cannot be activated: its migration failed" in page
    assert "<strong>migration</strong>: 1 time(s)" in page  # with its traceback


def test_upgrade_runs_once_when_the_version_changes(network):
    network.add("notes_ok")
    app = network.app()
    assert cli(app, "db", "upgrade").exit_code == 0
    assert cli(app, "plugins", "activate", "notes_ok").exit_code == 0
    init = network.plugins / "notes_ok" / "__init__.py"
    init.write_text(init.read_text().replace('"version": "1.0"', '"version": "1.1"'))
    app = network.app()  # the new code is deployed and the processes restarted
    assert "upgrade from 1.0 to 1.1 is pending" in cli(app, "check").output
    result = cli(app, "db", "upgrade")
    assert result.exit_code == 0 and "plugin notes_ok: upgraded from 1.0 to 1.1." in result.output
    module = app.extensions["herald_plugins"].plugins["notes_ok"].module
    assert module.CALLS == [("upgrade", "1.0")]
    assert cli(app, "db", "upgrade").exit_code == 0
    assert module.CALLS == [("upgrade", "1.0")]  # once
    with app.app_context():
        assert db.session.get(PluginState, "notes_ok").version == "1.1"
        assert db.session.execute(text("SELECT text FROM notes_ok_items")).scalars().all() == ["from 1.0"]


def test_an_upgrade_that_raises_is_rolled_back_and_runs_again(network):
    network.add("notes_ok")
    app = network.app()
    cli(app, "db", "upgrade")
    cli(app, "plugins", "activate", "notes_ok")
    init = network.plugins / "notes_ok" / "__init__.py"
    init.write_text(init.read_text().replace('"version": "1.0"', '"version": "2.0"')
                    .replace('    CALLS.append(("upgrade", from_version))',
                             '    CALLS.append(("upgrade", from_version))\n'
                             '    raise RuntimeError("bad upgrade")'))
    app = network.app()
    result = cli(app, "db", "upgrade")
    assert result.exit_code == 1
    assert "its upgrade() from 1.0 raised RuntimeError: bad upgrade" in result.output
    with app.app_context():
        assert db.session.get(PluginState, "notes_ok").version == "1.0"  # so it runs again
        assert db.session.execute(text("SELECT COUNT(*) FROM notes_ok_items")).scalar() == 0


def test_uninstall_removes_the_settings_emails_state_and_tables(network):
    network.add("notes_ok")
    app = network.app()
    cli(app, "db", "upgrade")
    with app.app_context():
        (upgraded,) = audit_entries(action="database.upgraded")
        assert (upgraded.actor_kind, upgraded.summary) == ("cli", "applied notes_ok_0001")
    client = admin_client(app)
    post(client, "/network/plugins/notes_ok/activate")
    with app.app_context():
        import_defaults(["notes_ok_added"])
        app.extensions["herald_plugins"].contexts["notes_ok"].set_setting("greeting", "Hi")
        db.session.execute(text("INSERT INTO notes_ok_items (text) VALUES ('kept until uninstall')"))
        db.session.commit()
    assert "active: deactivate it before" in client.get("/network/plugins/notes_ok/uninstall",
                                                        follow_redirects=True).get_data(as_text=True)
    post(client, "/network/plugins/notes_ok/deactivate")
    plan = client.get("/network/plugins/notes_ok/uninstall").get_data(as_text=True)
    assert "Note added" in plan and "plugin.notes_ok.greeting" in plan and "notes_ok_0001" in plan
    assert post(client, "/network/plugins/notes_ok/uninstall").status_code == 400  # not confirmed
    response = post(client, "/network/plugins/notes_ok/uninstall", confirm="yes")
    assert response.status_code == 302
    assert app.extensions["herald_plugins"].plugins["notes_ok"].module.CALLS == [("uninstall", 1)]
    assert "notes_ok_items" not in _tables(app) and "notes_ok_0001" not in _versions(app)
    with app.app_context():
        assert db.session.scalars(select(SystemEmail)).all() == []
        assert db.session.scalars(select(Option.key).where(Option.key.like("plugin.notes_ok.%"))).all() == []
        assert db.session.get(PluginState, "notes_ok") is None
        (entry,) = audit_entries(action="plugin.uninstalled")
        assert (entry.actor, entry.object_id) == ("root@example.com", "notes_ok")
        assert entry.summary == ("removed 1 system e-mail(s), 1 setting(s); migrations to "
                                 "downgrade: notes_ok_0001")
    shutil.rmtree(network.plugins / "notes_ok")  # the folder can go: the network still migrates
    assert cli(network.app(), "db", "upgrade").exit_code == 0


def test_uninstall_from_the_cli_asks_first(network):
    network.add("notes_ok")
    app = network.app()
    cli(app, "db", "upgrade")
    with app.app_context():
        result = app.test_cli_runner().invoke(args=["plugins", "uninstall", "notes_ok"], input="n\n")
    assert result.exit_code == 1 and "notes_ok_0001" in result.output and "Aborted" in result.output
    assert "notes_ok_items" in _tables(app)
    result = cli(app, "plugins", "uninstall", "notes_ok", "--yes")
    assert result.exit_code == 0 and "notes_ok_items" not in _tables(app)
    with app.app_context():
        assert [e.actor_kind for e in audit_entries(action="plugin.uninstalled")] == ["cli"]


def test_a_deleted_folder_is_reported_and_no_longer_breaks_the_upgrade(network):
    network.add("notes_ok")
    cli(network.app(), "db", "upgrade")
    shutil.rmtree(network.plugins / "notes_ok")  # deleted without uninstalling
    network.add("broken_migration")
    shutil.rmtree(network.plugins / "broken_migration")
    app = network.app()
    result = cli(app, "db", "upgrade")
    assert result.exit_code == 0, result.output
    assert ("The database holds migration 'notes_ok_0001', which no core or plugin folder ships"
            in result.output)
    assert "`flask plugins forget-migration notes_ok_0001`" in result.output
    assert "notes_ok_0001" in _versions(app) and "notes_ok_items" in _tables(app)  # left alone
    check = cli(app, "check")
    assert "notes_ok_0001" in check.output and check.exit_code == 1  # a problem: status 1
    page = admin_client(app).get("/network/plugins/").get_data(as_text=True)
    assert "The database holds migration &#39;notes_ok_0001&#39;, which no core or plugin" in page
    assert cli(app, "plugins", "forget-migration", "notes_ok_0001").exit_code == 0
    assert "notes_ok_0001" not in _versions(app)
    with app.app_context():
        (entry,) = audit_entries(action="plugin.migration_forgotten")
        assert (entry.actor_kind, entry.object_id) == ("cli", "notes_ok_0001")
    assert cli(app, "plugins", "forget-migration", "0001_core").exit_code == 1  # not an orphan
    assert "which no core" not in cli(app, "db", "upgrade").output


def test_a_plugin_off_during_an_upgrade_runs_it_when_activated_again(network, tmp_path):
    network.add("notes_ok")
    app = network.app()
    cli(app, "db", "upgrade")
    cli(app, "plugins", "activate", "notes_ok")
    cli(app, "plugins", "deactivate", "notes_ok")
    init = network.plugins / "notes_ok" / "__init__.py"
    init.write_text(init.read_text().replace('"version": "1.0"', '"version": "1.2"'))
    app = network.app()
    assert "upgraded" not in cli(app, "db", "upgrade").output  # inactive: it waits
    advice = "its upgrade from 1.0 to 1.2 is pending: it runs when the plugin is activated."
    check = cli(app, "check")
    assert f"plugin notes_ok: {advice}" in check.output and check.exit_code == 1
    assert advice in cli(app, "plugins", "list").output
    page = admin_client(app).get("/network/plugins/").get_data(as_text=True)
    assert "Upgrade from 1.0 pending: it runs when the plugin is activated." in page
    module = app.extensions["herald_plugins"].plugins["notes_ok"].module
    assert module.CALLS == []
    assert cli(app, "plugins", "activate", "notes_ok").exit_code == 0
    assert module.CALLS == [("upgrade", "1.0")]


def test_check_on_an_empty_database_says_to_migrate(tmp_path, redis_client, redis_database):
    (tmp_path / "plugins").mkdir()
    app = create_app(_config(tmp_path / "empty.db", tmp_path / "plugins", tmp_path, redis_database.url))
    result = cli(app, "check")
    assert result.exit_code == 1  # something to do
    assert "plugins: not checked, the database is not migrated: run `flask db upgrade`." in result.output
    with app.app_context():
        db.engine.dispose()


def test_an_active_plugin_whose_new_migration_has_not_run_is_switched_off_at_start(network, redis_client):
    network.add("notes_ok")
    app = network.app()
    assert cli(app, "db", "upgrade").exit_code == 0
    assert cli(app, "plugins", "activate", "notes_ok").exit_code == 0
    versions = network.plugins / "notes_ok" / "migrations" / "versions"
    (versions / "notes_ok_0002.py").write_text(
        (versions / "notes_ok_0001.py").read_text()
        .replace('revision = "notes_ok_0001"', 'revision = "notes_ok_0002"')
        .replace('down_revision = None', 'down_revision = "notes_ok_0001"')
        .replace('branch_labels = ("notes_ok",)', 'branch_labels = None')
        .replace("notes_ok_items", "notes_ok_tags"))
    redis_client.flushdb()
    app = network.app()  # new code deployed and restarted, `flask db upgrade` not run yet
    with app.app_context():
        assert not app.extensions["herald_plugins"].is_active("notes_ok")
        assert db.session.get(PluginState, "notes_ok").suspended_kind == "migration"
    assert cli(app, "db", "upgrade").exit_code == 0
    with app.app_context():
        assert app.extensions["herald_plugins"].is_active("notes_ok")
        assert db.session.get(PluginState, "notes_ok").suspended_kind is None
