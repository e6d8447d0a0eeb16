"""Where placeholders may stand in HTML, found by parsing the HTML (html.parser), not by patterns.

A customer controls values such as their name, so a filled value must never decide where a link
leads nor reach CSS or scripts. In an HTML template:

- an address attribute (``href``, ``src``, ``action``, ``formaction``, ``background``,
  ``poster``) may begin with a URL placeholder (``…_url``, ``is_url_placeholder``); any other
  placeholder only after the address's scheme and host are fixed (``https://shop.example/…?who=
  {{ customer_email }}``, ``mailto:{{ customer_email }}``, or a relative ``/page…``): a value
  after ``java`` could complete ``javascript:`` (RFC 3986 section 3.1; tabs and line breaks, which
  browsers drop, do not count), one after ``https:``, ``/`` or ``https://shop.example`` could
  start with ``//``, ``@`` or ``.evil.example`` and send the link to another host (section 3.2);
- no placeholder in a ``style`` attribute, an ``on…`` handler, or inside ``<style>``/``<script>``;
- placeholders stand in text and attribute values, never in a tag or attribute name;
- Jinja blocks are not allowed inside address attributes;
- ``{{`` or ``{%`` spelled with character references (``&#123;&#123;``) is refused: whoever reads
  the HTML sees a placeholder that Herald never fills (and a sanitiser could make it one).

Attribute values are read as browsers read them (quoted either way, unquoted, across lines,
character references decoded). The placeholders are hidden as plain words first
(``app.mail.masking``), so their quotes never confuse the parser.
"""
import re
from html import unescape
from html.parser import HTMLParser

from ..core.content_limits import feed_whole
from .masking import Mask
from .placeholders import Block, Placeholder, PlaceholderError, is_url_placeholder

URL_ATTRIBUTES = frozenset({"href", "src", "action", "formaction", "background", "poster", "cite", "longdesc",
                            "usemap", "data", "codebase", "archive", "manifest", "icon", "lowsrc",
                            "dynsrc", "xlink:href"})
# Attributes that hold several addresses, and elements whose attributes load or redirect
# (<meta http-equiv="refresh" content="0;url=…">): no placeholder at all.
LIST_URL_ATTRIBUTES = frozenset({"srcset", "imagesrcset", "ping"})
NO_PLACEHOLDER_TAGS = frozenset({"meta", "base", "link"})
RAW_TEXT_TAGS = frozenset({"style", "script"})
_SCHEME_ONLY_RE = re.compile(r"[A-Za-z0-9+.\-]*")
_DROPPED_IN_URLS_RE = re.compile(r"[\t\n\r]")
_ENCODED_OPENER_RE = re.compile(r"\{[{%]")
# Browsers read "\" as "/" in http(s) addresses (WHATWG URL Standard, special schemes).
_HIERARCHICAL = ("http", "https", "ftp", "ws", "wss", "file")
_AUTHORITY_DONE_RE = re.compile(r"//[^/?#]*[/?#]")


def _host_fixed(before: str) -> bool:
    """True when the address text ``before`` a placeholder already fixes the host (RFC 3986
    section 3.2: the authority ends at the first "/", "?" or "#" after "//"): a scheme without an
    authority (``mailto:``), a host followed by one of those, a path with a first segment
    (``/page``), a query or a fragment. False for ``https:``, ``//``, ``https://shop.example``
    and ``/``, where a value starting with "//", "@" or ":" would make or change the host."""
    before = before.replace("\\", "/")
    scheme = re.match(r"[A-Za-z][A-Za-z0-9+.\-]*:", before)
    if scheme:
        rest = before[scheme.end():]
        if scheme.group()[:-1].lower() not in _HIERARCHICAL and not rest.startswith("/"):
            return True  # mailto:, tel:: no host to change
        return bool(_AUTHORITY_DONE_RE.match(rest))
    if before.startswith("//"):
        return bool(_AUTHORITY_DONE_RE.match(before))
    return before != "/"


def check_html(text: str, items: list) -> None:
    """Raise PlaceholderError (with the source's line and column) at the first placeholder of the
    HTML ``text`` that stands where the rules above forbid; ``items`` are ``scan(text)``'s."""
    mask = Mask()
    hidden = mask.hide(text, items)
    _Placement(text, hidden, mask).check()


