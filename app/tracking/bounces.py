"""Reading bounce messages: RFC 3464 DSNs, RFC 5965 complaint reports, legacy bounces, and VERP.

``parse_bounce(raw)`` turns one message into a ``ParsedBounce``: the per-recipient reports it
holds (bounce hard/soft, delay, complaint), the original Message-ID and a VERP token when the
bounce went to a VERP return path (``app.mail.verp``). Classification follows RFC 3463 status
codes: 5.x.x is a hard bounce except conditions that say nothing bad about the address (mailbox
full 5.2.2, message too big 5.2.3/5.3.4, policy or spam blocks 5.7.x), which count as soft like
every 4.x.x.

Work and memory per message are bounded (review E: one 60 KB hostile DSN took 51 s): only the first
``MAX_READ_BYTES`` of a message are read (the report parts come before the returned message), report
and returned-message parts are read as the raw text they are (never re-serialised: the e-mail
package's header folding is superlinear), and a message with more than ``MAX_PARTS`` MIME parts or
``MAX_BLOCKS`` delivery-status blocks is refused (``BounceRefused``); at most ``MAX_TOKENS`` VERP
tokens are looked at.

Text is UTF-8 (RFC 6532, 6533: an SMTPUTF8 bounce writes a non-ASCII address raw, in a
``message/global-delivery-status`` or ``message/delivery-status`` part, or as ``\\x{HHHH}`` in a
``utf-8`` address): parts and header fields are read as the bytes they are and decoded as UTF-8, a
byte that is no UTF-8 read as U+FFFD, so no byte sequence raises. A recipient address holding such
a byte or a control character is no address: the message is refused (``BounceRefused``), saying so.
"""
import base64
import binascii
import hashlib
import quopri
import re
import unicodedata
from dataclasses import dataclass, field
from email import policy
from email.message import Message
from email.parser import BytesParser, HeaderParser
from email.utils import getaddresses

from flask import has_app_context

from ..core.utils import normalise_email
from ..mail.verp import TOKEN_RE, delivery_id_from_token

STATUS_RE = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
SMTP_CODE_RE = re.compile(r"(?<![\d.])([45])\d\d(?![\d.])")
MESSAGE_ID_RE = re.compile(r"^Message-ID:\s*(<[^>\s]+>)", re.IGNORECASE | re.MULTILINE)
SOFT_PERMANENT = ("5.2.2", "5.2.3", "5.3.4")
LEGACY_SUBJECT_RE = re.compile(r"undeliver|delivery (status notification|failure|has failed)|"
                               r"mail delivery failed|returned mail|failure notice", re.IGNORECASE)
LEGACY_FROM_RE = re.compile(r"mailer-daemon|postmaster", re.IGNORECASE)
LEGACY_FAILED_RE = re.compile(r"address(?:\(es\))? failed:\s*\n\s*<?([^\s<>]+@[^\s<>]+)>?", re.IGNORECASE)
LEGACY_COPY_RE = re.compile(r"^-+ This is a copy of the message|^-+ Original message|^--- Below this line",
                            re.IGNORECASE | re.MULTILINE)
MAX_READ_BYTES = 512 * 1024  # of a message: a DSN's report comes first, the returned message after
MAX_PARTS = 200  # MIME parts (a DSN has 3 or 4; each is an object in memory)
MAX_BLOCKS = 101  # delivery-status blocks: the per-message one and 100 recipients (ours name one)
MAX_TOKENS = 20  # VERP tokens whose signature is checked
MAX_HEADER_BYTES = 64 * 1024  # of a returned message's header section
# message/* parts are parsed by the e-mail package into sub-messages (every delivery-status block
# an object, every returned part too): renamed before parsing, they stay the raw text they are.
_MESSAGE_TYPE_RE = re.compile(rb"(?im)^(content-type:[ \t]*(?:\r?\n[ \t]+)?)(message/)")
_OPAQUE = b"x-herald-"
_BLOCK_SPLIT_RE = re.compile(r"\n(?:[ \t]*\n)+")
_UTF8_ESCAPE_RE = re.compile(r"\\x\{([0-9A-Fa-f]{1,6})\}")  # RFC 6533 utf-8-addr-xtext: \x{39F}
RETURNED_TYPES = ("message/rfc822", "text/rfc822-headers", "message/global", "message/global-headers")
VERP_HEADERS = ("to", "delivered-to", "x-original-to", "envelope-to", "x-envelope-to",
                "x-postfix-sender", "original-mail-from", "return-path", "x-failed-recipients")


