"""MIME pieces of broadcast e-mails: header values, quoted-printable bodies encoded ahead of time.

Quoted-printable (RFC 2045 section 6.7) allows a soft line break (``=`` CRLF) anywhere, so a body
template's literal text is encoded once per chunk, each piece that a placeholder interrupts ended
by a soft break; per message only the values are encoded, each followed by a soft break. The
result decodes to the filled body and keeps every line within 76 characters.

No encoded line starts with a dot, so SMTP has nothing to dot-stuff (RFC 5321 section 4.5.2):
a message built entirely of such pieces and of header lines is marked ``DotFree``.
"""
import binascii
import html
import re
from email.charset import Charset
from email.header import Header
from email.utils import quote
from functools import lru_cache

from .addresses import is_plain, wire_address
from .placeholders import CompiledTemplate, Placeholder, compile_template, is_blank

_UTF8 = Charset("utf-8")
_SPECIALS_RE = re.compile(r'[][\\()<>@,:;".]')  # email.utils.specialsre: names to quote


def _lf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def qp(text: str) -> bytes:
    """Quoted-printable body with CRLF line ends (binascii picks CRLF from the first line end)."""
    data = _lf(text).replace("\n", "\r\n")
    if not data.endswith("\r\n"):
        data += "\r\n"
    return binascii.b2a_qp(data.encode("utf-8"), istext=True)


@lru_cache(maxsize=4096)  # 15-30 µs each; a run repeats its first names and subjects
def _encoded_words(text: str) -> str:
    """``text`` as RFC 2047 encoded-words, folded (CRLF and a space) into lines of at most 78."""
    return Header(text, "utf-8").encode(linesep="\r\n")


def _needs_words(text: str, longest: int) -> bool:
    """True when ``text`` must be written as encoded-words: not ASCII, looks like one already (RFC
    2047 section 5: else a mail program would decode it), or too long to stay within a header
    line's 998 characters unfolded (RFC 5322 section 2.1.1)."""
    return not text.isascii() or "=?" in text or len(text) > longest


def header_text(value: str) -> str:
    """A header value on one line (no CR/LF injection), RFC 2047-encoded (and folded) when not
    ASCII, when it holds ``=?`` or when longer than 900 characters."""
    value = " ".join(str(value).split())
    return _encoded_words(value) if _needs_words(value, 900) else value


@lru_cache(maxsize=4096)
def _encoded_word(name: str) -> str:
    return _UTF8.header_encode(name)


def address(name: str, email: str) -> str:
    """``"Name" <email>`` for a To/From/Reply-To header (RFC 5322 section 3.4): the name on one
    line, RFC 2047-encoded (folded when long) when not ASCII, long or holding ``=?``, quoted when it
    holds specials; the address as
    ``addresses.wire_address`` writes it (an IDN domain as A-labels; a non-ASCII local part in
    UTF-8, RFC 6532). Raises AddressError when ``email`` is not an address."""
    name = " ".join(name.split()) if name else ""
    email = email if is_plain(email) else wire_address(email).header  # plain: as it is
    if not name:
        return email
    if not _needs_words(name, 200):
        return f"{name} <{email}>" if not _SPECIALS_RE.search(name) else f'"{quote(name)}" <{email}>'
    if len(name) <= 20 and "=?" not in name:  # one encoded-word (within 75), as formataddr writes it
        return f"{_encoded_word(name)} <{email}>"
    return f"{_encoded_words(name)}\r\n <{email}>"


SOFT = b"=\r\n"  # a soft line break (RFC 2045 section 6.7, rule 5)
_LEADING_DOT_RE = re.compile(rb"(?m)^\.{1,72}")
HTML_SPECIAL = re.compile(r"[&<>\"']")


def fragment(text: str) -> bytes:
    """``text`` quoted-printable encoded as a piece of a line, ended by a soft line break, so
    that what follows starts a new encoded line (every line at most 76 characters, rule 5)."""
    if text.isascii() and text.isprintable():  # nearly every value: only "=" to encode (rule 2)
        escaped = text.replace("=", "=3D") if "=" in text else text
        if len(escaped) <= 75 and escaped[:1] != ".":
            return escaped.encode("ascii") + SOFT
        return cut_lines(escaped)
    text = _lf(text)
    encoded = binascii.b2a_qp(text.replace("\n", "\r\n").encode("utf-8"), istext=True)
    if "\n" not in text:  # binascii ends its soft breaks as the text's first line end, else LF
        encoded = encoded.replace(b"\n", b"\r\n")
    head, end, last = encoded.rpartition(b"\n")
    if len(last) > 75:  # the "=" of the soft break must fit: cut before, not inside, an =XX
        cut = 73 if b"=" not in last[71:73] else last.rindex(b"=", 71, 73)
        last = last[:cut] + SOFT + last[cut:]
    return _undotted(head + end + last + SOFT)


class DotFree(bytes):
    """The bytes of a message in which no line starts with ".": sent as they are, without the
    transport's dot-stuffing scan (RFC 5321 section 4.5.2). Only the builder makes them."""

    __slots__ = ()


