"""The one message builder: every e-mail Herald sends, test-sends or previews is made here.

One layout (``templates/mail/layout.html``), one CSS inliner (css-inline), one text-part converter
(``app.mail.textpart``, html2text). A message design is prepared once: the body is put in the
layout, its CSS inlined, a text alternative made and the fixed lines quoted-printable encoded,
all with their ``{{ placeholders }}`` kept (hidden from those tools, ``app.mail.masking``); per
recipient only the placeholders are filled. The result is an
RFC 5322 message, multipart/alternative (RFC 2046 section 5.1.4: text, then HTML) or text/plain.
"""
import secrets
import time
from dataclasses import dataclass, field
from email.utils import formatdate, parseaddr

from flask import current_app, render_template
from markupsafe import Markup, escape

from ..core.hooks import apply_filters, registry
from ..core.settings.services import get_option
from .inliner import inline_css
from .masking import Mask
from .message_ids import tagger
from .bodyfill import BodyFormat
from .mime import DotFree, EncodedBody, address, header_text, qp
from .placeholders import CompiledTemplate, compile_template
from .textpart import html_to_text

LAYOUT = "mail/layout.html"
# Quoted-printable (RFC 2045 section 6.7) never writes "==", so this boundary cannot occur in a
# body; being fixed, the same message is the same bytes whoever builds it.
BOUNDARY = "==herald-alternative=="
_PART = 'Content-Type: text/%s; charset="utf-8"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n'


@dataclass
class Recipient:
    """Who one message goes to: its ledger row (``delivery_id``, None outside a run) and values."""
    delivery_id: int | None
    email: str
    customer_id: int | None = None
    name: str = ""
    site_url: str = ""
    to_name: str | None = None  # the display name in To when not ``name``


@dataclass
class OutgoingMessage:
    """One message before it becomes bytes: what the ``delivery_message`` and
    ``system_email_message`` filters receive. Header values are already encoded (RFC 2047)."""
    recipient: Recipient
    run_id: int | None
    envelope_from: str
    headers: list = field(default_factory=list)  # [(name, value)]
    text: str = ""
    html: str = ""  # "" for a text/plain message


def network_name() -> str:
    """The network's name as e-mails show it: the setting, else MAIL_FROM's name, else Herald."""
    return get_option("network.name") or parseaddr(current_app.config["MAIL_FROM"])[0] or "Herald"


def layout(body: str, subject: str, purpose: str = "bulk", unsubscribe_link: str | None = None) -> str:
    """The HTML document of an e-mail around ``body``; ``purpose`` is "bulk" (a broadcast, with
    the unsubscribe footer) or "account" (a system e-mail)."""
    return render_template(LAYOUT, body=Markup(body), subject=subject, purpose=purpose,
                           network_name=network_name(), unsubscribe_link=unsubscribe_link)


def prepare_bodies(body: str, subject: str, purpose: str = "bulk", footer_link: str | None = None,
                   literal: bool = False, tracking=None) -> tuple:
    """(HTML, text alternative, tracking) of ``body`` in the layout, CSS inlined, as
    CompiledTemplates. Placeholders (none when ``literal``) are hidden from the layout, the CSS
    inliner, the text converter and the tracking (``tracking(html, mask)``, see MessageTemplate),
    then become the templates' slots: no text an HTML tool produced is ever read as a placeholder.
    Raises ContentLimit when the document has too many elements to inline (app.mail.inliner)."""
    mask = Mask()

    def hidden(text):
        return mask.hide(text, [] if literal else None).text
    link = hidden(footer_link) if footer_link else None
    inlined = inline_css(layout(hidden(body), hidden(subject), purpose, link))
    text = html_to_text(inlined, mask)
    tracked = tracking(inlined, mask) if tracking else None
    return mask.compile(tracked.html if tracked else inlined), mask.compile(text), tracked


def _literal(text: str) -> CompiledTemplate:
    return CompiledTemplate((text,))


