"""Every way a template can fail to compile is a limit with a message, never a 500: blocks nested
past MAX_BLOCK_NESTING are refused before Jinja compiles them, whatever Python still refuses
(nested expressions) is caught, and HTML bodies have the linear limits of core.content_limits.
At save: a form error or a JSON 400; in a preview: its errors; at send: skipped, with the reason
and the recipient logged; at registration: a RegistrationError."""
import logging
import time  # thread_time: the CPU the request spends in this thread, steady on a busy machine

import pytest

from app.core.content_limits import MAX_BLOCK_NESTING, MAX_HTML_DEPTH
from app.core.extensions import db
from app.network.services import register_customer
from app.system_emails.registry import EventSpec, RegistrationError, SystemEmailRegistry
from app.system_emails.rendering import TemplateLimit, check_template, render
from app.testing import csrf_token

from sysemail_helpers import email, sends
from tests.core.fuzz_content import UNCLOSED

EVENT = EventSpec("order_paid", "Order paid", payload_keys={"customer_name": ""},
                  sample={"customer_name": "Jane"})
NESTED = f"more than {MAX_BLOCK_NESTING} deep"


def nest(opening, closing, depth, inner="x"):
    return opening * depth + inner + closing * depth


UNCOMPILABLE = {  # each answered 500 (IndentationError, SyntaxError) before
    "99 ifs": (nest("{% if customer_name %}", "{% endif %}", 99), NESTED),
    "30 fors": (nest("{% for a in customer_name %}", "{% endfor %}", 30), NESTED),
    "21 fors": (nest("{% for a in customer_name %}", "{% endfor %}", 21), NESTED),
    "60 macros": ("".join("{%% macro m%d() %%}" % i for i in range(60)) + "x" + "{% endmacro %}" * 60, NESTED),
    "150 parentheses": ("{% if " + "(" * 150 + "customer_name" + ")" * 150 + " %}x{% endif %}", "nested too deeply"),
    "150 nested lists": ("{% set v = " + "[" * 150 + "1" + "]" * 150 + " %}x", "nested too deeply"),
    "deep HTML": ("<b>" * 4_000, f"more than {MAX_HTML_DEPTH} deep"),
    "HTML of 49,000 tags": ("<b>" * 49_000, "characters; at most 5,000"),
}
KINDS = ["{% if customer_name %}|{% endif %}", "{% for a in customer_name %}|{% else %}{% endfor %}",
         "{% with b = 1 %}|{% endwith %}", "{% filter upper %}|{% endfilter %}", "{% set v %}|{% endset %}",
         "{% for a in [customer_name] recursive %}|{% endfor %}"]


@pytest.mark.parametrize("name", UNCOMPILABLE)
def test_check_and_render_refuse_what_cannot_compile_with_the_limit(name):
    template, words = UNCOMPILABLE[name]
    attempts = [lambda: check_template(template, EVENT, "html")]
    if "HTML" not in name:  # HTML limits guard saving; rendering never parses the HTML
        attempts.append(lambda: render(template, {"customer_name": "Jane"}, "html"))
    for attempt in attempts:
        started = time.thread_time()
        with pytest.raises(TemplateLimit, match=words.replace("(", r"\(")):
            attempt()
        assert time.thread_time() - started < 2.0  # about 0.01 s alone; 0.65 once with two suites on 2 cores


def test_every_mix_of_blocks_up_to_the_limit_compiles_and_renders():
    for shift in range(len(KINDS)):
        kinds = [KINDS[(shift + i) % len(KINDS)].split("|") for i in range(MAX_BLOCK_NESTING)]
        template = "".join(k[0] for k in kinds) + "x" + "".join(k[1] for k in reversed(kinds))
        check_template(template, EVENT, "html")
        render(template, {"customer_name": "Jane"}, "plain")


def test_the_json_api_the_editor_and_the_preview_answer_4xx(network, admin_client):
    welcome = email("welcome")
    token = csrf_token(admin_client, "/network/system-emails/")
    for name, (template, words) in UNCOMPILABLE.items():
        answer = admin_client.patch(f"/network/system-emails/emails/{welcome.id}.json",
                                    headers={"X-CSRFToken": token}, json={"body": template})
        assert answer.status_code == 400 and words in answer.get_json()["fields"]["body"], name
        page = admin_client.post(f"/network/system-emails/{welcome.id}", data={
            "csrf_token": token, "subject": "Hi", "body": template, "style": "html",
            "audience": "customer", "delay_value": "0", "delay_unit": "minutes", "action": "save"})
        assert page.status_code == 400 and words in page.get_data(as_text=True).replace("&#39;", "'"), name
        preview = admin_client.post(f"/network/system-emails/{welcome.id}/preview",
                                    data={"csrf_token": token, "subject": "Hi", "body": template, "style": "html"})
        assert preview.status_code == 200 and words in preview.get_json()["errors"]["body"], name
    subject = admin_client.patch(f"/network/system-emails/emails/{welcome.id}.json", headers={"X-CSRFToken": token},
                                 json={"subject": nest("{%if a%}", "{%endif%}", 21)})
    assert subject.status_code == 400 and NESTED in subject.get_json()["fields"]["subject"]
    not_json = admin_client.patch(f"/network/system-emails/emails/{welcome.id}.json", data='{"body": "x"}',
                                  headers={"X-CSRFToken": token, "Accept": "application/json"},
                                  content_type="text/plain")
    assert not_json.status_code == 415 and "Content-Type: application/json" in not_json.get_json()["error"]