def cut_lines(text: str) -> bytes:
    """Printable ASCII ``text`` already quoted-printable (only "=3D" escapes) cut into lines of
    at most 75 characters and a soft break each, never inside an escape; a dot that would start
    a line is written ``=2E`` (rule 1), so that no line starts with one."""
    if "=" not in text and "." not in text[::75]:  # text[::75]: the first character of each line
        if len(text) <= 150:  # most links: one or two lines, written without a list
            return (text if len(text) <= 75 else f"{text[:75]}=\r\n{text[75:]}").encode("ascii") + SOFT
        lines = [text[start:start + 75] for start in range(0, len(text), 75)]
    else:
        lines, start, end = [], 0, len(text)
        while start < end:
            dot = "=2E" if text[start] == "." else ""
            start += 1 if dot else 0
            cut = start + 75 - len(dot)
            if cut < end and "=" in text[cut - 2:cut]:
                cut = text.rindex("=", cut - 2, cut)
            lines.append(dot + text[start:cut])
            start = cut
    return "=\r\n".join(lines).encode("ascii") + SOFT


def _undotted(encoded: bytes) -> bytes:
    """``encoded`` with each line's leading "." encoded (rule 1) and the line broken (soft) after
    its leading dots, so that SMTP never has to dot-stuff the message (RFC 5321 section 4.5.2)."""
    if not (encoded.startswith(b".") or b"\n." in encoded):
        return encoded
    return _LEADING_DOT_RE.sub(lambda dots: b"=2E" + dots.group()[1:] + SOFT, encoded)


def _literal_piece(text: str, open_end: bool) -> bytes:
    """Literal ``text`` (LF line ends) encoded; ``open_end``: a value follows on its last line."""
    if not open_end:
        return _undotted(qp(text))
    whole, newline, tail = text.rpartition("\n")
    return _undotted(qp(whole + newline) if newline else b"") + (fragment(tail) if tail else b"")


class EncodedBody:
    """A body template whose literal text is already quoted-printable.

    ``render(values)`` decodes to ``template.render(values, escape_html)`` with CRLF line ends and
    a final line end, ``template`` being the given CompiledTemplate (or text: compiled, or kept
    whole when ``literal``) with LF line ends; each value is encoded on its own (``fragment``).
    """

    def __init__(self, source, escape_html: bool, literal: bool = False):
        if isinstance(source, str):
            source = CompiledTemplate((source,)) if literal else compile_template(source)
        self.template = CompiledTemplate.of(piece if isinstance(piece, Placeholder) else _lf(piece)
                                            for piece in _pieces(source))
        self.escape_html = escape_html
        parts, pieces = self.template.parts, []
        defaults = self.template.defaults or (None,) * (len(parts) // 2)
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            if index % 2:
                fallback = defaults[index >> 1]
                pieces.append((part, None if fallback is None else fallback[1 if escape_html else 0]))
            elif part or last and index == 0:
                pieces.append(_literal_piece(part, not last))
        if len(parts) > 1 and not parts[-1]:
            pieces.append(None)  # the body ends with a value: end its line if it is open
        self.pieces = tuple(pieces)

    @property
    def formattable(self) -> bool:
        """True when ``format_pieces`` can stand for ``render``: no fallback, and the body does
        not end with a value (whose line ``render`` ends only when the value is written)."""
        return all(piece is not None and (piece.__class__ is bytes or piece[1] is None)
                   for piece in self.pieces)

    def format_pieces(self, key_prefix: str = "") -> tuple[bytes, list]:
        """(``bytes %`` format, the key of each ``%s`` in order) of a ``formattable`` body: its
        literal pieces with ``%`` doubled, each value a ``%s`` filled from ``encoded_values``
        (key: ``key_prefix`` + the placeholder's name)."""
        pieces, keys = [], []
        for piece in self.pieces:
            if piece.__class__ is bytes:
                pieces.append(piece.replace(b"%", b"%%"))
            else:
                pieces.append(b"%s")
                keys.append(key_prefix + piece[0])
        return b"".join(pieces), keys

    def render(self, values: dict) -> bytes:
        """The encoded body filled with ``values`` (CRLF line ends, ending with one)."""
        out, escape_html = [], self.escape_html
        for piece in self.pieces:
            if piece.__class__ is bytes:
                out.append(piece)
                continue
            if piece is None:
                if not out or out[-1].endswith(SOFT):
                    out.append(b"\r\n")
                continue
            name, fallback = piece
            value = values.get(name)
            if fallback is not None and is_blank(value):
                out.append(fragment(fallback))
                continue
            if value is None:
                continue
            value = value if value.__class__ is str else str(value)
            if escape_html and HTML_SPECIAL.search(value):
                value = html.escape(value, quote=True)
            if value:
                out.append(fragment(value))
        return b"".join(out)


def _pieces(template: CompiledTemplate) -> list:
    """The literal strings and Placeholders of ``template``, in order."""
    slots = iter(template.slots)
    return [part if index % 2 == 0 else next(slots) for index, part in enumerate(template.parts)]
