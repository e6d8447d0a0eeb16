"""Per-recipient broadcast e-mails: the content compiled once per chunk, MIME bytes built cheaply.

Once per chunk the body is put in the e-mail layout, its CSS inlined (css-inline) and a text
alternative made (html2text), with the ``{{ placeholders }}`` kept; per recipient only the
placeholders are filled and a multipart/alternative message is joined from prepared pieces.
"""
import binascii
import importlib
import re
import secrets
import time
from dataclasses import dataclass, field
from email.header import Header
from email.utils import formataddr, formatdate, parseaddr

import css_inline
import html2text
from flask import current_app, render_template
from markupsafe import Markup

from ..broadcasts.content import PLACEHOLDER_RE, compile_template, recipient_values
from ..hooks import apply_filters, registry
from ..settings.services import get_option
from ..tracking.tokens import UnsubscribeLinks

_INLINER = css_inline.CSSInliner(load_remote_stylesheets=False)
_TOKEN_RE = re.compile(r"xheraldph(\d+)x")


@dataclass
class Recipient:
    """Who one message goes to: the ledger row and the customer's personal values."""
    delivery_id: int
    email: str
    customer_id: int | None = None
    name: str = ""
    site_url: str = ""


@dataclass
class OutgoingMessage:
    """One message before it becomes bytes; what the ``delivery_message`` filter receives."""
    recipient: Recipient
    run_id: int
    envelope_from: str
    headers: list = field(default_factory=list)  # [(name, value)], values already encoded
    text: str = ""
    html: str = ""


def _protect(source: str):
    """Swap placeholders for plain words that HTML parsers and html2text leave alone."""
    names = []

    def swap(match):
        names.append(match.group(0))
        return f"xheraldph{len(names) - 1}x"
    return PLACEHOLDER_RE.sub(swap, source), names


def _restore(text: str, names) -> str:
    return _TOKEN_RE.sub(lambda m: names[int(m.group(1))], text)


def html_to_text(source: str) -> str:
    """The plain-text alternative of an HTML document (links kept, images dropped)."""
    converter = html2text.HTML2Text()
    converter.body_width = 78
    converter.wrap_links = False
    converter.ignore_images = True
    converter.unicode_snob = True
    return converter.handle(source).strip() + "\n"


def prepare_bodies(layout_html: str) -> tuple[str, str]:
    """(HTML with CSS inlined, its text alternative), both still holding their placeholders."""
    protected, names = _protect(layout_html)
    inlined = _INLINER.inline(protected)
    return _restore(inlined, names), _restore(html_to_text(inlined), names)


def _qp(text: str) -> bytes:
    """Quoted-printable body with CRLF line ends (binascii picks CRLF from the first line end)."""
    data = text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\r\n")
    if not data.endswith("\r\n"):
        data += "\r\n"
    return binascii.b2a_qp(data.encode("utf-8"), istext=True)


def header_text(value: str) -> str:
    """A header value on one line (no CR/LF injection), RFC 2047-encoded when not ASCII."""
    value = " ".join(str(value).split())
    return value if value.isascii() else Header(value, "utf-8").encode(linesep="\r\n")


def address(name: str, email: str) -> str:
    """``"Name" <email>`` with the name encoded when needed and never spanning lines."""
    return formataddr((" ".join((name or "").split()), email), charset="utf-8")


def tracking_function():
    """``app.tracking.links.apply_tracking`` when the engagement domain provides it, else None."""
    try:
        module = importlib.import_module("app.tracking.links")
    except ModuleNotFoundError as error:
        if error.name in ("app.tracking.links", "app.tracking"):
            return None
        raise
    return getattr(module, "apply_tracking", None)


def network_name() -> str:
    """The network's name as e-mails show it: the setting, else MAIL_FROM's name, else Herald."""
    return get_option("network.name") or parseaddr(current_app.config["MAIL_FROM"])[0] or "Herald"


def layout(body: str, subject: str, unsubscribe_link: str | None) -> str:
    """The HTML document of a broadcast e-mail around ``body`` (the same for sends and previews)."""
    return render_template("delivery/email.html", body=Markup(body), subject=subject,
                           network_name=network_name(), unsubscribe_link=unsubscribe_link)


