"""The one text-part converter: the plain-text alternative of every HTML e-mail (html2text).

Links read ``text <URL>`` (RFC 3986 appendix C: angle brackets delimit an address in plain text),
or ``<URL>`` alone when the link's text is its address, with the URL byte for byte as the link's
decoded href: html2text never sees the addresses (each becomes a word of the mask, put back after
the conversion), so it cannot escape them as Markdown (``\\[``, ``\\(``) nor wrap them.
Placeholders in addresses stay placeholders (they are words of the same mask).
"""
import re
from html.parser import HTMLParser

import html2text

from .masking import Mask


def html_to_text(source: str, mask: Mask | None = None) -> str:
    """The plain-text alternative of an HTML document (links as above, images dropped). With a
    ``mask``, ``source`` may hold its words, and the result holds them too (addresses included);
    without one, the result is plain text."""
    own = mask is None
    mask = Mask() if own else mask
    converter = html2text.HTML2Text()
    converter.body_width = 78
    converter.ignore_images = True
    converter.ignore_links = True
    converter.unicode_snob = True
    text = converter.handle(_links_spelled_out(source, mask)).strip() + "\n"
    return mask.restore(text) if own else mask.restore_literals(text)


class _Links(HTMLParser):
    """Finds each link: where its start tag ends, where ``</a>`` begins, its href and text."""

    def __init__(self, source: str):
        super().__init__(convert_charrefs=True)
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", source)]
        self.links, self.open = [], None  # [(content start, content end, href, text)]

    def _here(self) -> int:
        line, column = self.getpos()
        return self.line_starts[line - 1] + column

    def handle_starttag(self, tag, attrs):
        """An ``<a href>`` starts a link (an unclosed one ends where the next begins)."""
        if tag != "a":
            return
        self._close(self._here())
        href = dict(attrs).get("href")
        if href and not href.startswith("#"):
            self.open = [self._here() + len(self.get_starttag_text()), href, []]

    def handle_endtag(self, tag):
        """``</a>`` ends the open link."""
        if tag == "a":
            self._close(self._here())

    def handle_data(self, data):
        """Text inside a link."""
        if self.open is not None:
            self.open[2].append(data)

    def _close(self, end: int) -> None:
        if self.open is not None:
            start, href, text = self.open
            self.links.append((start, end, href, "".join(text)))
            self.open = None


def _links_spelled_out(source: str, mask: Mask) -> str:
    """``source`` with each link's address written after its text as ``<word>``, or in place of
    a text that is the address itself."""
    finder = _Links(source)
    finder.feed(source)
    finder.close()
    finder._close(len(source))
    out, position = [], 0
    for start, end, href, text in finder.links:
        word = mask.word(href)
        out.append(source[position:start])
        if " ".join(text.split()) in ("", href.strip()):
            out.append(f"&lt;{word}&gt;")
        else:
            out.append(f"{source[start:end]} &lt;{word}&gt;")
        position = end
    out.append(source[position:])
    return "".join(out)