class BounceRefused(ValueError):
    """A message past a limit of the parser (too many parts, blocks): not read; says which."""


@dataclass
class RecipientReport:
    """What a bounce says about one recipient."""
    kind: str  # "bounce", "delay" or "complaint"
    bounce_type: str | None = None  # "hard" or "soft" for bounces
    recipient: str | None = None
    status: str | None = None
    diagnostic: str | None = None

    @property
    def detail(self) -> str:
        """A one-line summary for the suppression list."""
        return " ".join(x for x in (self.status, self.diagnostic) if x)[:500]


@dataclass
class ParsedBounce:
    """One parsed message: its reports (empty when it is no bounce) and how to match it."""
    reports: list = field(default_factory=list)
    original_message_id: str | None = None
    verp_token: str | None = None
    fingerprint: str = ""
    subject: str = ""
    truncated: int = 0  # the message's size when only its first MAX_READ_BYTES were read


# -- classification ------------------------------------------------------------------------

def classify(action: str | None, status: str | None, diagnostic: str | None):
    """``(kind, bounce_type)`` for one recipient of a DSN; kind None when nothing went wrong."""
    action = (action or "").strip().lower()
    if action in ("delivered", "relayed", "expanded"):
        return None, None
    if action == "delayed":
        return "delay", None
    code = _status_code(status) or _status_code(diagnostic)
    if code is None:
        smtp = SMTP_CODE_RE.search(diagnostic or "")
        code = f"{smtp.group(1)}.0.0" if smtp else ("5.0.0" if action == "failed" else None)
    if code is None or code.startswith("2."):
        return None, None
    if code.startswith("5.") and not (code in SOFT_PERMANENT or code.startswith("5.7.")):
        return "bounce", "hard"
    return "bounce", "soft"


def _status_code(text: str | None) -> str | None:
    match = STATUS_RE.search(text or "")
    return ".".join(match.groups()) if match else None


# -- parsing -------------------------------------------------------------------------------

def _content_type(part) -> str:
    """The part's content type as the message says it (message/* parts are renamed for parsing)."""
    ctype = part.get_content_type()
    return ctype[len("x-herald-"):] if ctype.startswith("x-herald-message/") else ctype


def _utf8(raw: bytes) -> str:
    """``raw`` as UTF-8 text; a byte that is no UTF-8 (Latin-1, a lone continuation byte) is U+FFFD.
    Never lone surrogates: the e-mail package would make a header holding one an ``unknown-8bit``
    Header object (``=?unknown-8bit?...?=``)."""
    return raw.decode("utf-8", "replace")


def _raw_bytes(text: str) -> bytes:
    """The bytes of text the parser read from bytes (compat32 keeps an 8-bit byte as a surrogate)."""
    return text.encode("utf-8", "surrogateescape")


def _part_text(part) -> str:
    """The body of a report part as UTF-8 text, from the bytes the message holds (a leaf: see
    _MESSAGE_TYPE_RE), its transfer encoding undone. Not ``get_payload()``: it decodes raw 8-bit
    bytes in the part's charset (ASCII by default), and encoding that back raised
    UnicodeEncodeError on every report with a raw UTF-8 address (review F)."""
    body = part._payload  # the raw text, 8-bit bytes as surrogates; a list for a multipart
    if not isinstance(body, str):
        return ""
    raw = _raw_bytes(body)
    encoding = str(part.get("content-transfer-encoding") or "").strip().lower()
    if encoding == "base64":
        data = b"".join(raw.split())
        try:  # a sender's broken padding or stray characters: what can be read is read
            raw = base64.b64decode(data + b"=" * (-len(data) % 4))
        except (binascii.Error, ValueError):
            pass
    elif encoding == "quoted-printable":
        raw = quopri.decodestring(raw)
    return _utf8(raw)


def _header_values(message, name: str) -> list:
    """The values of ``message``'s ``name`` fields as UTF-8 text (RFC 6532: raw UTF-8 allowed;
    a byte that is no UTF-8 is U+FFFD), never a Header object."""
    return [_utf8(_raw_bytes(value)) if isinstance(value, str) else str(value)
            for key, value in message.raw_items() if key.lower() == name]


def _header_value(message, name: str) -> str:
    values = _header_values(message, name)
    return values[0] if values else ""


