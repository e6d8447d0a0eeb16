"""MIME pieces of broadcast e-mails: header values, quoted-printable bodies encoded ahead of time.

Quoted-printable (RFC 2045) encodes each line on its own, so a body template's lines without
placeholders are encoded once per chunk; per message only the lines holding placeholders are
filled and encoded. The result is byte for byte ``qp()`` of the whole filled body.
"""
import binascii
import re
from email.charset import Charset
from email.header import Header
from email.utils import quote

from .addresses import wire_address
from .placeholders import CompiledTemplate, Placeholder, compile_template

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


def header_text(value: str) -> str:
    """A header value on one line (no CR/LF injection), RFC 2047-encoded when not ASCII."""
    value = " ".join(str(value).split())
    return value if value.isascii() else Header(value, "utf-8").encode(linesep="\r\n")


def address(name: str, email: str) -> str:
    """``"Name" <email>`` for a To/From/Reply-To header (RFC 5322 section 3.4): the name on one
    line, RFC 2047-encoded when not ASCII, quoted when it holds specials; the address as
    ``addresses.wire_address`` writes it (an IDN domain as A-labels; a non-ASCII local part in
    UTF-8, RFC 6532). Raises AddressError when ``email`` is not an address."""
    name, email = " ".join((name or "").split()), wire_address(email).header
    if not name:
        return email
    if name.isascii():
        return f"{name} <{email}>" if not _SPECIALS_RE.search(name) else f'"{quote(name)}" <{email}>'
    return f"{_UTF8.header_encode(name)} <{email}>"  # one encoded-word, as formataddr writes it


class EncodedBody:
    """A body template whose fixed lines are already quoted-printable.

    ``render(values)`` equals ``qp(body.template.render(values, escape_html))``, ``template``
    being the given CompiledTemplate (or text: compiled, or kept whole when ``literal``) with LF
    line ends. Lines holding placeholders are filled and encoded per message; consecutive ones
    are one piece.
    """

    def __init__(self, source, escape_html: bool, literal: bool = False):
        if isinstance(source, str):
            source = CompiledTemplate((source,)) if literal else compile_template(source)
        self.template = CompiledTemplate.of(piece if isinstance(piece, Placeholder) else _lf(piece)
                                            for piece in _pieces(source))
        self.escape_html = escape_html
        self.pieces = tuple(self._encode(_pieces(self.template)))

    @staticmethod
    def _encode(pieces):
        fixed, line = "", None  # line: the pieces of the lines holding placeholders, being gathered
        for index, piece in enumerate(pieces):
            if isinstance(piece, Placeholder):
                line.append(piece)
                continue
            slot_follows = index + 1 < len(pieces)
            if line is not None:
                end = piece.find("\n") + 1
                if not end or (slot_follows and "\n" not in piece[end:]):
                    line.append(piece)  # the line goes on, or the next line holds a placeholder too
                    continue
                line.append(piece[:end])
                yield CompiledTemplate.of(line)
                line, piece = None, piece[end:]
            if slot_follows:
                start = piece.rfind("\n") + 1
                fixed += piece[:start]
                if fixed:  # whole lines: qp() adds nothing
                    yield qp(fixed)
                fixed, line = "", [piece[start:]]
            else:
                fixed += piece
        if line is not None:
            yield CompiledTemplate.of(line)
        if fixed or line is None and not pieces[1:]:
            yield qp(fixed)

    def render(self, values: dict) -> bytes:
        """The encoded body filled with ``values`` (CRLF line ends, ending with one)."""
        out = []
        for piece in self.pieces:
            if isinstance(piece, bytes):
                out.append(piece)
            else:
                filled = piece.render(values, self.escape_html)
                if filled or not out:  # an empty last line adds no line end after a full one
                    out.append(qp(filled))
        return b"".join(out)


def _pieces(template: CompiledTemplate) -> list:
    """The literal strings and Placeholders of ``template``, in order."""
    slots = iter(template.slots)
    return [part if index % 2 == 0 else next(slots) for index, part in enumerate(template.parts)]