class _Placement(HTMLParser):
    """One pass over the hidden HTML, failing at the first misplaced placeholder."""

    def __init__(self, source: str, hidden, mask: Mask):
        super().__init__(convert_charrefs=False)
        self.source, self.hidden, self.mask = source, hidden, mask
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", hidden.text)]
        self.raw_text_tag = None
        self.pieces = []  # (decoded text, hidden offset, is raw data) of the text since the last tag

    def check(self) -> None:
        """Parse everything; raises PlaceholderError."""
        feed_whole(self, self.hidden.text)
        self._flush()

    def _here(self) -> int:
        line, column = self.getpos()
        return self.line_starts[line - 1] + column

    def _fail(self, where, message: str):
        offset = where.start if isinstance(where, (Placeholder, Block)) else self.hidden.source_offset(where)
        raise PlaceholderError(self.source, offset, message)

    def handle_starttag(self, tag, attrs):
        """Check the tag's name, its attributes' names and values."""
        self._flush()
        start, tag_text = self._here(), self.get_starttag_text() or ""
        for _, _, item in self.mask.words(tag):
            self._fail(item, "placeholders stand in text and attribute values, not in a tag name")
        for name, value in attrs:
            for _, _, item in self.mask.words(name):
                self._fail(item, "placeholders stand in text and attribute values, not in an attribute name")
            if value is not None:
                self._check_value(tag, name, value, start + _attribute_offset(tag_text, name))
        if tag in RAW_TEXT_TAGS:
            self.raw_text_tag = tag

    def _check_value(self, tag: str, name: str, value: str, offset: int) -> None:
        if _ENCODED_OPENER_RE.search(value):
            self._fail(offset, f"the {name} attribute spells {{{{ or {{% with character references "
                               "(&#123;): write placeholders with plain braces")
        words = self.mask.words(value)
        if tag in NO_PLACEHOLDER_TAGS or name in LIST_URL_ATTRIBUTES:
            for _, _, item in words:
                if isinstance(item, (Placeholder, Block)):
                    self._fail(item, f"placeholders cannot be used in <{tag}> {name}: a value could choose "
                                     "an address or redirect the reader")
        if name == "style" or name.startswith("on"):
            for _, _, item in words:
                if isinstance(item, Placeholder):
                    what = "style attributes" if name == "style" else f"event handlers ({name})"
                    self._fail(item, f"placeholders cannot be used in {what}: a value could run "
                                     "code or load remote content")
        if name not in URL_ATTRIBUTES:
            return
        url_end = None  # where a URL placeholder that begins the address ends
        for start, end, item in words:
            if isinstance(item, Block):
                self._fail(item, f"blocks ({{% … %}}) cannot be used inside {name}")
            if is_url_placeholder(item.name):
                if url_end is None and not value[:start].strip():
                    url_end = end  # a whole address, scheme and host (no path: site_url has none)
                continue
            if url_end is not None:  # after {{ site_url }}: as after https://host
                before = "https://url-placeholder.invalid" + _DROPPED_IN_URLS_RE.sub("", value[url_end:start])
            else:
                before = _DROPPED_IN_URLS_RE.sub("", value[:start]).lstrip("\x00\x01\x02\x03\x04\x05\x06"
                                                                              "\x07\x08\x0b\x0c\x0e\x0f ")
            if _SCHEME_ONLY_RE.fullmatch(before):
                self._fail(item, f"{{{{ {item.name} }}}} cannot begin the address in {name} (<{tag}>): "
                                 "only URL placeholders such as {{ site_url }} can; put it after a "
                                 "fixed https://… or mailto:")
            if not _host_fixed(before):
                self._fail(item, f"{{{{ {item.name} }}}} stands where a value could change the host of the "
                                 f"address in {name} (<{tag}>): put it after the host and a / ? or # "
                                 "(https://shop.example/…, /page?who=…), never right after https:, // or /")

    def handle_endtag(self, tag):
        """Text ends at a tag; ``</style>`` and ``</script>`` end their raw text."""
        self._flush()
        if tag == self.raw_text_tag:
            self.raw_text_tag = None

    def handle_data(self, data):
        """Text: inside <style> or <script> no placeholder; elsewhere kept for the reference check."""
        if self.raw_text_tag is not None:
            for _, _, item in self.mask.words(data):
                if isinstance(item, Placeholder):
                    self._fail(item, f"placeholders cannot be used inside <{self.raw_text_tag}>")
            return
        self.pieces.append((data, self._here(), True))

    def handle_charref(self, name):
        """A character reference in text, decoded."""
        self.pieces.append((unescape(f"&#{name};"), self._here(), False))

    def handle_entityref(self, name):
        """A named reference in text, decoded."""
        self.pieces.append((unescape(f"&{name};"), self._here(), False))

    def handle_comment(self, data):
        """Comments end text."""
        self._flush()

    def _flush(self) -> None:
        found = _ENCODED_OPENER_RE.search("".join(piece for piece, _, _ in self.pieces))
        at = 0
        for piece, offset, raw in self.pieces if found else ():
            if at + len(piece) > found.start():
                self._fail(offset + (found.start() - at if raw else 0),
                           "{{ or {% spelled with character references (&#123;) is not allowed: "
                           "write placeholders with plain braces")
            at += len(piece)
        self.pieces = []


def _attribute_offset(tag_text: str, name: str) -> int:
    """Where attribute ``name`` starts in the start tag's text (0 when it cannot be found)."""
    found = re.search(r"[\s\"'/]" + re.escape(name) + r"\s*(?:=|[\s/>]|$)", tag_text, re.I)
    return found.start() + 1 if found else 0
