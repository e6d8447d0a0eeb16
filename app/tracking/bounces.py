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
"""
import base64
import binascii
import hashlib
import quopri
import re
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


def _part_text(part) -> str:
    """The decoded body of a report part, from its raw text (a leaf: see _MESSAGE_TYPE_RE)."""
    body = part.get_payload()
    if not isinstance(body, str):
        return ""
    encoding = (part.get("content-transfer-encoding") or "").strip().lower()
    if encoding == "base64":
        data = "".join(body.split())
        try:  # a sender's broken padding or stray characters: what can be read is read
            return base64.b64decode(data + "=" * (-len(data) % 4)).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            return body
    raw = body.encode("ascii", "surrogateescape")
    if encoding == "quoted-printable":
        raw = quopri.decodestring(raw)
    return raw.decode("utf-8", "replace")


def _field_blocks(text: str) -> list:
    """The header blocks of a report's text; BounceRefused past MAX_BLOCKS."""
    blocks = _BLOCK_SPLIT_RE.split(text.replace("\r\n", "\n").strip(), MAX_BLOCKS)
    if len(blocks) > MAX_BLOCKS:
        raise BounceRefused(f"more than {MAX_BLOCKS - 1} recipient blocks in one report")
    return [HeaderParser().parsestr(block.strip() + "\n\n") for block in blocks if block.strip()]


def _address(value: str | None) -> str | None:
    """The address in ``rfc822; user@example.com`` (or a bare/bracketed address)."""
    if not value:
        return None
    value = value.split(";", 1)[1] if ";" in value else value
    return normalise_email(value.strip().strip("<>")) or None  # the address key


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
        if ctype in ("message/rfc822", "text/rfc822-headers"):
            return _header_section(_part_text(part).replace("\r\n", "\n").lstrip("\n"))
    return None


def _legacy_reports(message, text: str) -> list:
    """Non-RFC 3464 bounces (old Exim, qmail): recognised by sender, subject and wording."""
    if not (LEGACY_FROM_RE.search(message.get("from", "")) and LEGACY_SUBJECT_RE.search(message.get("subject", ""))):
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
    made-up ``x-bogus-8`` stopped the whole mailbox's fetch at that message)."""
    try:
        return (payload or b"").decode(charset or "utf-8", "replace")
    except LookupError:
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
    values = [message.get_all(name) or [] for name in VERP_HEADERS]
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
                          subject=str(message.get("subject", "")),
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
