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
from .placeholders import PLACEHOLDER_RE, compile_template

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
    """A body template (``{{ placeholders }}``) whose fixed lines are already quoted-printable.

    ``render(values)`` equals ``qp(compile_template(body.source).render(values, escape_html))``,
    ``source`` being the template with LF line ends; a ``literal`` body has no placeholders.
    """

    def __init__(self, source: str, escape_html: bool, literal: bool = False):
        self.source = text = _lf(source)
        self.escape_html = escape_html
        regions = []  # [start, end) of whole lines holding placeholders, merged
        for match in () if literal else PLACEHOLDER_RE.finditer(text):
            start = text.rfind("\n", 0, match.start()) + 1
            end = text.find("\n", match.end())
            end = len(text) if end < 0 else end + 1
            if regions and start <= regions[-1][1]:
                regions[-1][1] = max(regions[-1][1], end)
            else:
                regions.append([start, end])
        pieces, position = [], 0
        for start, end in regions:
            if start > position:  # ends with a line end: qp() adds nothing
                pieces.append(qp(text[position:start]))
            pieces.append(compile_template(text[start:end]))
            position = end
        if position < len(text) or not pieces:
            pieces.append(qp(text[position:]))
        self.pieces = tuple(pieces)

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
