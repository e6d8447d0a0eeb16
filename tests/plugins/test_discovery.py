"""Two plugins with one slug are both refused; an installed package brings its own files."""
import logging
import sys

import pytest
from sqlalchemy import text

from app.core.extensions import db
from app.plugins.models import PluginState
from app.testing import write_plugin
from tests.plugins.helpers import admin_client, cli


def _install_package(site, module, slug, files=()):
    """A fake installed distribution declaring ``slug = module`` in the herald.plugins group."""
    package = site / module
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(f'PLUGIN_INFO = {{"name": "{module}", "version": "2"}}\n'
                                         "def setup(host):\n    pass\n")
    for path, content in files:
        (package / path).parent.mkdir(parents=True, exist_ok=True)
        (package / path).write_text(content)
    dist = site / f"{module}-2.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 2\n")
    (dist / "entry_points.txt").write_text(f"[herald.plugins]\n{slug} = {module}\n")


@pytest.fixture
def site(tmp_path, monkeypatch):
    path = tmp_path / "site"
    path.mkdir()
    monkeypatch.syspath_prepend(str(path))
    yield path
    for name in [m for m in sys.modules if m.startswith("herald_ep_")]:
        del sys.modules[name]


def test_a_folder_and_a_package_with_one_slug_are_both_refused(make_app, plugin_dir, site, caplog):
    write_plugin(plugin_dir, "twin", 'PLUGIN_INFO = {"name": "Folder twin"}\ndef setup(host):\n    pass\n')
    _install_package(site, "herald_ep_twin", "twin")
    with db.session.begin():
        db.session.add(PluginState(slug="twin", active=True))  # the folder plugin was active
    with caplog.at_level(logging.ERROR):
        app = make_app(PLUGINS_DIR=str(plugin_dir))
    assert "plugin twin cannot be loaded" in caplog.text and "Two plugins are named 'twin'" in caplog.text
    info = app.extensions["herald_plugins"].plugins["twin"]
    assert info.module is None and "herald_ep_twin" not in sys.modules  # neither was imported
    with app.app_context():
        assert not app.extensions["herald_plugins"].is_active("twin")
    page = admin_client(app).get("/network/plugins/").get_data(as_text=True)
    assert f"the folder {plugin_dir / 'twin'}" in page
    assert "the entry point twin = herald_ep_twin of the package herald_ep_twin" in page
    assert "Herald loads neither of them" in page
    result = cli(app, "plugins", "activate", "twin")
    assert result.exit_code == 1 and "Two plugins are named 'twin'" in result.output


def test_a_slug_clash_never_advises_forgetting_the_refused_plugins_migration(make_app, plugin_dir, site):
    """Refused for a clash, the plugin's migrations are not read: its applied revision looks
    orphaned, but forgetting it would lose a live plugin's tables."""
    write_plugin(plugin_dir, "twin", 'PLUGIN_INFO = {"name": "Folder twin"}\ndef setup(host):\n    pass\n')
    _install_package(site, "herald_ep_twin", "twin")
    app = make_app(PLUGINS_DIR=str(plugin_dir))
    row = text("INSERT INTO alembic_version (version_num) VALUES ('twin_0001')")
    with app.app_context():
        db.session.execute(row)  # the folder plugin's migration, applied before the clash
        db.session.commit()
    try:
        check = cli(app, "check")
        assert check.exit_code == 1
        assert "The plugin(s) twin are refused because two plugins share the slug" in check.output
        assert "do not run `flask plugins forget-migration` for it" in check.output
        assert "forget-migration twin_0001" not in check.output
        forget = cli(app, "plugins", "forget-migration", "twin_0001")
        assert forget.exit_code == 1 and "Not while the plugin(s) twin are refused" in forget.output
        page = admin_client(app).get("/network/plugins/").get_data(as_text=True)
        assert "it is probably theirs, and their tables are in use" in page
    finally:
        with app.app_context():
            db.session.execute(text("DELETE FROM alembic_version WHERE version_num = 'twin_0001'"))
            db.session.commit()


def test_an_installed_package_serves_its_templates_static_files_and_migrations(make_app, plugin_dir, site):
    _install_package(site, "herald_ep_shop", "shop", [
        ("templates/page.html", "<p>shop page</p>"), ("static/shop.css", "p{}"),
        ("migrations/versions/shop_0001.py", '"""Shop."""\nrevision = "shop_0001"\n'
         'down_revision = None\nbranch_labels = ("shop",)\ndepends_on = "0001_core"\n\n\n'
         "def upgrade():\n    pass\n\n\ndef downgrade():\n    pass\n")])
    app = make_app(PLUGINS_DIR=str(plugin_dir))
    info = app.extensions["herald_plugins"].plugins["shop"]
    assert info.loaded and info.source == "entry point"
    assert info.templates_dir.name == "templates" and info.static_dir.name == "static"
    assert str(info.migrations_dir) in app.extensions["herald_plugins"].migration_dirs()
    with app.test_request_context():
        assert app.jinja_env.get_template("plugin_shop/page.html").render() == "<p>shop page</p>"
