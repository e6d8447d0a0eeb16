"""The one placeholder grammar: what it accepts, every fault with its line, column and what was
expected, the default("…") fallback, and hiding placeholders from HTML tools."""
import pytest

from app.mail.masking import Mask
from app.mail.placeholders import (
    CompiledTemplate,
    Placeholder,
    PlaceholderError,
    check,
    compile_template,
    placeholders_in,
    scan,
)

KNOWN = {"customer_first_name": "", "customer_name": "", "site_url": ""}


@pytest.mark.parametrize("text, names, fallbacks", [
    ("Hello {{ customer_first_name }}", ["customer_first_name"], [None]),
    ("{{customer_name}}{{ site_url}}", ["customer_name", "site_url"], [None, None]),
    ('Hi {{ customer_first_name | default("there") }}!', ["customer_first_name"], ["there"]),
    ("Hi {{customer_first_name|default('you & me')}}", ["customer_first_name"], ["you & me"]),
    ('{{\n  customer_name\n  | default ( "a {{ b }} c" )\n}}', ["customer_name"], ["a {{ b }} c"]),
    ('{{ customer_name | default("") }} and }} alone', ["customer_name"], [""]),
    ("no placeholders { here } at all", [], []),
])
def test_valid_placeholders(text, names, fallbacks):
    found = scan(text)
    assert [p.name for p in found] == names and [p.fallback for p in found] == fallbacks
    assert [text[p.start:p.start + len(p.source)] for p in found] == [p.source for p in found]


@pytest.mark.parametrize("text, message", [
    # the two: an unclosed placeholder and an unknown filter used to go out literally
    ("Hello {{ customer_first_name", "Line 1, column 7: {{ customer_first_name is not closed: expected }}"),
    ("{{ customer_first_name|upper }}", "Line 1, column 24: unknown filter 'upper': the only filter is "
                                        'default("…")'),
    ("{{ }}", "Line 1, column 1: empty placeholder: expected a name between {{ and }}"),
    ("{{ 1st }}", "Line 1, column 4: expected a placeholder name after {{, found '1'"),
    ("{{ customer_name }", "Line 1, column 18: expected }} or | default(\"…\") after customer_name, found '}'"),
    ("{{ customer.name }}", "Line 1, column 12: expected }} or | default(\"…\") after customer, found '.'"),
    ("{{ customer_name or 'x' }}", "Line 1, column 18: expected }} or | default(\"…\") after customer_name, "
                                   "found 'or'"),
    ("a\n  {{ x | default }}", "Line 2, column 18: expected ( after default, found '}'"),
    ("{{ x | default(there) }}", 'Line 1, column 16: expected the fallback text in quotes, e.g. '
                                 'default("there"), found \'there\''),
    ('{{ x | default("there }}', "Line 1, column 25: the fallback text opened at column 16 is not closed"),
    ('{{ x | default("a\\"b") }}', "Line 1, column 18: the fallback text opened at column 16 is not closed"),
    ('{{ x | default("a"  }}', "Line 1, column 21: expected ) after the fallback text, found '}'"),
    ('{{ x | default("a") ! }}', "Line 1, column 21: expected }} to close the placeholder, found '!'"),
    ("{{{ x }}}", "Line 1, column 3: expected a placeholder name after {{, found '{'"),
    ("ok {{ x }}\nthen {% if x %}", "Line 2, column 6: blocks ({% … %}) are not available here"),
])
def test_every_fault_has_its_position_and_what_was_expected(text, message):
    with pytest.raises(PlaceholderError) as error:
        scan(text)
    assert str(error.value).startswith(message)
    assert (error.value.line, error.value.column) == tuple(map(int, message[5:].split(":")[0].split(", column ")))


def test_unknown_names_are_refused_at_their_position():
    with pytest.raises(PlaceholderError, match=r"^Line 2, column 3: unknown placeholder \{\{ nickname \}\}; "
                                               r"known: \{\{ customer_first_name \}\}"):
        check("{{ customer_name }}\n  {{ nickname }}", KNOWN)
    assert [p.name for p in check("{{ site_url }}", KNOWN)] == ["site_url"]


def test_blocks_and_comments_are_items_where_allowed():
    items = scan('{% if a == "%}" %}{{ x }}{% endif %}{# {{ not read }} #}', blocks=True)
    assert [type(item).__name__ for item in items] == ["Block", "Placeholder", "Block", "Block"]
    assert items[0].source == '{% if a == "%}" %}'
    with pytest.raises(PlaceholderError, match="Line 1, column 3: {% is not closed: expected %}"):
        scan("x {% if a", blocks=True)


def test_stored_text_compiles_leniently_what_is_not_valid_stays_text():
    template = compile_template("Hello {{ customer_first_name, {{ customer_name|upper }} {{ site_url }}")
    assert template.render({"site_url": "S", "customer_name": "N"}, False) == \
        "Hello {{ customer_first_name, {{ customer_name|upper }} S"
    assert placeholders_in("{{ a }} {{ b | default('x') }} {{ a }}") == ["a", "b"]


@pytest.mark.parametrize("value", ["", "   ", "\n", None, "missing"])
def test_the_fallback_is_used_for_blank_or_missing_values(value):
    template = compile_template('Hello {{ customer_first_name | default("there") }}, {{ customer_name }}')
    values = {} if value == "missing" else {"customer_first_name": value, "customer_name": ""}
    assert template.render(values, escape_html=False) == "Hello there, "
    assert template.render({"customer_first_name": "Zoë"}, escape_html=False) == "Hello Zoë, "


def test_the_fallback_is_text_escaped_in_html_like_any_value():
    template = compile_template('<p>{{ customer_name | default("Tom & <Jerry>") }}</p>')
    assert template.render({"customer_name": ""}, escape_html=True) == "<p>Tom &amp; &lt;Jerry&gt;</p>"
    assert template.render({"customer_name": ""}, escape_html=False) == "<p>Tom & <Jerry></p>"
    assert template.render({"customer_name": "A&B"}, escape_html=True) == "<p>A&amp;B</p>"


def test_templates_without_fallbacks_keep_the_short_path():
    assert compile_template("Hi {{ a }} {{ b }}").defaults is None
    assert compile_template("Hi {{ a }} {{ b | default('x') }}").defaults == (None, ("x", "x"))
    assert CompiledTemplate.of(["a", Placeholder("n"), "b", "c"]).parts == ("a", "n", "bc")


def test_hidden_placeholders_come_back_unchanged_and_compile_to_the_same_template():
    text = ('<a title="{{ customer_name | default(\'a " b\') }}" href="{{ site_url }}">'
            "{{ customer_name|default('x') }}</a> {{ broken")
    mask = Mask()
    hidden = mask.hide(text)
    assert "{{" not in hidden.text.replace("{{ broken", "") and mask.has_words(hidden.text)
    assert mask.restore(hidden.text) == text
    assert mask.compile(hidden.text) == compile_template(text)
    start = text.index("{{ site_url }}")
    assert hidden.source_offset(hidden.text.index(mask.prefix + "1x")) == start
    assert hidden.source_offset(len(hidden.text) - 1) == len(text) - 1


def test_braces_an_html_tool_produced_are_never_read_as_placeholders():
    mask = Mask()
    hidden = mask.hide("<p>&#123;&#123; customer_name }} {{ customer_name }}</p>").text
    decoded = hidden.replace("&#123;", "{")  # what a parser and serialiser make of it
    assert mask.compile(decoded).render({"customer_name": "Ann"}, True) == "<p>{{ customer_name }} Ann</p>"
