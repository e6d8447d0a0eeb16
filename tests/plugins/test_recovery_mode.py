"""Recovery mode: a plugin that keeps failing is switched off everywhere and admins are told."""
from app.core.extensions import db
from app.core.settings.services import set_option
from app.plugins.models import PluginState
from app.plugins.faults import THRESHOLD_OPTION
from app.testing import audit_entries
from tests.plugins.helpers import admin_client, cli, network, post


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
    with faulty_app.app_context():
        (entry,) = audit_entries(action="plugin.faults_cleared")
    assert (entry.actor, entry.summary) == ("root@example.com", "4 fault(s) forgotten")


def test_clearing_faults_from_the_cli_is_audited(faulty_app):
    _threshold(faulty_app, 0)
    cli(faulty_app, "plugins", "activate", "bad_menu")
    admin_client(faulty_app).get("/network/")
    assert cli(faulty_app, "plugins", "clear-faults", "bad_menu").exit_code == 0
    with faulty_app.app_context():
        (entry,) = audit_entries(action="plugin.faults_cleared")
        assert faulty_app.extensions["herald_plugins"].faults.faults(["bad_menu"]) == {}
    assert (entry.actor_kind, entry.summary) == ("cli", "1 fault(s) forgotten")


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


def test_faults_of_a_plugin_s_own_page_are_shown_but_never_switch_it_off(faulty_app):
    """An anonymous visitor making a public page raise must not switch the plugin off network-wide."""
    _threshold(faulty_app, 3)
    assert cli(faulty_app, "plugins", "activate", "bad_view").exit_code == 0
    visitor = faulty_app.test_client()
    for _ in range(6):
        assert visitor.get("/plugins/bad_view/boom").status_code == 500
    host = faulty_app.extensions["herald_plugins"]
    with faulty_app.app_context():
        assert host.is_active("bad_view")
        [record] = host.faults.faults(["bad_view"])["bad_view"]
    assert record.count == 6
    assert "6 fault(s) recorded" in admin_client(faulty_app).get("/network/plugins/").get_data(as_text=True)


def test_only_faults_within_the_window_count(faulty_app, redis_client):
    _threshold(faulty_app, 3)
    cli(faulty_app, "plugins", "activate", "bad_menu")
    client = admin_client(faulty_app)
    host = faulty_app.extensions["herald_plugins"]
    for _ in range(2):
        client.get("/network/")
    recent = host.faults._key("recent", "bad_menu")
    for member, score in redis_client.zrange(recent, 0, -1, withscores=True):
        redis_client.zadd(recent, {member: score - 11 * 60})  # as if they were 11 minutes old
    client.get("/network/")
    with faulty_app.app_context():
        assert host.is_active("bad_menu")  # 1 fault within the last 10 minutes, 3 in all
    client.get("/network/")
    client.get("/network/")
    with faulty_app.app_context():
        assert not host.is_active("bad_menu")


def test_a_suspension_outlives_a_redis_flush_and_a_restart(faulty_app, make_app, redis_client):
    _threshold(faulty_app, 2)
    client = network(faulty_app, "bad_menu")
    for _ in range(2):
        client.get("/network/")
    with faulty_app.app_context():
        state = db.session.get(PluginState, "bad_menu")
        assert (state.active, state.suspended_kind) == (True, "faults")
        assert state.suspended_reason.startswith("2 faults within 10 minutes, the last in admin_menu")
    redis_client.flushdb()  # make run's Redis keeps nothing across a restart
    restarted = make_app(PLUGINS_DIR=faulty_app.config["PLUGINS_DIR"])
    module = restarted.extensions["herald_plugins"].plugins["bad_menu"].module
    calls = len(module.CALLS)
    page = admin_client(restarted).get("/network/").get_data(as_text=True)
    assert "Recovery mode: the plugin <strong>Bad menu</strong> is switched off" in page
    assert len(module.CALLS) == calls  # its filter did not run
    post(admin_client(restarted), "/network/plugins/bad_menu/activate")  # resumed, in the database too
    with restarted.app_context():
        assert db.session.get(PluginState, "bad_menu").suspended_kind is None
        assert restarted.extensions["herald_plugins"].is_active("bad_menu")


def test_a_suspension_during_a_payment_is_stored_without_waiting_on_its_transaction(faulty_app, customer):
    """The fault happens while the payment's transaction holds SQLite's write lock: the row is
    written when that transaction ends (on PostgreSQL at once, in a transaction of its own)."""
    from app.billing.models import Payment

    _threshold(faulty_app, 1)
    network(faulty_app, "bad_payload")
    result = cli(faulty_app, "payments", "record", "--customer", "carol@example.com", "--amount", "4")
    assert result.exit_code == 0, result.output
    with faulty_app.app_context():
        assert db.session.scalars(db.select(Payment.status)).all() == ["paid"]
        assert db.session.get(PluginState, "bad_payload").suspended_kind == "faults"


def test_a_slow_callback_is_recorded_not_counted(make_app, plugin_dir):
    from app.testing.plugins import write_plugin

    write_plugin(plugin_dir, "sluggish", '''
import time

PLUGIN_INFO = {"name": "Sluggish"}


def setup(host):
    host.add_filter("admin_menu", lambda items: time.sleep(0.3) or items)
''')
    app = make_app(PLUGINS_DIR=str(plugin_dir), PLUGIN_SLOW_SECONDS=0.1)
    _threshold(app, 1)
    assert cli(app, "plugins", "activate", "sluggish").exit_code == 0
    client = admin_client(app)
    assert client.get("/network/").status_code == 200
    with app.app_context():
        assert app.extensions["herald_plugins"].is_active("sluggish")  # slow is not a fault
        [record] = app.extensions["herald_plugins"].faults.faults(["sluggish"])["sluggish"]
    assert record.where == "slow admin_menu" and record.error.startswith("took 0.")
    assert "(more than 0.1 s)" in record.error
    assert "<strong>slow admin_menu</strong>: 1 time(s)" in client.get("/network/plugins/").get_data(as_text=True)
