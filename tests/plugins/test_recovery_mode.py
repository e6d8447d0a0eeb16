"""Recovery mode: a plugin that keeps failing is switched off everywhere and admins are told."""
from app.core.extensions import db
from app.core.settings.services import set_option
from app.plugins.faults import THRESHOLD_OPTION
from tests.plugins.helpers import admin_client, cli, post


def _threshold(app, value):
    with app.app_context():
        set_option(THRESHOLD_OPTION, value)
        db.session.commit()


def test_repeated_faults_switch_the_plugin_off_until_an_admin_activates_it_again(faulty_app):
    module = faulty_app.extensions["herald_plugins"].plugins["bad_menu"].module
    _threshold(faulty_app, 3)
    assert cli(faulty_app, "plugins", "activate", "bad_menu").exit_code == 0
    client = admin_client(faulty_app)
    for _ in range(3):
        assert client.get("/network/").status_code == 200
    page = client.get("/network/").get_data(as_text=True)
    assert len(module.CALLS) == 3  # switched off: its filter no longer runs
    assert "Recovery mode: the plugin <strong>Bad menu</strong> is switched off (3 faults within 10 " \
           "minutes, the last in admin_menu: KeyError: &#39;menu exploded&#39;)" in page
    plugins = client.get("/network/plugins/").get_data(as_text=True)
    assert "badge-warning\">suspended" in plugins and "Activate again" in plugins
    check = cli(faulty_app, "check")
    assert "plugin bad_menu: switched off by recovery mode (3 faults within" in check.output
    with faulty_app.app_context():
        assert not faulty_app.extensions["herald_plugins"].is_active("bad_menu")

    post(client, "/network/plugins/bad_menu/activate")  # the admin resumes it: counting restarts
    assert "Recovery mode" not in client.get("/network/").get_data(as_text=True)
    assert len(module.CALLS) == 4
    with faulty_app.app_context():
        assert faulty_app.extensions["herald_plugins"].is_active("bad_menu")
        [record] = faulty_app.extensions["herald_plugins"].faults.faults(["bad_menu"])["bad_menu"]
    assert record.count == 4  # the history stays on the Plugins page until cleared
    post(client, "/network/plugins/bad_menu/clear-faults")
    assert "fault(s) recorded" not in client.get("/network/plugins/").get_data(as_text=True)


def test_a_threshold_of_zero_never_switches_a_plugin_off(faulty_app):
    _threshold(faulty_app, 0)
    cli(faulty_app, "plugins", "activate", "bad_menu")
    client = admin_client(faulty_app)
    for _ in range(6):
        client.get("/network/")
    with faulty_app.app_context():
        assert faulty_app.extensions["herald_plugins"].is_active("bad_menu")
    assert cli(faulty_app, "plugins", "faults", "bad_menu").output.startswith("admin_menu: 6 time(s)")


def test_plugin_actions_need_a_super_admin_and_a_csrf_token(faulty_app, customer):
    from app.testing import csrf_token, login

    customer_client = login(faulty_app.test_client(), customer.user_id)
    token = csrf_token(customer_client, "/dashboard/")
    for url in ("/network/plugins/bad_menu/clear-faults", "/network/plugins/bad_menu/uninstall",
                "/network/plugins/bad_menu/activate", "/network/plugins/bad_menu/settings"):
        assert admin_client(faulty_app).post(url).status_code == 400  # no CSRF token
        assert customer_client.post(url, data={"csrf_token": token}).status_code == 403
    assert customer_client.get("/network/plugins/").status_code == 403