def _field_blocks(text: str) -> list:
    """The header blocks of a report's text; BounceRefused past MAX_BLOCKS."""
    blocks = _BLOCK_SPLIT_RE.split(text.replace("\r\n", "\n").strip(), MAX_BLOCKS)
    if len(blocks) > MAX_BLOCKS:
        raise BounceRefused(f"more than {MAX_BLOCKS - 1} recipient blocks in one report")
    return [HeaderParser().parsestr(block.strip() + "\n\n") for block in blocks if block.strip()]


def _address(value: str | None) -> str | None:
    """The address in ``rfc822; user@example.com`` (or a bare/bracketed address); in a ``utf-8``
    address (RFC 6533) ``\\x{HHHH}`` is the character it names. BounceRefused for one that cannot
    be an address: a byte that was no UTF-8 (U+FFFD), a control character, an escape naming none."""
    if not value:
        return None
    address_type, address = value.split(";", 1) if ";" in value else ("", value)
    address = address.strip().strip("<>").strip()
    if address_type.strip().lower() == "utf-8":
        address = _UTF8_ESCAPE_RE.sub(_escaped_character, address)
    if any(c == "\ufffd" or unicodedata.category(c) in ("Cc", "Cs") for c in address):
        shown = address[:100].encode("unicode_escape").decode("ascii").replace("\\ufffd", "?")
        raise BounceRefused(f"a recipient address in the report is not UTF-8 text: {shown}")
    return normalise_email(address) or None  # the address key


def _escaped_character(match) -> str:
    """The character of an RFC 6533 ``\\x{HHHH}``; U+FFFD (refused) for a surrogate or none."""
    point = int(match.group(1), 16)
    return chr(point) if point <= 0x10FFFF and not 0xD800 <= point <= 0xDFFF else "\ufffd"


def _delivery_status_reports(text: str) -> list:
    reports = []
    for block in _field_blocks(text):
        if block.get("final-recipient") is None and block.get("action") is None:
            continue  # the per-message block
        diagnostic = " ".join((block.get("diagnostic-code") or "").split()) or None
        if diagnostic and ";" in diagnostic.split(" ", 1)[0]:
            diagnostic = diagnostic.split(";", 1)[1].strip()
        status = _status_code(block.get("status"))
        if status is None or status.endswith(".0.0"):  # Exim says 5.0.0; the reply is precise
            status = _status_code(diagnostic) or status
        kind, bounce_type = classify(block.get("action"), status, diagnostic)
        if kind:
            reports.append(RecipientReport(kind, bounce_type,
                                           _address(block.get("original-recipient"))
                                           or _address(block.get("final-recipient")),
                                           status, diagnostic))
    return reports


def _feedback_reports(text: str, original) -> list:
    fields = (_field_blocks(text) or [{}])[0]
    recipient = _address(fields.get("original-rcpt-to"))
    if recipient is None and original is not None:
        recipient = _address((getaddresses([original.get("to", "")]) or [("", "")])[0][1])
    feedback_type = (fields.get("feedback-type") or "abuse").strip()
    return [RecipientReport("complaint", None, recipient, None, f"feedback: {feedback_type}")]


def _header_section(text: str):
    """The headers of a message in ``text`` (at most MAX_HEADER_BYTES of them)."""
    end = _BLOCK_SPLIT_RE.search(text, 0, MAX_HEADER_BYTES)
    return HeaderParser().parsestr(text[:end.start() if end else MAX_HEADER_BYTES] + "\n\n")


def _original_headers(message):
    """The returned message's headers (message/rfc822 or text/rfc822-headers part), or None."""
    for part in message.walk():
        ctype = _content_type(part)
        if ctype in RETURNED_TYPES:
            return _header_section(_part_text(part).replace("\r\n", "\n").lstrip("\n"))
    return None


def _legacy_reports(message, text: str) -> list:
    """Non-RFC 3464 bounces (old Exim, qmail): recognised by sender, subject and wording."""
    if not (LEGACY_FROM_RE.search(_header_value(message, "from"))
            and LEGACY_SUBJECT_RE.search(_header_value(message, "subject"))):
        return []
    text = LEGACY_COPY_RE.split(text, 1)[0]  # not the returned message's own text
    failed = LEGACY_FAILED_RE.search(text)
    permanent = "permanent error" in text.lower()
    diagnostic = next((line.strip() for line in text.splitlines()
                       if STATUS_RE.search(line) or SMTP_CODE_RE.search(line)), None)
    kind, bounce_type = classify("failed" if permanent else None, None, diagnostic)
    if kind is None:
        kind, bounce_type = "bounce", "hard" if permanent else "soft"
    return [RecipientReport(kind, bounce_type, normalise_email(failed.group(1)) if failed else None,
                            _status_code(diagnostic), diagnostic)]


