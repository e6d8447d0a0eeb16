"""The plugin host: discovery, activation state, failure isolation, no-restart deactivation."""
import sys
import textwrap

import pytest

from app.core.extensions import db
from app.plugins.models import PluginState
from app.testing import csrf_token, login, make_user, write_plugin

GOOD = textwrap.dedent('''
    """A test plugin."""
    from flask import Blueprint, render_template

    PLUGIN_INFO = {"name": "Greeter", "version": "1.2", "description": "Says hello",
                   "author": "Tests", "requires": []}
    CALLS = []
    bp = Blueprint("plugin_greeter", __name__)

    @bp.route("/hello")
    def hello():
        return render_template("plugin_greeter/hello.html", who="world")

    def setup(host):
        host.add_filter("admin_menu", lambda items: items)
        host.add_action("customer_created", lambda customer: CALLS.append(customer.email))
        host.add_blueprint(bp)
        host.add_menu_item("Greeter", "plugin_greeter.hello", order=85)
        host.register_settings({"greeting": ("Hello", "Greeting text"), "times": 2})

    def activate(host):
        CALLS.append("activated")

    def deactivate(host):
        CALLS.append("deactivated")
''')


@pytest.fixture
def plugin_app(make_app, plugin_dir):
    package = write_plugin(plugin_dir, "greeter", GOOD)
    (package / "templates").mkdir()
    (package / "templates" / "hello.html").write_text("<p>Hello {{ who }}</p>")
    write_plugin(plugin_dir, "broken_import", "import does_not_exist_anywhere\n")
    write_plugin(plugin_dir, "broken_setup", textwrap.dedent('''
        PLUGIN_INFO = {"name": "Broken setup", "version": "0.1"}
        def setup(host):
            host.add_action("customer_created", lambda customer: None)
            raise RuntimeError("setup exploded")
    '''))
    write_plugin(plugin_dir, "needs_greeter", textwrap.dedent('''
        PLUGIN_INFO = {"name": "Needs greeter", "version": "0.1", "requires": ["greeter"]}
        def setup(host):
            pass
    '''))
    app = make_app(PLUGINS_DIR=str(plugin_dir))
    yield app
    for name in [m for m in sys.modules if m.startswith("herald_plugin_")]:
        del sys.modules[name]


def _admin_client(app):
    with app.app_context():
        admin_id = make_user("root@example.com", super_admin=True).id
    return login(app.test_client(), admin_id)


def _post(client, url):
    return client.post(url, data={"csrf_token": csrf_token(client, "/network/plugins/")})


def test_failures_are_recorded_and_the_app_keeps_running(plugin_app):
    host = plugin_app.extensions["herald_plugins"]
    assert "does_not_exist_anywhere" in host.plugins["broken_import"].error
    assert "setup exploded" in host.plugins["broken_setup"].error
    assert host.plugins["greeter"].error is None
    client = _admin_client(plugin_app)
    page = client.get("/network/plugins/").get_data(as_text=True)
    assert "setup exploded" in page and "failed" in page and "Greeter" in page
    # the broken plugin's half-made registrations were dropped
    registry = plugin_app.extensions["herald_hooks"]
    assert all(r.plugin != "broken_setup" for r in registry.registrations("customer_created"))


def test_activation_runs_callbacks_and_deactivation_needs_no_restart(plugin_app):
    from app.network.services import register_customer

    module = plugin_app.extensions["herald_plugins"].plugins["greeter"].module
    client = _admin_client(plugin_app)
    assert client.get("/plugins/greeter/hello").status_code == 404  # inactive: blueprint hidden
    assert _post(client, "/network/plugins/greeter/activate").status_code == 302
    assert module.CALLS == ["activated"]
    assert client.get("/plugins/greeter/hello").get_data(as_text=True) == "<p>Hello world</p>"
    assert "Greeter" in client.get("/network/").get_data(as_text=True)  # its menu entry
    with plugin_app.app_context():
        register_customer("first@example.com")
        db.session.commit()
        assert db.session.get(PluginState, "greeter").active
    assert module.CALLS[-1] == "first@example.com"
    _post(client, "/network/plugins/greeter/deactivate")
    assert module.CALLS[-1] == "deactivated"
    with plugin_app.app_context():  # a new request/app context: callbacks no longer run
        register_customer("second@example.com")
        db.session.commit()
    assert "second@example.com" not in module.CALLS
    assert client.get("/plugins/greeter/hello").status_code == 404
    assert ">Greeter<" not in client.get("/network/").get_data(as_text=True)


def test_requirements_and_unknown_plugins(plugin_app):
    client = _admin_client(plugin_app)
    response = _post(client, "/network/plugins/needs_greeter/activate")
    assert response.status_code == 302
    assert "requires greeter" in client.get("/network/plugins/").get_data(as_text=True)
    assert _post(client, "/network/plugins/nope/activate").status_code == 404
    response = _post(client, "/network/plugins/broken_setup/activate")
    assert response.status_code == 302
    assert "failed to load" in client.get("/network/plugins/").get_data(as_text=True)
    with plugin_app.app_context():
        host = plugin_app.extensions["herald_plugins"]
        assert not host.is_active("needs_greeter") and not host.is_active("broken_setup")


def test_plugin_settings_appear_with_defaults(plugin_app):
    client = _admin_client(plugin_app)
    page = client.get("/network/settings/").get_data(as_text=True)
    assert "Plugin: greeter" in page and 'value="Hello"' in page
    token = csrf_token(client, "/network/settings/")
    response = client.post("/network/settings/", data={"csrf_token": token,
                                                       "plugin.greeter.greeting": "Hi",
                                                       "plugin.greeter.times": "many"})
    assert response.status_code == 400
    assert "must be a whole number" in response.get_data(as_text=True)


def test_activation_requires_csrf(plugin_app):
    client = _admin_client(plugin_app)
    response = client.post("/network/plugins/greeter/activate")
    assert response.status_code == 400 and "CSRF check failed" in response.get_data(as_text=True)
    with plugin_app.app_context():
        assert not plugin_app.extensions["herald_plugins"].is_active("greeter")


def test_blueprint_names_are_namespaced(app):
    from flask import Blueprint

    from app.plugins.discovery import PluginInfo
    from app.plugins.host import PluginContext

    context = PluginContext(app.extensions["herald_plugins"], PluginInfo("demo", "directory"))
    with pytest.raises(ValueError, match="plugin_demo"):
        context.add_blueprint(Blueprint("demo", __name__))


def test_entry_point_plugins_are_discovered(make_app, plugin_dir, tmp_path, monkeypatch):
    site = tmp_path / "site"
    package = site / "herald_ep_demo"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text('PLUGIN_INFO = {"name": "EP demo", "version": "3"}\n'
                                         'def setup(host):\n    pass\n')
    dist = site / "herald_ep_demo-3.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: herald-ep-demo\nVersion: 3\n")
    (dist / "entry_points.txt").write_text("[herald.plugins]\nep_demo = herald_ep_demo\n")
    monkeypatch.syspath_prepend(str(site))
    app = make_app(PLUGINS_DIR=str(plugin_dir))
    info = app.extensions["herald_plugins"].plugins["ep_demo"]
    assert info.source == "entry point" and info.name == "EP demo" and info.loaded