def test_a_plugin_registering_such_a_default_gets_a_registration_error():
    registry = SystemEmailRegistry()
    registry.register_event("paid", "Paid", payload_keys={"customer_name": ""})
    with pytest.raises(RegistrationError, match=NESTED):
        registry.register_email(slug="receipt", event="paid", audience="customer", subject="Paid",
                                body=UNCOMPILABLE["99 ifs"][0], name="Receipt")


def test_at_send_it_is_skipped_with_the_reason_and_the_recipient_logged(network, worker, smtp_sink, caplog):
    welcome = email("welcome")
    welcome.body = UNCOMPILABLE["99 ifs"][0]  # stored before the limit existed
    db.session.commit()
    with caplog.at_level(logging.WARNING):
        register_customer("deep@example.com", "Dee Nested")
        db.session.commit()
    worker.work()
    skipped = sends("welcome")
    assert [(s.status, s.recipient) for s in skipped] == [("skipped", "deep@example.com")]
    assert NESTED in skipped[0].reason and skipped[0].reason.startswith("skipped: ")
    assert any("deep@example.com" in r.getMessage() and NESTED in r.getMessage() for r in caplog.records)


# 10,000 loop steps writing two start tags each: past what the CSS inliner takes (app.mail.inliner).
MANY_ELEMENTS = ('{% for a in "0123456789" %}{% for b in "0123456789" %}{% for c in "0123456789" %}'
                 '{% for d in "0123456789" %}<b></b><i></i>{% endfor %}{% endfor %}{% endfor %}{% endfor %}')
TOO_MANY = "HTML elements; at most"


def test_a_template_rendering_more_elements_than_the_inliner_takes_is_refused_at_save(network, admin_client):
    welcome = email("welcome")
    token = csrf_token(admin_client, "/network/system-emails/")
    answer = admin_client.patch(f"/network/system-emails/emails/{welcome.id}.json",
                                headers={"X-CSRFToken": token}, json={"body": MANY_ELEMENTS})
    assert answer.status_code == 400 and TOO_MANY in answer.get_json()["fields"]["body"]
    preview = admin_client.post(f"/network/system-emails/{welcome.id}/preview",
                                data={"csrf_token": token, "subject": "Hi", "body": MANY_ELEMENTS, "style": "html"})
    assert preview.status_code == 200 and TOO_MANY in preview.get_json()["errors"]["body"]


def test_at_fire_and_at_send_such_content_is_skipped_with_the_reason(network, worker, smtp_sink):
    welcome = email("welcome")
    welcome.body = MANY_ELEMENTS  # stored before the limit existed
    db.session.commit()
    register_customer("many@example.com", "Manny")
    db.session.commit()
    worker.work()
    [skipped] = sends("welcome")
    assert (skipped.status, skipped.recipient) == ("skipped", "many@example.com") and TOO_MANY in skipped.reason
    welcome.body = "<p>Hello</p>"
    db.session.commit()
    register_customer("later@example.com", "Later")  # its send rendered; the body then swapped for a huge one
    db.session.commit()
    send = sends("welcome")[-1]
    send.body = "<b>" * 25_000  # a send row rendered before the limit existed
    db.session.commit()
    worker.work()
    send = sends("welcome")[-1]
    assert (send.status, send.recipient) == ("skipped", "later@example.com")
    assert "25,0" in send.reason and "can be prepared for sending" in send.reason
    assert not [m for m in smtp_sink.messages if b"X-Herald-System-Email: welcome;" in m.data]


@pytest.mark.parametrize("shape", UNCLOSED)
def test_markup_left_open_thousands_of_times_is_answered_in_linear_time(network, admin_client, shape):
    token, cpu = csrf_token(admin_client, "/network/system-emails/"), time.thread_time()
    saved = admin_client.patch(f"/network/system-emails/emails/{email('welcome').id}.json",
                               headers={"X-CSRFToken": token}, json={"body": UNCLOSED[shape], "style": "html"})
    assert saved.status_code in (200, 400) and time.thread_time() - cpu < 2.0, (saved.status_code, time.thread_time() - cpu)
