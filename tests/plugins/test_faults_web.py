"""Faults in requests stay inside the plugin: activation, the admin menu, dashboards, its pages."""
from app.core.extensions import db
from app.plugins.models import PluginState
from app.testing import login
from tests.plugins.helpers import admin_client, cli, post


def _activate(app, slug):
    result = cli(app, "plugins", "activate", slug)
    assert result.exit_code == 0, result.output


def _faults(app, slug):
    with app.app_context():
        return {r.where: r for r in app.extensions["herald_plugins"].faults.faults([slug]).get(slug, [])}


def test_an_activate_that_raises_names_the_plugin_and_its_error(faulty_app):
    client = admin_client(faulty_app)
    response = post(client, "/network/plugins/bad_activate/activate")
    assert response.status_code == 302
    page = client.get("/network/plugins/").get_data(as_text=True)
    assert "Bad activate could not be activated: its activate() raised RuntimeError: activate " \
           "exploded" in page
    assert 'raise RuntimeError(&#34;activate exploded&#34;)' in page  # the traceback, shown
    with faulty_app.app_context():
        assert db.session.get(PluginState, "bad_activate") is None  # it stays inactive
    assert _faults(faulty_app, "bad_activate")["activate"].count == 1
    result = cli(faulty_app, "plugins", "activate", "bad_activate")
    assert result.exit_code == 1 and "activate exploded" in result.output
    assert _faults(faulty_app, "bad_activate")["activate"].count == 2


def test_a_deactivate_that_raises_still_switches_the_plugin_off(faulty_app):
    _activate(faulty_app, "bad_deactivate")
    client = admin_client(faulty_app)
    post(client, "/network/plugins/bad_deactivate/deactivate")
    page = client.get("/network/plugins/").get_data(as_text=True)
    assert "Bad deactivate is deactivated, but its deactivate() raised RuntimeError" in page
    with faulty_app.app_context():
        assert not db.session.get(PluginState, "bad_deactivate").active


def test_an_admin_menu_filter_that_raises_breaks_no_page_and_never_runs_on_the_plugins_page(faulty_app):
    module = faulty_app.extensions["herald_plugins"].plugins["bad_menu"].module
    _activate(faulty_app, "bad_menu")
    client = admin_client(faulty_app)
    for url in ("/network/", "/network/settings/", "/network/system-emails/"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert ">Settings</a>" in response.get_data(as_text=True)  # the core's menu is intact
    assert len(module.CALLS) == 3
    assert _faults(faulty_app, "bad_menu")["admin_menu"].count == 3
    page = client.get("/network/plugins/")
    assert page.status_code == 200 and len(module.CALLS) == 3  # no plugin code on this page
    text = page.get_data(as_text=True)
    assert "3 fault(s) recorded" in text and "KeyError: &#39;menu exploded&#39;" in text
    assert post(client, "/network/plugins/bad_menu/deactivate").status_code == 302
    client.get("/network/")
    assert len(module.CALLS) == 3


def test_a_customer_dashboard_filter_that_raises_leaves_the_dashboard_and_other_panels(faulty_app, customer):
    _activate(faulty_app, "bad_panels")
    _activate(faulty_app, "titled_panel")
    client = login(faulty_app.test_client(), customer.user_id)
    response = client.get("/dashboard/")
    text = response.get_data(as_text=True)
    assert response.status_code == 200 and "Your sites" in text
    assert "<h2>Loyalty points</h2><p>Carol Customer has 42 points.</p>" in text  # titles shown
    assert _faults(faulty_app, "bad_panels")["customer_dashboard_panels"].count == 1


def test_a_page_that_raises_is_a_500_recorded_against_its_plugin(faulty_app):
    _activate(faulty_app, "bad_view")
    response = admin_client(faulty_app).get("/plugins/bad_view/boom")
    assert response.status_code == 500
    fault = _faults(faulty_app, "bad_view")["view plugin_bad_view.boom"]
    assert fault.count == 1 and fault.error == "ValueError: page exploded"


def test_an_activate_that_commits_then_raises_leaves_the_plugin_off(faulty_app):
    client = admin_client(faulty_app)
    post(client, "/network/plugins/commits_then_raises/activate")
    page = client.get("/network/plugins/").get_data(as_text=True)
    assert "Commits then raises could not be activated" in page
    with faulty_app.app_context():
        assert db.session.get(PluginState, "commits_then_raises") is None  # as the admin is told
        assert not faulty_app.extensions["herald_plugins"].is_active("commits_then_raises")
    result = cli(faulty_app, "plugins", "list")
    assert "commits_then_raises" in result.output and "inactive" in result.output.split(
        "commits_then_raises")[1].splitlines()[0]
