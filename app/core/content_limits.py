"""Linear pre-checks that bound HTML and template content before any costly processing."""
import re
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
# The sanitiser (html5lib) spends time per "<" (a tag or a character of text) and reads attributes
# on end tags quadratically: "</a b0 b1 … b29999" took 28 s. Text writes "<" as &lt;, and an end
# tag is its name.
MAX_ANGLE_BRACKETS = 2 * MAX_HTML_ELEMENTS + 1_000
MAX_AMPERSANDS = MAX_HTML_PIECES + 1_000  # "&" * 199,999 cost 1.5 s; "&𝒳" grew sixfold when sanitised
MAX_END_TAG = 100
_LONG_END_TAG = re.compile("</[^>]{%d}" % MAX_END_TAG)
VOID_ELEMENTS = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
                           "param", "source", "track", "wbr"})
# Elements an HTML parser closes by itself when the next one of the same kind opens (<li>, <p>, <td>).
SELF_CLOSING_SIBLINGS = frozenset({"p", "li", "dt", "dd", "tr", "td", "th", "option", "thead",
                                   "tbody", "tfoot"})
# What an element may be closed across without undercounting: text-level elements, which HTML
# closes or reopens around a block, and elements whose end tag may be left out. A start tag closes
# its open sibling, and an end tag its element, only across these: <li> inside a nested <ul>, or
# </font> across a <div>, leave the depth as deep as a browser builds it (HTML Standard 13.2.6).
PHRASING = frozenset({"a", "abbr", "b", "bdi", "bdo", "big", "cite", "code", "dfn", "em", "font", "i",
                      "kbd", "label", "mark", "nobr", "q", "s", "samp", "small", "span", "strike",
                      "strong", "sub", "sup", "tt", "u", "var"})
CLOSABLE_ACROSS = PHRASING | SELF_CLOSING_SIBLINGS | {"optgroup", "colgroup", "caption", "rb", "rt", "rp"}
MARKERS = frozenset({"td", "th", "caption", "applet", "object", "marquee", "template"})


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
        self.keys = []  # beside ``open``: each open element's tag and attributes
        self.active = []  # keys of text-level elements a block's end closed, which HTML reopens;
        # None marks a cell, caption or object: what is before it is not reopened inside it

    def _element(self, tag: str, key, attributes: int = 0, pieces: int = 0) -> None:
        self.elements += 1
        if self.elements > MAX_HTML_ELEMENTS:
            self._over(f"holds more than {MAX_HTML_ELEMENTS:,} HTML elements (as a browser builds them: "
                       "text-level elements left open are opened again in every block that follows)")
        self._count(1 + attributes + pieces)
        self.open.append(tag)
        self.keys.append(key)
        if len(self.open) > MAX_HTML_DEPTH:
            self._over(f"nests HTML elements more than {MAX_HTML_DEPTH} deep")

    def _reopen(self) -> None:
        """HTML's "reconstruct the active formatting elements" (HTML Standard 13.2.4.3): text or a
        text-level element after a block that closed open <b>, <i> … opens each of them again, so
        a few characters can stand for thousands of elements; each reopened one counts."""
        start = len(self.active) - self.active[::-1].index(None) if None in self.active else 0
        reopened = self.active[start:]
        del self.active[start:]
        for key in reopened:
            self._element(key[0], key)

    def _remember(self, key) -> None:
        """Add to the active list; at most three equal ones after the last marker (the "Noah's
        Ark" clause of HTML Standard 13.2.4.3)."""
        start = len(self.active) - self.active[::-1].index(None) if None in self.active else 0
        equal = [i for i in range(start, len(self.active)) if self.active[i] == key]
        if len(equal) >= 3:
            del self.active[equal[0]]
        self.active.append(key)

    def _over(self, what: str):
        line, column = self.getpos()
        raise _OverLimit(f"{what} (line {line}, column {column + 1})")

    def _count(self, pieces: int = 1):
        self.pieces += pieces
        if self.pieces > MAX_HTML_PIECES:
            self._over(f"holds more than {MAX_HTML_PIECES:,} HTML elements, attributes, entities, "
                       "comments and style declarations")

    def handle_starttag(self, tag, attrs):
        if len(attrs) > MAX_ATTRIBUTES:
            self._over(f"gives a <{tag[:20]}> element more than {MAX_ATTRIBUTES} attributes")
        if tag in SELF_CLOSING_SIBLINGS:
            self._close(tag, PHRASING)
        if tag in PHRASING or tag in VOID_ELEMENTS:  # a block does not reopen them; its text does
            self._reopen()
        styles = sum((value or "").count(";") for name, value in attrs if name == "style")
        self._element(tag, (tag, tuple(attrs)), len(attrs), styles)
        if tag in VOID_ELEMENTS:
            self.open.pop()
            self.keys.pop()
        elif tag in MARKERS:
            self.active.append(None)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        self.handle_endtag(tag)

    def handle_endtag(self, tag):
        closed = [i for i, key in enumerate(self.active) if key is not None and key[0] == tag]
        if closed:  # </b> for a <b> a block closed: it is not reopened any more
            del self.active[closed[-1]]
        self._close(tag, CLOSABLE_ACROSS)

    def handle_data(self, data):
        if self.active and not data.isspace():
            self._reopen()

    def _close(self, tag: str, across: frozenset) -> None:
        """Close the innermost open ``tag`` when only elements of ``across`` are open inside it;
        the text-level ones closed with it are reopened by what follows (``_reopen``)."""
        if tag in self.open:
            index = len(self.open) - 1 - self.open[::-1].index(tag)
            if all(inner in across for inner in self.open[index + 1:]):
                if tag in MARKERS and None in self.active:  # a cell's own formatting ends with it
                    del self.active[len(self.active) - 1 - self.active[::-1].index(None):]
                else:
                    for inner, key in zip(self.open[index + 1:], self.keys[index + 1:]):
                        if inner in PHRASING:
                            self._remember(key)
                del self.open[index:], self.keys[index:]

    def handle_entityref(self, name):
        self._count()

    def handle_charref(self, name):
        self._count()

    def handle_comment(self, data):
        self._count()


def html_problem(text: str, label: str = "The message") -> str | None:
    """Why ``text`` is too deep or too large as HTML (with the line and column), or None.
    Three counts (``<`` and ``&`` characters, end tags' length), then one pass of ``html.parser``; each tag
    costs at most ``MAX_HTML_DEPTH`` steps."""
    text = text or ""
    angles = text.count("<")
    if angles > MAX_ANGLE_BRACKETS:
        return (f"{label} holds {angles:,} '<' characters; at most {MAX_ANGLE_BRACKETS:,} (the tags of "
                f"{MAX_HTML_ELEMENTS:,} elements and more): write a '<' in text as &lt;. See docs/api.md.")
    ampersands = text.count("&")
    if ampersands > MAX_AMPERSANDS:
        return (f"{label} holds {ampersands:,} '&' characters; at most {MAX_AMPERSANDS:,} (each is a "
                "character reference, or is written out as &amp; when sanitised). See docs/api.md.")
    long_end = _LONG_END_TAG.search(text)
    if long_end:
        line = text.count("\n", 0, long_end.start()) + 1
        return (f"{label} has an end tag longer than {MAX_END_TAG} characters (line {line}): an end tag is "
                "</name>, without attributes; see docs/api.md.")
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