def _decoded(payload, charset) -> str:
    """A part's bytes as text in its ``charset``, or UTF-8 when Python knows no such charset (a
    made-up ``x-bogus-8`` stopped the whole mailbox's fetch at that message; ``idna`` and
    ``punycode`` raise whatever the error handler)."""
    try:
        return (payload or b"").decode(charset or "utf-8", "replace")
    except (LookupError, ValueError):
        return (payload or b"").decode("utf-8", "replace")


def _plain_text(message) -> str:
    chunks = []
    for part in message.walk():
        if part.get_content_type() == "text/plain" and not part.is_multipart():
            chunks.append(_decoded(part.get_payload(decode=True), part.get_content_charset()))
    return "\n".join(chunks)


def _verp_token(message, original, texts) -> str | None:
    """The VERP token (``d<id>-<signature>``, ``mail.verp``) of the return path the bounce went to,
    looked for in the bounce's envelope headers (To, Delivered-To, X-Original-To ...), the returned
    message's (Return-Path ...) and the report's text (Original-Recipient, Final-Recipient ...):
    the first whose signature holds, else the first found (shown by `flask bounces show`). At most
    MAX_TOKENS distinct tokens are looked at: a hostile field may hold a hundred thousand."""
    values = [_header_values(message, name) for name in VERP_HEADERS]
    if original is not None:
        values += [original.get_all(name) or [] for name in VERP_HEADERS]
    found = []
    for value in [v for group in values for v in group] + list(texts):
        for match in TOKEN_RE.finditer(str(value)):
            token = match.group(1).lower()
            if token not in found:
                found.append(token)
            if len(found) >= MAX_TOKENS:
                break
        if len(found) >= MAX_TOKENS:
            break
    if has_app_context():
        return next((token for token in found if delivery_id_from_token(token) is not None),
                    found[0] if found else None)
    return found[0] if found else None


def _counted_factory():
    """A message factory for the parser that refuses a message past MAX_PARTS parts."""
    made = [0]

    def factory(policy=policy.compat32):
        made[0] += 1
        if made[0] > MAX_PARTS + 1:  # the parser makes one to try the factory
            raise BounceRefused(f"more than {MAX_PARTS} MIME parts")
        return Message(policy=policy)
    return factory


def parse_bounce(raw: bytes) -> ParsedBounce:
    """Parse one message; ``reports`` is empty when it is neither a DSN nor a complaint report.

    Reads at most the first MAX_READ_BYTES of ``raw`` (``truncated`` then says its size); raises
    BounceRefused for a message past another limit (too many MIME parts or recipient blocks)."""
    size = len(raw)
    head = raw[:MAX_READ_BYTES]
    message = BytesParser(_class=_counted_factory(), policy=policy.compat32).parsebytes(
        _MESSAGE_TYPE_RE.sub(lambda m: m.group(1) + _OPAQUE + m.group(2), head))
    original = _original_headers(message)
    result = ParsedBounce(fingerprint=hashlib.sha256(raw).hexdigest()[:40],
                          subject=_header_value(message, "subject"),
                          truncated=size if size > MAX_READ_BYTES else 0)
    status_texts = []
    report_type = (message.get_param("report-type") or "").lower() if message.get_content_type() == "multipart/report" else ""
    for part in message.walk():
        ctype = _content_type(part)
        if ctype in ("message/delivery-status", "message/global-delivery-status") and report_type != "feedback-report":
            status_texts.append(_part_text(part))
            result.reports += _delivery_status_reports(status_texts[-1])
        elif ctype == "message/feedback-report":
            status_texts.append(_part_text(part))
            result.reports += _feedback_reports(status_texts[-1], original)
    text = _plain_text(message)
    if not result.reports and not report_type:
        result.reports = _legacy_reports(message, text)
    if original is not None and original.get("message-id"):
        result.original_message_id = original.get("message-id").strip()
    elif result.reports:
        found = MESSAGE_ID_RE.search(text)
        result.original_message_id = found.group(1) if found else None
    result.verp_token = _verp_token(message, original, status_texts)
    return result
