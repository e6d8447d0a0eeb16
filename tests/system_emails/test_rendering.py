"""Templates render in a sandbox: escapes and unknown placeholders are refused with a clear error."""
import pytest

from app.system_emails.registry import EventSpec
from app.system_emails.rendering import TemplateProblem, check_template, render, render_subject

EVENT = EventSpec("order_paid", "Order paid", payload_keys={"customer_name": "", "amount": ""},
                  sample={"customer_name": "Jane", "amount": "10"})

ESCAPES = [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ customer_name.__class__ }}",
    "{{ customer_name['__class__'] }}",
    "{{ customer_name|attr('__class__') }}",
    "{% set x = customer_name.__init__ %}{{ x }}",
    "{% if false %}{{ amount.__class__.__base__ }}{% endif %}",
    "{{ customer_name.upper.__self__ }}",
    "{{ customer_name.format.__globals__ }}",
    "{{ 'x' * 100000000 }}",
    "{{ (99 ** 99) ** 99 }}",
    "{% include 'layout.html' %}",
    "{% import 'macros/ui.html' as ui %}",
    "{{ '{0.__class__}'.format(customer_name) }}",
]


@pytest.mark.parametrize("template", ESCAPES)
def test_sandbox_escapes_are_refused(template):
    with pytest.raises(TemplateProblem, match="Refused"):
        check_template(template, EVENT)


@pytest.mark.parametrize("template, unknown", [
    ("Hello {{ customer_nmae }}", "{{ customer_nmae }}"),
    ("{{ config }}", "{{ config }}"),
    ("{{ cycler }}{{ range }}", "{{ cycler }}, {{ range }}"),
    ("{% for x in orders %}{{ x }}{% endfor %}", "{{ orders }}"),
])
def test_unknown_placeholders_are_refused_naming_what_the_event_offers(template, unknown):
    with pytest.raises(TemplateProblem) as problem:
        check_template(template, EVENT)
    assert str(problem.value).startswith(f"Unknown placeholder {unknown}.")
    assert "amount, customer_name, network_name, network_url" in str(problem.value)


def test_syntax_errors_name_the_line():
    with pytest.raises(TemplateProblem, match="line 2"):
        check_template("ok\n{% if amount %}", EVENT)


def test_known_placeholders_and_jinja_logic_are_accepted():
    template = "{% if amount|int > 5 %}Big{% endif %} {{ customer_name|upper }} {{ network_name }}"
    assert check_template(template, EVENT) is None  # no TemplateProblem raised
    values = {"amount": "10", "customer_name": "Jane", "network_name": "Herald"}
    assert render(template, values, "plain") == "Big JANE Herald"
    assert render(template, {**values, "amount": "2"}, "plain") == " JANE Herald"


def test_values_are_escaped_in_html_and_kept_in_plain_text():
    values = {"customer_name": "<b>Tom & Jerry</b>"}
    assert render("<p>{{ customer_name }}</p>", values, "html") == "<p>&lt;b&gt;Tom &amp; Jerry&lt;/b&gt;</p>"
    assert render("{{ customer_name }}", values, "plain") == "<b>Tom & Jerry</b>"


def test_subjects_stay_on_one_line():
    assert render_subject("Hi {{ customer_name }}", {"customer_name": "A\r\nBcc: x@evil.example"}) == \
        "Hi A Bcc: x@evil.example"
