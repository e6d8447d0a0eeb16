"""Settings are validated where they are declared (type, bounds, required, time zones): the Settings
page and set_option refuse bad values."""
import re

import pytest

from app.core.settings.services import get_option, set_option
from app.testing import csrf_token

BAD = {
    "broadcasts.timezone": ("Mars/Olympus_Mons", "is not a known time zone"),
    "network.name": ("   ", "Network name is required"),
    "network.name ": ("\u200b\u2060", "Network name is required. Invisible characters alone do not count."),
    "network.name  ": ("A\nB", "Network name holds a character that is not allowed (U+000A"),
    "network.name   ": ("\u3164\u2800\u0301", "Network name is required. Invisible characters alone"),
    "network.name    ": ("Acme\u202egnp.exe", "Network name holds a character that is not allowed (U+202E"),
    "system_emails.mail_from ": ("a@b.example, d@e.example", "holds more than one address"),
    "system_emails.mail_from  ": ("a@b.example;d@e.example", "holds more than one address"),
    # texts have lengths (they reach e-mail headers): 501 characters of a one-line name
    "system_emails.mail_from": ("a" * 501, "System e-mail sender is too long: at most 500 characters"),
    "delivery.max_attempts": ("0", "Attempts per recipient must be at least 1"),
    "delivery.retry_base_seconds": ("99999999999999999999999", "First retry after (seconds) must be at most 86400"),
    "tracking.soft_bounce_days": ("-3", "Soft bounce window (days) must be at least 1"),
    "scheduling.grace_minutes": ("1000000000", "Grace window for missed sends (minutes) must be at most 10080"),
}


@pytest.mark.parametrize("key", BAD)
def test_the_settings_page_refuses_a_bad_value_with_a_form_error(admin_client, key):
    value, message = BAD[key]
    key = key.strip()  # the same setting, one entry per bad value
    token = csrf_token(admin_client, "/network/settings/")
    answer = admin_client.post("/network/settings/", data={"csrf_token": token, key: value})
    assert answer.status_code == 400
    assert message in answer.get_data(as_text=True)
    assert get_option(key) != value


def test_good_values_are_saved_trimmed(admin_client):
    token = csrf_token(admin_client, "/network/settings/")
    answer = admin_client.post("/network/settings/", data={
        "csrf_token": token, "broadcasts.timezone": "Europe/Amsterdam", "network.name": "  Acme Hosting ",
        "delivery.max_attempts": "3"})
    assert answer.status_code == 302
    assert (get_option("broadcasts.timezone"), get_option("network.name"), get_option("delivery.max_attempts")) == \
        ("Europe/Amsterdam", "Acme Hosting", 3)


def test_set_option_refuses_what_the_page_refuses(app):
    with pytest.raises(ValueError, match="'Nowhere' is not a known time zone"):
        set_option("broadcasts.timezone", "Nowhere")
    with pytest.raises(ValueError, match="Attempts per recipient must be at most 100"):
        set_option("delivery.max_attempts", 10**30)
    set_option("plugin.anything.free", "undeclared keys are stored as they are")
    with pytest.raises(ValueError, match="Network name is too long: at most 500 characters"):
        set_option("network.name", "\U0001F600" * 501)
    set_option("network.name", "\U0001F600" * 500)


def _post_as_browser(client, url, change=lambda entries: entries):
    from werkzeug.datastructures import MultiDict

    from app.testing.browser_forms import browser_submission

    entries = change(browser_submission(client.get(url).get_data(as_text=True)))
    return client.post(url, data=MultiDict(entries)), entries


def test_saving_the_settings_page_unchanged_in_a_browser_changes_no_setting(admin_client):
    from app.core.settings.services import registry

    before = {key: get_option(key) for key in registry().specs}
    assert before["network.confirm_email"] is True
    response, entries = _post_as_browser(admin_client, "/network/settings/")
    assert response.status_code == 302
    pair = [value for name, value in entries if name == "network.confirm_email"]
    assert pair == ["0", "1"]  # the hidden field first, then the ticked box: the browser's order
    assert {key: get_option(key) for key in registry().specs} == before


def test_unticking_a_box_in_a_browser_turns_it_off_and_an_error_shows_it_unticked(admin_client):
    def untick_and_break(entries):
        return [(n, "" if n == "network.name" else v) for n, v in entries
                if (n, v) != ("network.confirm_email", "1")]
    response, _ = _post_as_browser(admin_client, "/network/settings/", untick_and_break)
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and "Network name is required" in page
    box = re.search(r'<input type="checkbox" id="f-network.confirm_email"[^>]*>', page).group(0)
    assert "checked" not in box  # unticked
    response, _ = _post_as_browser(admin_client, "/network/settings/", lambda entries: [
        (n, v) for n, v in entries if (n, v) != ("network.confirm_email", "1")])
    assert response.status_code == 302 and get_option("network.confirm_email") is False
