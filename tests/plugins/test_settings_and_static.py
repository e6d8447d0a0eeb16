"""Typed plugin settings with a generated form, and plugin static files under /plugins/<slug>/."""
import pytest

from app.core.extensions import db
from app.core.settings.models import Option
from app.testing import csrf_token
from tests.plugins.helpers import FIXTURES, admin_client, cli

URL = "/network/plugins/typed_demo/settings"


@pytest.fixture
def typed_app(make_app):
    return make_app(PLUGINS_DIR=str(FIXTURES / "typed"))


def _save(client, **values):
    data = {"csrf_token": csrf_token(client, URL), **{f"plugin.typed_demo.{k}": v for k, v in values.items()}}
    return client.post(URL, data=data)


def test_the_generated_form_shows_each_type(typed_app):
    page = admin_client(typed_app).get(URL).get_data(as_text=True)
    assert ('type="number" id="f-plugin.typed_demo.batch" name="plugin.typed_demo.batch" '
            'value="10" min="2" max="100"') in page
    assert '<option value="safe">Safe and slow</option>' in page
    assert 'type="email" id="f-plugin.typed_demo.contact"' in page and 'value="ops@example.com"' in page
    assert 'type="url"' in page and "Where reports go." in page
    assert 'type="password" id="f-plugin.typed_demo.token" name="plugin.typed_demo.token" value=""' in page
    assert 'type="checkbox" id="f-plugin.typed_demo.enabled"' in page


def test_bad_values_are_refused_with_a_message_and_nothing_is_saved(typed_app):
    client = admin_client(typed_app)
    response = _save(client, title="Hi", batch="7", enabled="0", mode="turbo",
                     contact="not an address", endpoint="ftp://x", token="")
    text = response.get_data(as_text=True)
    assert response.status_code == 400
    for message in ("Batch size must be even.", "Mode must be one of: Fast, Safe and slow.",
                    "Contact address is not a valid e-mail address",
                    "Endpoint must be a full http:// or https:// address."):
        assert message in text
    assert _save(client, batch="1").status_code == 400  # below min
    with typed_app.app_context():
        assert db.session.get(Option, "plugin.typed_demo.title") is None


def test_good_values_are_saved_typed_and_a_secret_is_never_shown_back(typed_app):
    client = admin_client(typed_app)
    response = _save(client, title="Hi", batch="12", enabled="0", mode="safe",
                     contact="Ops@Example.com", endpoint="https://reports.example/in", token="s3cret")
    assert response.status_code == 302
    with typed_app.app_context():
        context = typed_app.extensions["herald_plugins"].contexts["typed_demo"]
        values = {key: context.get_setting(key) for key in ("batch", "enabled", "mode", "contact", "token")}
        assert values == {"batch": 12, "enabled": False, "mode": "safe", "contact": "Ops@example.com",
                          "token": "s3cret"}
        with pytest.raises(ValueError, match="at most 100"):
            context.set_setting("batch", 102)
    page = client.get(URL).get_data(as_text=True)
    assert "s3cret" not in page and "Stored: leave blank to keep it" in page
    assert _save(client, token="").status_code == 302  # blank keeps the stored secret
    with typed_app.app_context():
        assert db.session.get(Option, "plugin.typed_demo.token").value == "s3cret"
    assert "s3cret" not in client.get("/network/settings/").get_data(as_text=True)


def test_a_refused_default_makes_the_plugin_fail_to_load_saying_why(typed_app):
    info = typed_app.extensions["herald_plugins"].plugins["bad_default"]
    assert "setting plugin.bad_default.mode: the default is refused: Mode must be one of" in info.error


def test_static_files_are_served_under_the_plugin_prefix_while_it_is_active(typed_app):
    client = typed_app.test_client()
    url = "/plugins/typed_demo/static/css/demo.css"
    assert client.get(url).status_code == 404  # inactive
    assert cli(typed_app, "plugins", "activate", "typed_demo").exit_code == 0
    response = client.get(url)
    assert response.status_code == 200 and b"#123456" in response.data
    assert client.get("/plugins/typed_demo/static/../__init__.py").status_code == 404
    assert client.get("/plugins/nope/static/css/demo.css").status_code == 404
    with typed_app.test_request_context():
        context = typed_app.extensions["herald_plugins"].contexts["typed_demo"]
        assert context.static_url("css/demo.css") == url


def test_a_plugin_form_saved_unchanged_in_a_browser_keeps_its_ticked_box(typed_app):
    from werkzeug.datastructures import MultiDict

    from app.testing.browser_forms import browser_submission

    client = admin_client(typed_app)
    entries = browser_submission(client.get(URL).get_data(as_text=True))
    assert [v for n, v in entries if n == "plugin.typed_demo.enabled"] == ["0", "1"]
    assert client.post(URL, data=MultiDict(entries)).status_code == 302
    with typed_app.app_context():
        assert typed_app.extensions["herald_plugins"].contexts["typed_demo"].get_setting("enabled") is True
        assert db.session.get(Option, "plugin.typed_demo.enabled").value is True


STRICT = "/network/plugins/strict_settings/settings"


def _save_strict(client, **values):
    data = {"csrf_token": csrf_token(client, STRICT),
            **{f"plugin.strict_settings.{k}": v for k, v in values.items()}}
    return client.post(STRICT, data=data)


@pytest.mark.parametrize("ratio", ["nan", "inf", "-inf", "1e309", "Infinity", "٣", "1_0"])
def test_non_finite_and_non_ascii_numbers_are_refused(typed_app, ratio):
    client = admin_client(typed_app)
    response = _save_strict(client, ratio=ratio, count="٣", signing_key="k")
    text = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Sampling ratio must be a number." in text or "Sampling ratio must be a finite number" in text
    assert "Retry count must be a whole number." in text
    with typed_app.app_context():
        assert db.session.get(Option, "plugin.strict_settings.ratio") is None
        context = typed_app.extensions["herald_plugins"].contexts["strict_settings"]
        with pytest.raises(ValueError, match="finite"):
            context.set_setting("ratio", float("nan"))


def test_a_blank_required_secret_is_refused_until_one_is_stored(typed_app):
    client = admin_client(typed_app)
    response = _save_strict(client, ratio="0.25", signing_key="")
    assert response.status_code == 400 and "Signing key is required." in response.get_data(as_text=True)
    assert _save_strict(client, ratio="0.25", signing_key="s3cret").status_code == 302
    assert _save_strict(client, ratio="0.5", signing_key="").status_code == 302  # the stored one stays
    with typed_app.app_context():
        assert db.session.get(Option, "plugin.strict_settings.signing_key").value == "s3cret"
        assert db.session.get(Option, "plugin.strict_settings.ratio").value == 0.5


def test_labels_keep_their_case_and_url_hosts_are_bounded(typed_app):
    client = admin_client(typed_app)
    assert "Hook URL" in client.get(STRICT).get_data(as_text=True)
    long_host = "https://" + "a" * 5000 + ".example/"
    response = _save_strict(client, hook=long_host, signing_key="k")
    assert response.status_code == 400
    assert "Hook URL is too long: at most 253 characters for the host name" in response.get_data(as_text=True)
    assert _save_strict(client, hook="https://hooks.example/in", signing_key="k").status_code == 302
