"""The e-mail sandbox bounds what a template builds, how long it loops and nests, and its time:
over a bound it is refused at save (naming the limit) and skipped at send (the reason logged)."""
import time

import pytest

from app.core.extensions import db
from app.network.services import register_customer
from app.system_emails.registry import EventSpec
from app.system_emails.rendering import TemplateLimit, check_template, render
from app.system_emails.budget import MAX_DEPTH, MAX_STEPS, MAX_TEXT
from app.testing import csrf_token

from sysemail_helpers import email, sends

EVENT = EventSpec("order_paid", "Order paid", payload_keys={"customer_name": "", "amount": ""},
                  sample={"customer_name": "Jane", "amount": "10"})
BIG = "{% set s = 'x' * 100000 %}"

# Each of these made the web process build ~1 GB or more, loop for hours, or answer 500. The one
# placeholder grammar refuses expressions inside {{ }} (docs/placeholders.md), so each builds its
# value in a {% set %} block, where Jinja's expressions still run in the bounded sandbox.
OVER_THE_LIMITS = {
    "padding method": "{% set r = customer_name.ljust(1000000000) %}{{ r }}",
    "center filter": "{% set r = customer_name|center(1000000000) %}{{ r }}",
    "str.format width": "{% set r = '{:>1000000000}'.format(customer_name) %}{{ r }}",
    "% width": "{% set r = '%1000000000s' % customer_name %}{{ r }}",
    "format filter": "{% set r = '%1000000000s'|format(customer_name) %}{{ r }}",
    "repeat of a repeat": "{% set r = ('x' * 10000) * 10000 %}{{ r }}",
    "~ doubling": "{% set s = 'x' * 1000 %}" + "{% set s = s ~ s %}" * 40 + "{% set r = s|length %}{{ r }}",
    "+ doubling": "{% set s = 'x' * 1000 %}" + "{% set s = s + s %}" * 40,
    "set block doubling": "{% set s = 'x' * 1000 %}" + "{% set s %}{{ s }}{{ s }}{% endset %}" * 40,
    "replace": BIG + "{% set r = s.replace('x', s) %}{{ r }}",
    "replace filter": BIG + "{% set r = s|replace('x', s) %}{{ r }}",
    "join of many": BIG + "{% set r = (s|list)|map('replace', 'x', s)|join %}{{ r }}",
    "indent": "{% set s = '\n' * 100000 %}{% set r = s|indent(100000) %}{{ r }}",
    "batch": "{% set r = [1]|batch(1000000000, 0)|list %}{{ r }}",
    "list printed": "{% set s = 'x' * 1000000 %}{% set r = [s, s, s, s, s, s, s, s, s, s] %}{{ r }}",
    "huge number": "{% set n = 10 ** 100 %}" + "{% set n = n * n %}" * 30 + "{{ n }}",
    "bytes": "{% set r = (1).to_bytes(1000000000, 'big') %}{{ r }}",
    "nested loops": BIG + "{% for a in s %}{% for b in s %}{% endfor %}{% endfor %}",
    "recursive macro": "{% macro f(n) %}{% set r = f(n) %}{{ r }}{% endmacro %}{% set r = f(1) %}{{ r }}",
    "recursive loop": "{% for x in 'ab' recursive %}{% set r = loop('ab') %}{{ r }}{% endfor %}",
    "slow loop": "{% set s = 'x' * 999999 %}{% for c in s %}{% set r = s.count('y') %}{{ r }}{% endfor %}",
}


@pytest.mark.parametrize("template", OVER_THE_LIMITS.values(), ids=OVER_THE_LIMITS.keys())
def test_templates_over_a_bound_are_refused_fast_naming_the_limit(template):
    started = time.monotonic()
    with pytest.raises(TemplateLimit, match=r"^Refused: .*\(a limit of the e-mail sandbox\)\.$"):
        check_template(template, EVENT, "plain")
    assert time.monotonic() - started < 1.5


def test_the_messages_say_which_limit():
    def message(template):
        with pytest.raises(TemplateLimit) as problem:
            render(template, {"customer_name": "Jane"}, "plain")
        return str(problem.value)
    assert f"more than {MAX_TEXT:,} characters" in message(OVER_THE_LIMITS["repeat of a repeat"])
    assert f"more than {MAX_STEPS:,} loop iterations" in message(OVER_THE_LIMITS["nested loops"])
    assert f"nest more than {MAX_DEPTH} deep" in message(OVER_THE_LIMITS["recursive macro"])
    assert "longer than 0.25 s" in message(OVER_THE_LIMITS["slow loop"])


def test_templates_within_the_bounds_still_render():
    template = ("{% macro row(k, v) %}{{ k|title }}: {{ '%-6s'|format(v) }}|{% endmacro %}"
                "{% for k in ['a', 'b'] %}{{ row(k, loop.index) }}{% endfor %} {{ '{:>4}'.format(7) }}"
                " {{ customer_name.center(10, '*') }} {{ ('ab' * 3)|replace('a', 'x') }}")
    assert render(template, {"customer_name": "Jane"}, "plain") == \
        "A: 1     |B: 2     |    7 ***Jane*** xbxbxb"


def test_the_editor_and_the_api_refuse_such_a_template(network, admin_client):
    welcome = email("welcome")
    token = csrf_token(admin_client, "/network/system-emails/")
    answer = admin_client.patch(f"/network/system-emails/emails/{welcome.id}.json", headers={"X-CSRFToken": token},
                                json={"body": "{% set r = customer_name.ljust(1000000000) %}{{ r }}"})
    assert answer.status_code == 400
    assert "larger than 1,000,000" in answer.get_json()["fields"]["body"]
    page = admin_client.post(f"/network/system-emails/{welcome.id}", data={
        "csrf_token": token, "subject": "Hi", "body": OVER_THE_LIMITS["nested loops"], "style": "html",
        "audience": "customer", "delay_value": "0", "delay_unit": "minutes", "action": "save"})
    assert page.status_code == 400 and "loop iterations and calls" in page.get_data(as_text=True)


def test_at_send_a_template_over_a_bound_is_skipped_with_the_reason_logged(network, worker, smtp_sink):
    welcome = email("welcome")
    # Fits with the sample customer (Jane Doe: 8 characters x 100,000), not with a longer name.
    welcome.body = "{{ customer_name * 100000 }}"
    db.session.commit()
    register_customer("long@example.com", "Carol Longname-Customer")
    db.session.commit()
    worker.work()
    skipped = [s for s in sends("welcome")]
    assert [s.status for s in skipped] == ["skipped"]
    assert skipped[0].reason.startswith("skipped: Refused: the template builds a text or list of more than")
    assert smtp_sink.to("long@example.com") and all(  # the event's other e-mails still went
        not m.subject.startswith("Welcome") for m in smtp_sink.to("long@example.com"))
