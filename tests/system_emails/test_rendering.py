"""Templates render in a sandbox: escapes and unknown placeholders are refused with a clear error."""
import pytest

from app.system_emails.registry import EventSpec
from app.system_emails.rendering import TemplateProblem, check_template, render, render_subject

EVENT = EventSpec("order_paid", "Order paid", payload_keys={"customer_name": "", "amount": ""},
                  sample={"customer_name": "Jane", "amount": "10"})

ESCAPES = [  # inside {% %} blocks, where Jinja expressions are allowed: the sandbox refuses them
    "{% if ''.__class__.__mro__[1].__subclasses__() %}x{% endif %}",
    "{% if customer_name.__class__ %}x{% endif %}",
    "{% if customer_name['__class__'] %}x{% endif %}",
    "{% for x in customer_name|attr('__class__') %}{% endfor %}",
    "{% set x = customer_name.__init__ %}{{ x }}",
    "{% if false %}{% set y = amount.__class__.__base__ %}{% endif %}",
    "{% if customer_name.upper.__self__ %}x{% endif %}",
    "{% if customer_name.format.__globals__ %}x{% endif %}",
    "{% set x = 'x' * 100000000 %}{{ x }}",
    "{% set x = (99 ** 99) ** 99 %}{{ x }}",
    "{% include 'layout.html' %}",
    "{% import 'macros/ui.html' as ui %}",
    "{% set x = '{0.__class__}'.format(customer_name) %}{{ x }}",
]
# The same inside {{ }}: the one placeholder grammar refuses them before Jinja reads anything.
GRAMMAR = [
    ("{{ ''.__class__.__mro__[1].__subclasses__() }}", "Line 1, column 4: expected a placeholder name"),
    ("{{ customer_name.__class__ }}", "Line 1, column 17: expected }} or | default"),
    ("{{ customer_name['__class__'] }}", "Line 1, column 17: expected }} or | default"),
    ("{{ customer_name|attr('__class__') }}", "Line 1, column 18: unknown filter 'attr'"),
    ("{{ 'x' * 100000000 }}", "Line 1, column 4: expected a placeholder name"),
    ("ok\n  {{ customer_name|upper }}", "Line 2, column 20: unknown filter 'upper'"),
    ("Hello {{ customer_name", "Line 1, column 7: {{ customer_name is not closed: expected }}"),
    ("{{ amount or 'none' }}", "Line 1, column 11: expected }} or | default(\"…\") after amount, found 'or'"),
    ("{% if amount %}", "Line 1, column 1: Unexpected end of template"),
    ("{% if amount %}\n{% for x in y %}{% endif %}", "Line 2, column 17: Encountered unknown tag 'endif'"),
    ("{% if amount", "Line 1, column 1: {% is not closed: expected %}"),
    ("{# note", "Line 1, column 1: {# is not closed: expected #}"),
]


@pytest.mark.parametrize("template", ESCAPES)
def test_sandbox_escapes_are_refused(template):
    with pytest.raises(TemplateProblem, match="Refused"):
        check_template(template, EVENT)


@pytest.mark.parametrize("template, message", GRAMMAR)
def test_the_one_grammar_is_checked_before_jinja_with_positions(template, message):
    with pytest.raises(TemplateProblem) as problem:
        check_template(template, EVENT)
    assert str(problem.value).startswith(message)


@pytest.mark.parametrize("template, unknown, where", [
    ("Hello {{ customer_nmae }}", "{{ customer_nmae }}", "Line 1, column 7"),
    ("{{ config }}", "{{ config }}", "Line 1, column 1"),
    ("{{ cycler }}{{ range }}", "{{ cycler }}, {{ range }}", "Line 1, column 1"),
    ("x\n{% for x in orders %}{{ x }}{% endfor %}", "{{ orders }}", "Line 2, column 1"),
])
def test_unknown_placeholders_are_refused_naming_what_the_event_offers(template, unknown, where):
    with pytest.raises(TemplateProblem) as problem:
        check_template(template, EVENT)
    assert str(problem.value).startswith(f"{where}: unknown placeholder {unknown}.")
    assert "amount, customer_name, network_name, network_url" in str(problem.value)


def test_syntax_errors_name_the_line_and_column():
    with pytest.raises(TemplateProblem, match="Line 2, column 4: Unexpected end of template"):
        check_template("ok\n   {% if amount %}", EVENT)


def test_known_placeholders_blocks_and_the_default_fallback_are_accepted():
    template = ("{% if amount|int > 5 %}Big{% endif %} {{ customer_name | default('you') }} "
                "{{ network_name }}{# a note #}")
    assert check_template(template, EVENT) is None  # no TemplateProblem raised
    values = {"amount": "10", "customer_name": "Jane", "network_name": "Herald"}
    assert render(template, values, "plain") == "Big Jane Herald"
    assert render(template, {**values, "amount": "2", "customer_name": ""}, "plain") == " you Herald"


def test_the_fallback_applies_to_blank_values_as_in_broadcasts():
    template = 'Hello {{ customer_name | default("there") }}, {{ amount|default(\'0\') }}'
    for name in ("", "   ", None):
        assert render(template, {"customer_name": name, "amount": "5"}, "plain") == "Hello there, 5"
    assert render(template, {"customer_name": "Jo", "amount": ""}, "plain") == "Hello Jo, 0"
    assert render('<p>{{ customer_name | default("A & B") }}</p>', {"customer_name": ""}, "html") == \
        "<p>A &amp; B</p>"


def test_values_are_escaped_in_html_and_kept_in_plain_text():
    values = {"customer_name": "<b>Tom & Jerry</b>"}
    assert render("<p>{{ customer_name }}</p>", values, "html") == "<p>&lt;b&gt;Tom &amp; Jerry&lt;/b&gt;</p>"
    assert render("{{ customer_name }}", values, "plain") == "<b>Tom & Jerry</b>"


def test_subjects_stay_on_one_line():
    assert render_subject("Hi {{ customer_name }}", {"customer_name": "A\r\nBcc: x@evil.example"}) == \
        "Hi A Bcc: x@evil.example"
