"""A URL-encoded form body has its own size limit (app.core.inputs.MAX_FORM_BYTES): past it the
answer is a 413 with a message before the body is read; the largest legitimate form, a system
e-mail whose 200,000-character template is all 4-byte characters, still fits."""
from urllib.parse import urlencode

from app.core.inputs import MAX_CONTENT_LENGTH, MAX_FORM_BYTES
from app.testing import csrf_token

from sysemail_helpers import email

FORM = "application/x-www-form-urlencoded"


def test_a_form_body_past_the_limit_is_413_with_a_message_on_every_form(network, admin_client):
    token = csrf_token(admin_client, "/network/settings/")
    body = urlencode({"csrf_token": token, "network_name": "\U0001F600" * (MAX_FORM_BYTES // 12 + 1)})
    assert MAX_FORM_BYTES < len(body) < MAX_CONTENT_LENGTH  # under the cap of every request
    for path in ("/network/settings/", f"/network/system-emails/{email('welcome').id}", "/network/suppressions/add"):
        answer = admin_client.post(path, data=body, content_type=FORM)
        assert answer.status_code == 413, (path, answer.status_code)
        assert "too large" in answer.get_data(as_text=True)
    json_answer = admin_client.post("/network/settings/", data=body, content_type=FORM,
                                    headers={"Accept": "application/json"})
    assert json_answer.status_code == 413 and "too large" in json_answer.get_json()["error"]


def test_the_largest_template_in_4_byte_characters_still_fits(network, admin_client):
    welcome = email("welcome")
    token = csrf_token(admin_client, f"/network/system-emails/{welcome.id}")
    template = "\U0001F600" * 199_990
    body = urlencode({"csrf_token": token, "subject": "Hi \U0001F600" * 100, "body": template, "style": "plain",
                      "audience": "customer", "delay_value": "0", "delay_unit": "minutes", "action": "save"})
    assert len(body) > 2_000_000
    answer = admin_client.post(f"/network/system-emails/{welcome.id}", data=body, content_type=FORM)
    assert answer.status_code == 302, answer.get_data(as_text=True)[:500]
    assert email("welcome").body == template