class MessageTemplate:
    """A message design prepared once, then built for each recipient.

    ``subject`` and ``body`` hold ``{{ placeholders }}`` unless ``literal`` (content already
    rendered, e.g. a system e-mail: nothing in it is read as a placeholder). ``style`` is "html"
    (multipart/alternative) or "text" (``body`` is the plain text). ``headers`` are fixed
    ``(name, value)`` pairs; ``bulk`` adds Precedence and RFC 8058 one-click unsubscribe headers.
    ``tracking``, when given, is called once with the inlined HTML (placeholders hidden as words of
    the ``Mask`` it gets too) and returns an object with ``html`` (rewritten, in words of that
    mask, which may have new ones) and ``values(delivery_id, values)`` (extra values per message).
    ``filter_hook`` names the filter that may change each composed message; ``subject_prefix``
    (e.g. "[TEST] ") goes in the Subject header only, not in the document's title.
    """

    def __init__(self, subject: str, body: str, *, style: str = "html", purpose: str = "bulk",
                 sender: tuple[str, str] | None = None, reply_to: str | None = None,
                 headers=(), bulk: bool = False, footer_link: str | None = None, tracking=None,
                 literal: bool = False, run_id: int | None = None, filter_hook: str = "delivery_message",
                 filter_args=(), subject_prefix: str = ""):
        name, self.envelope_from = sender or parseaddr(current_app.config["MAIL_FROM"])
        self.domain = self.envelope_from.rpartition("@")[2] or "localhost"
        self.run_id, self.style = run_id, style
        compile_ = _literal if literal else compile_template
        self.subject = compile_(subject_prefix + subject)
        self.tracking = None
        if style == "html":
            html, text, self.tracking = prepare_bodies(body, subject, purpose, footer_link, literal, tracking)
        else:
            html, text = None, compile_(body)
        self.encoded_text = EncodedBody(text, False)
        self.encoded_html = EncodedBody(html, True) if html else None
        self.text = self.encoded_text.template
        self.html = self.encoded_html.template if html else _literal("")
        self.filter_hook, self.filter_args = filter_hook, tuple(filter_args)
        self.filtered = registry().has(filter_hook)
        self.bulk = bulk
        self.static_headers = [("From", address(name, self.envelope_from)),
                               *([("Reply-To", address("", reply_to))] if reply_to else []),
                               ("MIME-Version", "1.0"), *headers,
                               *([("Precedence", "bulk"),
                                  ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")] if bulk else [])]
        self._prepare_pieces()
        self._date_second, self._date = None, ""
        self._tag = tagger().tag
        self._id_run = self.run_id if self.run_id is not None else "m"

    def _prepare_pieces(self) -> None:
        if self.encoded_html is None:
            content = [("Content-Type", 'text/plain; charset="utf-8"'),
                       ("Content-Transfer-Encoding", "quoted-printable")]
            self._opening, self._between, self._closing = b"", b"", b""
        else:
            boundary = BOUNDARY
            content = [("Content-Type", f'multipart/alternative; boundary="{boundary}"')]
            marker = f"--{boundary}\r\n"
            self._opening = (marker + _PART % "plain").encode()
            self._between = (marker + _PART % "html").encode()
            self._closing = f"--{boundary}--\r\n".encode()
        self.static_headers += content
        self._from = f"From: {self.static_headers[0][1]}\r\n"
        self._after_headers = "".join(f"{name}: {value}\r\n" for name, value in
                                      self.static_headers[1:]).encode() + b"\r\n" + self._opening
        bodies = [self.encoded_text] + ([self.encoded_html] if self.encoded_html is not None else [])
        # Every line of the encoded bodies is dot-free (mime); the fixed header lines and the
        # MIME boundaries are checked once here, the personal header lines per message.
        self._dot_free = b"\n." not in self._from.encode() + self._after_headers + self._between + self._closing
        self._body = BodyFormat([self._after_headers, self.encoded_text,
                                 *([self._between, self.encoded_html] if self.encoded_html is not None else []),
                                 self._closing]) if all(body.formattable for body in bodies) else None

    def message_id(self, key) -> str:
        """A Message-ID (RFC 5322 section 3.6.4) under the sender's domain; ``key`` makes it
        stable (a delivery's retries share one) and adds the tag that makes it unguessable
        (``message_ids``: a bounce quoting it is matched only when the tag holds), None makes it
        random."""
        if key is None:
            return f"<herald.{self._id_run}.x{secrets.token_hex(10)}@{self.domain}>"
        return f"<herald.{self._id_run}.{key}.{self._tag(self.run_id, key)}@{self.domain}>"

    def date(self) -> str:
        """The Date header value (RFC 5322 section 3.3), formatted at most once a second."""
        second = int(time.time())
        if second != self._date_second:
            self._date_second, self._date = second, formatdate(second, usegmt=True)
        return self._date

    def values(self, recipient: Recipient, values: dict) -> dict:
        """``values`` plus the tracking values of ``recipient``'s message."""
        if self.tracking:
            values = {**values, **self.tracking.values(recipient.delivery_id, values)}
        return values

    def _personal_headers(self, recipient, values, message_id, unsubscribe) -> list:
        name = recipient.name if recipient.to_name is None else recipient.to_name
        headers = [("To", address(name, recipient.email)),
                   ("Subject", header_text(self.subject.render(values, escape_html=False))),
                   ("Message-ID", message_id)]
        if unsubscribe:  # RFC 2369 / RFC 8058: mailto and one-click https
            headers.append(("List-Unsubscribe", f"<{unsubscribe[1]}>,\r\n <{unsubscribe[0]}>"))
        return headers

    def compose(self, recipient: Recipient, values: dict, message_id: str,
                unsubscribe: tuple[str, str] | None = None,
                envelope_from: str | None = None) -> OutgoingMessage:
        """The personal message for ``recipient`` (``unsubscribe``: its (https, mailto) links;
        ``envelope_from``: its return path, default the sender's address), passed through the
        ``filter_hook`` filter, which may change the envelope sender too."""
        values = self.values(recipient, values)
        headers = [("Date", self.date()), *self.static_headers[:1],
                   *self._personal_headers(recipient, values, message_id, unsubscribe),
                   *self.static_headers[1:]]
        message = OutgoingMessage(recipient, self.run_id, envelope_from or self.envelope_from, headers,
                                  self.text.render(values, escape_html=False),
                                  self.html.render(values, escape_html=True))
        if self.filtered:
            message = apply_filters(self.filter_hook, message, *self.filter_args)
        return message

    def to_bytes(self, message: OutgoingMessage) -> bytes:
        """A composed message as bytes with CRLF line ends, ready for SMTP DATA."""
        head = "".join(f"{name}: {value}\r\n" for name, value in message.headers).encode("utf-8")
        parts = [head, b"\r\n", self._opening, qp(message.text)]
        if self.encoded_html is not None:
            parts += [self._between, qp(message.html)]
        parts.append(self._closing)
        return b"".join(parts)

    def build(self, recipient: Recipient, values: dict, message_id: str,
              unsubscribe: tuple[str, str] | None = None) -> bytes:
        """The bytes of ``recipient``'s message: ``to_bytes(compose(...))``, joined from the
        pieces prepared once when no filter callback is registered (then ``DotFree`` when no line
        starts with a dot, as nearly always: the transport need not look)."""
        if self.filtered:
            return self.to_bytes(self.compose(recipient, values, message_id, unsubscribe))
        values = self.values(recipient, values)
        name = recipient.name if recipient.to_name is None else recipient.to_name
        # _personal_headers, written out: the send loop's hottest lines
        head = (f"Date: {self.date()}\r\n{self._from}To: {address(name, recipient.email)}\r\n"
                f"Subject: {header_text(self.subject.render(values, escape_html=False))}\r\n"
                f"Message-ID: {message_id}\r\n")
        if unsubscribe:
            head += f"List-Unsubscribe: <{unsubscribe[1]}>,\r\n <{unsubscribe[0]}>\r\n"
        if self._body is not None:
            data = self._body.fill(values, head.encode("utf-8"))
        else:  # a fallback in a body: each piece rendered in turn
            parts = [head.encode("utf-8"), self._after_headers, self.encoded_text.render(values)]
            if self.encoded_html is not None:
                parts += [self._between, self.encoded_html.render(values)]
            parts.append(self._closing)
            data = b"".join(parts)
        return DotFree(data) if self._dot_free and "\n." not in head else data

    def document(self, values: dict) -> str:
        """What a preview frame shows: the HTML filled with ``values``, or the text in a <pre>."""
        if self.encoded_html is None:
            return ("<!doctype html><meta charset='utf-8'><pre style=\"white-space:pre-wrap;"
                    f"font:14px/1.5 ui-monospace,monospace;margin:1rem\">"
                    f"{escape(self.text.render(values, escape_html=False))}</pre>")
        return self.html.render(self.values(Recipient(None, ""), values), escape_html=True)
