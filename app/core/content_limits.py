"""Linear pre-checks that bound HTML and template content before any costly processing."""
from html.parser import HTMLParser

# Sanitising HTML (bleach/html5lib) costs more than linearly in the nesting depth, and Jinja's
# compiler turns nested blocks into nested Python code, which Python refuses past 20 static blocks
# or 100 indentation levels. These limits are checked first, in one pass over the text, so that
# over-deep or over-large content is refused with a message naming the limit (docs/api.md).
MAX_HTML_DEPTH = 100  # elements open inside one another
MAX_HTML_ELEMENTS = 2_000  # tags in one body
MAX_ATTRIBUTES = 30  # attributes of one element
MAX_HTML_PIECES = 4_000  # elements, attributes, entities, comments and CSS declarations together
MAX_PLACEHOLDERS = 500  # {{ … }} placeholders in one field
MAX_BLOCK_NESTING = 20  # {% … %} blocks open inside one another (system e-mails)
VOID_ELEMENTS = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
                           "param", "source", "track", "wbr"})
# Elements an HTML parser closes by itself when the next one of the same kind opens (<li>, <p>, <td>).
SELF_CLOSING_SIBLINGS = frozenset({"p", "li", "dt", "dd", "tr", "td", "th", "option", "thead",
                                   "tbody", "tfoot"})


# Appended to what html.parser reads: it closes whatever the text leaves open at its end (a start
# or end tag, a comment, a processing instruction, a marked section), as HTML closes or drops them
# at the end of the file (HTML Standard 13.2.5, "EOF in tag", "EOF in comment"). Without it,
# html.parser (CPython before 3.11.13, CVE-2025-6069) rescans to the end of the text from every
# "<" that opens something never closed: "<a" * 99,999 took 53 s, "<p>" + "a<b" * 60,000 30 s.
EOF_SENTINEL = "-->]]>"


def feed_whole(parser: HTMLParser, text: str) -> None:
    """Feed ``text`` to ``parser`` and close it, in time linear in its length whatever it holds
    (``EOF_SENTINEL``: the parser then sees "-->]]>" as text, or as the end of the last construct)."""
    parser.feed(text + EOF_SENTINEL)
    parser.close()


class ContentLimit(ValueError):
    """Content past a limit of this module; the message names the limit."""


class _OverLimit(Exception):
    pass


class _Gauge(HTMLParser):
    """Measures HTML as it is read and stops at the first piece past a limit: how deeply elements
    nest (end tags close up to the matching open element, unknown ones are ignored, as browsers
    do), how many elements, attributes per element, and pieces (elements, attributes, entities,
    comments, CSS declarations) it holds."""

    def __init__(self):
        super().__init__(convert_charrefs=False)
        self.open, self.elements, self.pieces = [], 0, 0

    def _over(self, what: str):
        line, column = self.getpos()
        raise _OverLimit(f"{what} (line {line}, column {column + 1})")

    def _count(self, pieces: int = 1):
        self.pieces += pieces
        if self.pieces > MAX_HTML_PIECES:
            self._over(f"holds more than {MAX_HTML_PIECES:,} HTML elements, attributes, entities, "
                       "comments and style declarations")

    def handle_starttag(self, tag, attrs):
        self.elements += 1
        if self.elements > MAX_HTML_ELEMENTS:
            self._over(f"holds more than {MAX_HTML_ELEMENTS:,} HTML elements")
        if len(attrs) > MAX_ATTRIBUTES:
            self._over(f"gives a <{tag[:20]}> element more than {MAX_ATTRIBUTES} attributes")
        self._count(1 + len(attrs) + sum((value or "").count(";") for name, value in attrs if name == "style"))
        if tag in VOID_ELEMENTS:
            return
        if tag in SELF_CLOSING_SIBLINGS and tag in self.open:
            del self.open[len(self.open) - 1 - self.open[::-1].index(tag):]
        self.open.append(tag)
        if len(self.open) > MAX_HTML_DEPTH:
            self._over(f"nests HTML elements more than {MAX_HTML_DEPTH} deep")

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        self.handle_endtag(tag)

    def handle_endtag(self, tag):
        if tag in self.open:
            del self.open[len(self.open) - 1 - self.open[::-1].index(tag):]

    def handle_entityref(self, name):
        self._count()

    def handle_charref(self, name):
        self._count()

    def handle_comment(self, data):
        self._count()


def html_problem(text: str, label: str = "The message") -> str | None:
    """Why ``text`` is too deep or too large as HTML (with the line and column), or None.
    One pass of ``html.parser``; each tag costs at most ``MAX_HTML_DEPTH`` steps."""
    gauge = _Gauge()
    try:
        feed_whole(gauge, text or "")
    except _OverLimit as over:
        return f"{label} {over.args[0]}; see the limits in docs/api.md."
    return None


def placeholder_count_problem(text: str, label: str = "The message") -> str | None:
    """Why ``text`` holds too many ``{{ … }}`` placeholders, or None (counted without parsing)."""
    count = (text or "").count("{{")
    if count > MAX_PLACEHOLDERS:
        return f"{label} holds {count:,} placeholders; at most {MAX_PLACEHOLDERS:,} are allowed in one field."
    return None


def check_content(text: str, label: str = "The message", html: bool = True) -> None:
    """Raise ContentLimit when ``text`` holds too many placeholders or (``html``) is too deep or
    too large as HTML; to be called before sanitising, parsing placeholders or compiling a template."""
    problem = placeholder_count_problem(text, label) or (html_problem(text, label) if html else None)
    if problem:
        raise ContentLimit(problem)
