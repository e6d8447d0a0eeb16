"""Where placeholders may stand in HTML, read by parsing the HTML: tricky markup for each rule."""
import pytest

from app.mail.placeholders import PlaceholderError, scan
from app.mail.placement import check_html


def problem(html: str) -> str | None:
    try:
        check_html(html, scan(html, blocks=True))
    except PlaceholderError as error:
        return str(error)
    return None


@pytest.mark.parametrize("html, where", [
    ('<a href="{{ customer_name }}">x</a>', "Line 1, column 10"),
    ("<a href='{{ customer_name }}'>x</a>", "Line 1, column 10"),  # single quotes
    ("<a href={{ customer_name }}>x</a>", "Line 1, column 9"),  # unquoted, a space inside
    ('<a\n   class="button"\n   href\n   =\n   "  {{ customer_email }}"\n>x</a>', "Line 5, column 7"),
    ('<IMG SRC="{{ customer_name | default("x") }}">', "Line 1, column 11"),
    ('<a href="java{{ customer_name }}">x</a>', "Line 1, column 14"),  # a value could finish the scheme
    ('<a href="ja\tva\nscr{{ customer_name }}">x</a>', "Line 2, column 4"),  # browsers drop tab and LF
    ('<a href="&#106;ava{{ customer_name }}">x</a>', "Line 1, column 19"),  # references are decoded
    ('<form action="{{ customer_name }}"></form>', "Line 1, column 15"),
    ('<table background="{{ customer_name }}"></table>', "Line 1, column 20"),
])
def test_only_url_placeholders_may_begin_an_address(html, where):
    message = problem(html)
    assert message is not None and message.startswith(where), message
    assert "cannot begin the address" in message and "only URL placeholders" in message


@pytest.mark.parametrize("html, where", [
    ('<a href="/{{ customer_name }}">x</a>', "Line 1, column 11"),  # "//evil.example": another host
    ('<a href="https:{{ customer_name }}">x</a>', "Line 1, column 16"),  # "//evil.example"
    ('<a href="https://shop.example{{ customer_name }}">x</a>', "Line 1, column 30"),  # "@evil.example"
    ('<a href="https://{{ customer_name }}/x">x</a>', "Line 1, column 18"),
    ('<a href="//{{ customer_name }}">x</a>', "Line 1, column 12"),
    ('<a href="https://shop.example:{{ customer_name }}/">x</a>', "Line 1, column 31"),  # a port, or "@…"
    ('<a href="/\\{{ customer_name }}">x</a>', "Line 1, column 12"),  # browsers read "\\" as "/"
    ('<img src="HTTP://cdn.example{{ customer_email }}">', "Line 1, column 29"),
    # a URL placeholder is a scheme and a host without a path (site_url, network_url): review 14b
    ('<a href="{{ site_url }}{{ customer_name }}">x</a>', "Line 1, column 24"),
    ('<a href="{{ network_url }}@{{ customer_name }}">x</a>', "Line 1, column 28"),
])
def test_no_placeholder_where_a_value_could_change_the_host(html, where):
    """Seen in review 14: customers named "/evil.example", "//evil.example" and "@evil.example"
    got links to evil.example from these templates."""
    message = problem(html)
    assert message is not None and message.startswith(where), message
    assert "could change the host" in message


@pytest.mark.parametrize("html", [
    '<a href="{{ site_url }}">x</a>',
    '<a href="https://shop.example/{{ customer_name }}">path</a> <a href="HTTPS://shop.example?x={{ customer_name }}">q</a>',
    '<a href="//cdn.example/{{ customer_name }}">x</a> <a href="https://shop.example#{{ customer_name }}">x</a>',
    '<a href="tel:{{ customer_name }}">x</a> <a href="./{{ customer_name }}">x</a>',
    "<a href='{{ unsubscribe_url }}'>x</a>",
    "<a href={{ site_url }}>x</a>",
    '<a href="  {{ site_url }}/shop?who={{ customer_email }}">x</a>',
    '<a href="{{ site_url }}/{{ customer_name }}">x</a> <a href="{{ site_url }}?who={{ customer_name }}">x</a>',
    '<a href="{{ loyalty_url }}">a URL placeholder a plugin declared by its name</a>',
    '<a href="https://shop.example/?who={{ customer_email | default("guest") }}">x</a>',
    "<a href='mailto:{{ customer_email }}'>x</a>",
    '<a\nhref="/account/{{ customer_name }}">relative</a>',
    '<a href="?ref={{ customer_name }}">query</a> <a href="#{{ customer_name }}">anchor</a>',
    '<img alt="{{ customer_name }}" title=\'{{ customer_name | default("a > b") }}\' src="https://x.example/a.png">',
    '<p data-x="{{ customer_name }}">{{ customer_name }} &lt;{{ customer_email }}&gt; {curly} &#123; x</p>',
    "<!-- {{ customer_name }} --><p>ok</p>",
])
def test_placeholders_after_a_fixed_scheme_or_in_text_are_fine(html):
    assert problem(html) is None


