"""Placeholders hidden from HTML tools: each becomes a plain word, and comes back unchanged.

An HTML parser, sanitiser, CSS inliner or text converter would read ``{{ name | default("a & b") }}``
as markup (quotes ending an attribute, ``&`` as an entity); as a word like ``xh0c1d2e3fp4x`` it is
kept as it is. Every tool that handles HTML holding placeholders works on hidden text: the
sanitiser of broadcasts, the checks of where placeholders stand, the message builder, tracking.
Words are made from a random prefix (so typed text cannot collide) of one fixed length (so
line wrapping does not depend on the prefix).
"""
import re
import secrets

from .placeholders import Block, CompiledTemplate, Placeholder, placeholders


class Hidden:
    """A text with its items hidden: ``text``, and the map back to offsets in the source."""

    def __init__(self, text: str, spans: list):
        self.text, self._spans = text, spans  # [(hidden start, hidden end, source start, source end)]

    def source_offset(self, offset: int) -> int:
        """The offset in the source text of character ``offset`` of the hidden text (a word's
        characters map to the start of what it hides)."""
        shift = 0
        for start, end, source_start, source_end in self._spans:
            if offset < start:
                break
            if offset < end:
                return source_start
            shift = source_end - end
        return offset + shift


class Mask:
    """Words standing for placeholders (filled later) and literal texts (restored verbatim)."""

    def __init__(self):
        self.prefix = f"xh{secrets.token_hex(4)}p"
        self.items = []  # a Placeholder, a Block, or a str (a literal text, e.g. a link's address)
        self._word_re = re.compile(re.escape(self.prefix) + r"(\d+)x")

    def word(self, item) -> str:
        """The word of ``item`` (a Placeholder, a Block, or a literal str), added now."""
        self.items.append(item)
        return f"{self.prefix}{len(self.items) - 1}x"

    def hide(self, text: str, items=None) -> Hidden:
        """``text`` with ``items`` (default: its valid placeholders, read leniently; Blocks too)
        replaced by words. ``items`` must be in order, each with its ``start``."""
        text = text or ""
        out, spans, length, position = [], [], 0, 0
        for item in placeholders(text) if items is None else items:
            word = self.word(item)
            length += item.start - position
            out += [text[position:item.start], word]
            position = item.start + len(item.source)
            spans.append((length, length + len(word), item.start, position))
            length += len(word)
        out.append(text[position:])
        return Hidden("".join(out), spans)

    def has_words(self, text: str) -> bool:
        """True when ``text`` holds a word of this mask."""
        return self._word_re.search(text) is not None

    def words(self, text: str) -> list:
        """(start, end, item) of every word in ``text``."""
        return [(m.start(), m.end(), self.items[int(m.group(1))]) for m in self._word_re.finditer(text)]

    def restore_literals(self, text: str) -> str:
        """``text`` with the words of literal texts and Blocks put back (placeholders stay words)."""
        def literal(match):
            item = self.items[int(match.group(1))]
            if isinstance(item, Placeholder):
                return match.group(0)
            return item.source if isinstance(item, Block) else self.restore_literals(item)
        return self._word_re.sub(literal, text)

    def restore(self, text: str) -> str:
        """``text`` with every word replaced by the source it stands for."""
        def source(match):
            item = self.items[int(match.group(1))]
            return self.restore(item) if isinstance(item, str) else item.source
        return self._word_re.sub(source, text)

    def compile(self, text: str) -> CompiledTemplate:
        """``text`` as a template whose placeholders are exactly its placeholder words: nothing
        else in it (e.g. braces an HTML tool decoded) is read as a placeholder."""
        text, pieces, position = self.restore_literals(text), [], 0
        for match in self._word_re.finditer(text):
            pieces += [text[position:match.start()], self.items[int(match.group(1))]]
            position = match.end()
        pieces.append(text[position:])
        return CompiledTemplate.of(pieces)
