"""A plugin blueprint's app-wide functions run through the guard, only while the plugin is active,
and never on the Plugins or login page (issue 16: nobody is locked out by a plugin)."""
from flask import render_template_string, url_for

from app.core.extensions import db
from app.core.settings.services import set_option
from app.plugins.faults import THRESHOLD_OPTION
from app.testing.plugins import write_plugin
from tests.plugins.helpers import admin_client, cli

TEMPLATE = "{{ 'a'|shout }}|{{ 'a' is loud }}|{{ bad_app_hooks_hello() }}|{{ bad_app_hooks_value }}"
KINDS = {"before_request", "after_request", "teardown_request", "template_context_processor",
         "template_filter", "template_test", "template_global", "errorhandler",
         "url_value_preprocessor", "url_default_function"}


def _plugin(app):
    return app.extensions["herald_plugins"].plugins["bad_app_hooks"].module


def _activate(app):
    with app.app_context():
        set_option(THRESHOLD_OPTION, 0)  # every fault of this test recorded, none switching it off
        db.session.commit()
    result = cli(app, "plugins", "activate", "bad_app_hooks")
    assert result.exit_code == 0, result.output


def _rendered(app, path="/network/"):
    with app.test_request_context(path):
        app.preprocess_request()
        return render_template_string(TEMPLATE), url_for("auth.profile")


def test_an_inactive_plugin_s_app_wide_functions_never_run(faulty_app):
    client = admin_client(faulty_app)
    assert client.get("/network/").status_code == 200
    missing = client.get("/no/such/page")
    assert missing.status_code == 404 and "the plugin&#39;s 404" not in missing.get_data(as_text=True)
    assert _rendered(faulty_app) == ("a|False||", "/network/profile")
    assert sum(_plugin(faulty_app).CALLS.values()) == 0


def test_raising_app_wide_functions_are_skipped_and_recorded_and_core_pages_work(faulty_app):
    _activate(faulty_app)
    client = admin_client(faulty_app)
    response = client.get("/network/")
    assert response.status_code == 200 and ">Settings</a>" in response.get_data(as_text=True)
    assert "X-Bad-App-Hooks" not in response.headers  # the response as it was before the hook
    missing = client.get("/no/such/page")  # the plugin's 404 handler raises: the core's page
    assert missing.status_code == 404 and "the plugin" not in missing.get_data(as_text=True)
    # a filter returns its input, a test is false, a global and a context processor give nothing,
    # and url_defaults' change before it raised is undone
    assert _rendered(faulty_app) == ("a|False||", "/network/profile")
    calls = _plugin(faulty_app).CALLS
    assert all(calls[kind] for kind in _plugin(faulty_app).KINDS), calls
    with faulty_app.app_context():
        faults = faulty_app.extensions["herald_plugins"].faults.faults(["bad_app_hooks"])["bad_app_hooks"]
    assert {f.where.split()[1] for f in faults} == KINDS
    assert all(f.where.startswith("app ") and "exploded" in f.error for f in faults)


def test_an_after_request_or_error_handler_returning_nothing_is_the_plugin_s_fault(faulty_app):
    """A forgotten ``return response`` must not turn every page into a 500."""
    module = _plugin(faulty_app)
    module.BREAK.clear()
    module.RETURN_NONE.update({"after", "errorhandler"})
    _activate(faulty_app)
    client = admin_client(faulty_app)
    assert client.get("/network/").status_code == 200
    missing = client.get("/no/such/page")
    assert missing.status_code == 404 and "the plugin" not in missing.get_data(as_text=True)
    with faulty_app.app_context():
        faults = faulty_app.extensions["herald_plugins"].faults.faults(["bad_app_hooks"])["bad_app_hooks"]
    assert {f.where.split()[1] for f in faults} == {"after_request", "errorhandler"}
    assert all("TypeError" in f.error for f in faults)


def test_the_login_and_plugins_pages_run_no_plugin_code(faulty_app):
    _activate(faulty_app)
    client = admin_client(faulty_app)
    calls = _plugin(faulty_app).CALLS
    before = sum(calls.values())
    assert faulty_app.test_client().get("/login").status_code == 200
    assert client.get("/network/plugins/").status_code == 200
    assert sum(calls.values()) == before


def test_working_app_wide_functions_take_effect_while_active(faulty_app):
    _activate(faulty_app)
    _plugin(faulty_app).BREAK.clear()
    client = admin_client(faulty_app)
    assert client.get("/network/").headers["X-Bad-App-Hooks"] == "1"
    assert client.get("/nope").get_data(as_text=True) == "the plugin's 404"
    assert _rendered(faulty_app) == ("A|True|hello from the plugin|from the plugin",
                                     "/network/profile?from_plugin=1")
    cli(faulty_app, "plugins", "deactivate", "bad_app_hooks")
    assert "X-Bad-App-Hooks" not in client.get("/network/").headers


def test_a_blueprint_that_cannot_be_guarded_makes_its_plugin_fail_to_load(make_app, plugin_dir):
    write_plugin(plugin_dir, "takes_over", '''
from flask import Blueprint

PLUGIN_INFO = {"name": "Takes over"}


def setup(host):
    bp = Blueprint("plugin_takes_over", __name__)
    bp.add_app_template_filter(lambda value: "replaced", "e")  # the core's escape filter
    bp.record(lambda state: setattr(state.app, "wsgi_app", lambda environ, start: None))
    host.add_blueprint(bp)
''')
    app = make_app(PLUGINS_DIR=str(plugin_dir))
    info = app.extensions["herald_plugins"].plugins["takes_over"]
    assert not info.loaded
    assert "it changes app.wsgi_app, which no guard can wrap" in info.error
    assert "its template filter 'e' would replace the core's" in info.error
    assert "wsgi_app" not in vars(app)  # taken back out: the app is Herald's
    with app.test_request_context():
        assert render_template_string("{{ '<b>'|e }}") == "&lt;b&gt;"
    assert admin_client(app).get("/network/plugins/").status_code == 200