@pytest.mark.parametrize("html, message", [
    ('<p style="color: {{ customer_name }}">x</p>', "Line 1, column 18: placeholders cannot be used in style"),
    ("<p\n  style='background:url(https://x/{{ customer_name }})'>x</p>", "Line 2, column 35: placeholders cannot"),
    ("<p style=color:{{ customer_name }}>x</p>", "Line 1, column 16: placeholders cannot be used in style"),
    ('<p STYLE="a:b" title="ok">{{ x }}</p><p style="{{ x | default(\'red\') }}">',
     "Line 1, column 48: placeholders cannot be used in style"),
    ('<a onclick="go(\'{{ customer_name }}\')">x</a>', "Line 1, column 17: placeholders cannot be used in event"),
    ("<style>\np { color: {{ customer_name }} }\n</style>", "Line 2, column 12: placeholders cannot be used "
                                                        "inside <style>"),
    ("<script>var n = '{{ customer_name }}';</script>", "Line 1, column 18: placeholders cannot be used inside"),
    ("<p {{ customer_name }}>x</p>", "Line 1, column 4: placeholders stand in text and attribute values, "
                                     "not in an attribute name"),
    ("<{{ customer_name }}>x", "Line 1, column 2: placeholders stand in text and attribute values, not in a tag"),
])
def test_no_placeholder_in_css_scripts_handlers_or_names(html, message):
    assert (problem(html) or "").startswith(message), problem(html)


@pytest.mark.parametrize("html, where", [
    ('<a href="&#123;&#123; customer_name }}">x</a>', "Line 1, column 4: the href attribute spells {{"),
    ("<a\n  title='x'\n  href='&lbrace;&lbrace;customer_name}}'>x</a>", "Line 3, column 3: the href attribute"),
    ('<p style="&#x7b;&#x7B; customer_name }}">x</p>', "Line 1, column 4: the style attribute spells {{"),
    ("<p>Hi &#123;&#123; customer_name }}</p>", "Line 1, column 7: {{ or {% spelled with character"),
    ("<p>Hi {&#123; customer_name }}</p>", "Line 1, column 7: {{ or {% spelled"),
    ("<p>line\nHi &#123;{ customer_name }}</p>", "Line 2, column 4: {{ or {% spelled"),
    ("<p>Hi {&#37; if x %}</p>", "Line 1, column 7: {{ or {% spelled"),
])
def test_braces_spelled_with_character_references_are_refused(html, where):
    assert (problem(html) or "").startswith(where), problem(html)


def test_blocks_cannot_choose_an_address():
    assert problem('<a href="{% if x %}{{ site_url }}{% endif %}">x</a>').startswith(
        "Line 1, column 10: blocks ({% … %}) cannot be used inside href")
    assert problem('<p title="{% if x %}a{% endif %}">{% if y > 1 %}<b>{{ x }}</b>{% endif %}</p>') is None


@pytest.mark.parametrize("html", [
    '<img srcset="{{ customer_name }} 2x">',  # review 14c: system e-mails are not sanitised
    '<a ping="{{ customer_name }}" href="{{ site_url }}">x</a>',
    '<meta http-equiv="refresh" content="0;url={{ customer_name }}">',
    '<blockquote cite="{{ customer_name }}">x</blockquote>',
    '<object data="{{ customer_name }}"></object>',
    '<base href="https://x.example/{{ customer_name }}/">',
])
def test_other_address_attributes_and_redirects_take_no_customer_value(html):
    message = problem(html)
    assert message is not None and ("cannot be used in" in message or "cannot begin the address" in message), message
