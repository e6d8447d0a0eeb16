"""A message's header lines, encoded bodies and the bytes around them filled with one ``bytes %``.

The send loop's join (``MessageTemplate.build``): the literal text of the bodies is
quoted-printable already (``mime.EncodedBody``); per message only the values are encoded, each
once for both parts. Nearly every message's values are printable ASCII with no "=" and nothing
HTML escapes (checked for all of them at once, one ``bytes.translate``): each is then written
as ``mime.fragment`` writes it (itself and a soft line break, RFC 2045 section 6.7, or cut into
lines by ``mime.cut_lines``), the same in both parts. Other values go through ``fragment`` one
by one, HTML-escaped first where the HTML part needs it.
"""
import html
import operator

from .mime import HTML_SPECIAL, SOFT, cut_lines, fragment

HTML_KEY = "\x00html:"  # prefix of the keys of HTML-escaped values
HEAD_KEY = "\x00head"  # the key of the bytes written first (the message's personal header lines)
LINE = 75  # characters of an encoded line before its soft break (76 with the "=")
# Printable ASCII (RFC 2045 section 6.7, rule 2) but "=" and what HTML escapes: left as it is
_PLAIN = bytes(code for code in range(0x20, 0x7F) if chr(code) not in "=&<>\"'")


def _getter(keys: list):
    """``operator.itemgetter(*keys)``, returning a tuple for a single key too."""
    if len(keys) == 1:
        key = keys[0]
        return lambda items: (items[key],)
    return operator.itemgetter(*keys)


class BodyFormat:
    """Several ``formattable`` EncodedBodies and the fixed bytes around them, filled at once.

    ``parts`` are bytes (kept as they are) and EncodedBodies, in order. ``fill(values, head)``
    returns ``head`` followed by the same bytes as joining each literal part and each body's
    ``render(values)``, but encodes each value once per message (a value that needs no HTML
    escaping is the same in both parts) and joins the whole with one ``bytes %`` (C) instead of
    a Python loop over the pieces.
    """

    def __init__(self, parts):
        pieces, keys, names = [b"%s"], [HEAD_KEY], {}
        for part in parts:
            if part.__class__ is bytes:
                pieces.append(part.replace(b"%", b"%%"))
                continue
            prefix = HTML_KEY if part.escape_html else ""
            form, slots = part.format_pieces(prefix)
            pieces.append(form)
            keys += slots
            for key in slots:
                names[key[len(prefix):]] = None
        self.format = b"".join(pieces)
        self.plain = tuple(names)  # the values' names, each once
        self.names = tuple((name, HTML_KEY + name) for name in names)
        self.slots = _getter(keys)
        # For plain values (``fill``): each slot's index in [head, encoded values in ``plain`` order],
        # the same for a value's slot in either part
        position = {name: index + 1 for index, name in enumerate(self.plain)}
        self.same = _getter([0] + [position[key.removeprefix(HTML_KEY)] for key in keys[1:]])

    def fill(self, values: dict, head: bytes = b"") -> bytes:
        """``head`` and the parts joined, every value encoded as ``EncodedBody.render`` does."""
        raw = tuple(map(values.get, self.plain))
        try:
            joined = "".join(raw)
        except TypeError:  # a value that is None or not a str
            return self._fill(values, head)
        if not joined.isascii() or joined.encode("ascii").translate(None, _PLAIN):
            return self._fill(values, head)
        encoded, long = [head], {}  # long: values cut into lines, often the same link twice
        for value in raw:  # as ``fragment`` writes it: itself, or cut into lines
            if not value:
                encoded.append(b"")
            elif len(value) <= LINE and value[0] != ".":
                encoded.append(value.encode("ascii") + SOFT)
            else:
                encoded.append(long.get(value) or long.setdefault(value, cut_lines(value)))
        return self.format % self.same(encoded)

    def _fill(self, values: dict, head: bytes) -> bytes:
        """``fill`` for any values, each through ``mime.fragment``."""
        encoded, long = {HEAD_KEY: head}, {}  # long: values too long for a line, often the same link twice
        for name, html_key in self.names:
            value = values.get(name)
            if value is None:
                encoded[name] = encoded[html_key] = b""
                continue
            if value.__class__ is not str:
                value = str(value)
            if len(value) > LINE:
                plain = encoded[name] = long.get(value) or long.setdefault(value, fragment(value))
            else:
                plain = encoded[name] = fragment(value) if value else b""
            encoded[html_key] = fragment(html.escape(value, quote=True)) \
                if HTML_SPECIAL.search(value) else plain
        return self.format % self.slots(encoded)