class MessageFactory:
    """Builds the bytes of one run's message for each recipient; make one per chunk."""

    def __init__(self, run, broadcast):
        config = current_app.config
        sender_name, sender = parseaddr(config["MAIL_FROM"])
        self.run_id = run.id
        self.envelope_from = sender
        self.domain = sender.rpartition("@")[2] or "localhost"
        self.network_name = network_name()
        self.unsubscribe_links = UnsubscribeLinks()
        body = broadcast.body_html or ""
        has_link = "unsubscribe_url" in {m.group(1) for m in PLACEHOLDER_RE.finditer(body)}
        html, text = prepare_bodies(layout(body, broadcast.subject,
                                           None if has_link else "{{ unsubscribe_url }}"))
        self.subject = compile_template(broadcast.subject)
        self.html = compile_template(html)
        self.text = compile_template(text)
        self.track = (broadcast.track_opens or broadcast.track_clicks) and tracking_function()
        self.track_opens, self.track_clicks = bool(broadcast.track_opens), bool(broadcast.track_clicks)
        self.filtered = registry().has("delivery_message")
        self.boundary = f"==herald{secrets.token_hex(12)}=="
        self.static_headers = [
            ("From", address(broadcast.from_name or sender_name, sender)),
            *([("Reply-To", address("", broadcast.reply_to))] if broadcast.reply_to else []),
            ("MIME-Version", "1.0"),
            ("X-Herald-Broadcast-Run", f"{run.id}; broadcast={broadcast.id}"),
            ("Precedence", "bulk"),
            ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
            ("Content-Type", f'multipart/alternative; boundary="{self.boundary}"'),
        ]
        self._date_second, self._date = None, ""

    def message_id(self, delivery_id: int) -> str:
        """The Message-ID of a delivery: stable across its retries, unique per row."""
        return f"<herald.{self.run_id}.{delivery_id}@{self.domain}>"

    def _now(self) -> str:
        second = int(time.time())
        if second != self._date_second:
            self._date_second, self._date = second, formatdate(second, usegmt=True)
        return self._date

    def compose(self, recipient: Recipient) -> OutgoingMessage:
        """The personalised message for ``recipient`` (headers, text and HTML)."""
        https, mailto = self.unsubscribe_links(recipient.email, self.run_id)
        values = recipient_values(recipient.customer_id, recipient.email, recipient.name,
                                  recipient.site_url, https, self.network_name)
        html = self.html.render(values, escape_html=True)
        if self.track:
            html = self.track(html, recipient.delivery_id, self.run_id,
                              opens=self.track_opens, clicks=self.track_clicks)
        headers = [("Date", self._now()), *self.static_headers[:1],
                   ("To", address(recipient.name, recipient.email)),
                   ("Subject", header_text(self.subject.render(values, escape_html=False))),
                   ("Message-ID", self.message_id(recipient.delivery_id)),
                   ("List-Unsubscribe", f"<{mailto}>,\r\n <{https}>"), *self.static_headers[1:]]
        message = OutgoingMessage(recipient, self.run_id, self.envelope_from, headers,
                                  self.text.render(values, escape_html=False), html)
        if self.filtered:
            message = apply_filters("delivery_message", message)
        return message

    def to_bytes(self, message: OutgoingMessage) -> bytes:
        """Serialise a composed message as multipart/alternative (text, then HTML), CRLF ends."""
        head = "".join(f"{name}: {value}\r\n" for name, value in message.headers).encode("utf-8")
        marker = f"--{self.boundary}\r\n".encode()
        part = b"Content-Type: text/%s; charset=\"utf-8\"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
        return b"".join((head, b"\r\n", marker, part % b"plain", _qp(message.text), marker,
                         part % b"html", _qp(message.html), f"--{self.boundary}--\r\n".encode()))

    def build(self, recipient: Recipient) -> tuple[str, str, bytes]:
        """(Message-ID, envelope sender, message bytes) for ``recipient``."""
        message = self.compose(recipient)
        return self.message_id(recipient.delivery_id), message.envelope_from, self.to_bytes(message)
