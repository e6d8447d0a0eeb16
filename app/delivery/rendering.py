"""Per-recipient broadcast e-mails: the content compiled once per chunk, MIME bytes built cheaply.

Once per chunk the body is put in the e-mail layout, its CSS inlined (css-inline), a text
alternative made (html2text) and the links rewritten for tracking, with the ``{{ placeholders }}``
kept, and the lines without placeholders quoted-printable encoded; per recipient only the
placeholders are filled and a multipart/alternative message is joined from prepared pieces.
"""
import importlib
import re
import secrets
import time
from dataclasses import dataclass, field
from email.utils import formatdate, parseaddr

import css_inline
import html2text
from flask import current_app, render_template
from markupsafe import Markup

from ..broadcasts.content import recipient_values

from ..mail.placeholders import PLACEHOLDER_RE, compile_template
from ..core.hooks import apply_filters, registry
from ..core.settings.services import get_option
from ..mail.tokens import UnsubscribeLinks
from ..mail.mime import EncodedBody, address, header_text, qp

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


def tracking_template():
    """``app.tracking.links.TrackedTemplate`` when the engagement domain provides it, else None."""
    try:
        module = importlib.import_module("app.tracking.links")
    except ModuleNotFoundError as error:
        if error.name in ("app.tracking.links", "app.tracking"):
            return None
        raise
    return getattr(module, "TrackedTemplate", None)


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
        tracked = (broadcast.track_opens or broadcast.track_clicks) and tracking_template()
        self.tracking = tracked and tracked(html, run.id, bool(broadcast.track_opens),
                                            bool(broadcast.track_clicks))
        html = self.tracking.html if self.tracking else html
        self.subject = compile_template(broadcast.subject)
        self.encoded_html, self.encoded_text = EncodedBody(html, True), EncodedBody(text, False)
        self.html = compile_template(self.encoded_html.source)
        self.text = compile_template(self.encoded_text.source)
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
        part = 'Content-Type: text/%s; charset="utf-8"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n'
        marker = f"--{self.boundary}\r\n"
        self._from = "".join(f"{name}: {value}\r\n" for name, value in self.static_headers[:1])
        self._text_part = (marker + part % "plain").encode()
        self._after_headers = "".join(f"{name}: {value}\r\n" for name, value in
                                      self.static_headers[1:]).encode() + b"\r\n" + self._text_part
        self._between_parts = (marker + part % "html").encode()
        self._closing = f"--{self.boundary}--\r\n".encode()
        self._date_second, self._date = None, ""

    def message_id(self, delivery_id: int) -> str:
        """The Message-ID of a delivery: stable across its retries, unique per row."""
        return f"<herald.{self.run_id}.{delivery_id}@{self.domain}>"

    def _now(self) -> str:
        second = int(time.time())
        if second != self._date_second:
            self._date_second, self._date = second, formatdate(second, usegmt=True)
        return self._date

    def _values(self, recipient: Recipient) -> tuple[dict, str, str]:
        https, mailto = self.unsubscribe_links(recipient.email, self.run_id)
        values = recipient_values(recipient.customer_id, recipient.email, recipient.name,
                                  recipient.site_url, https, self.network_name)
        if self.tracking:
            values.update(self.tracking.values(recipient.delivery_id, values))
        return values, https, mailto

    def _personal_headers(self, recipient: Recipient, values: dict, https: str, mailto: str) -> list:
        return [("To", address(recipient.name, recipient.email)),
                ("Subject", header_text(self.subject.render(values, escape_html=False))),
                ("Message-ID", self.message_id(recipient.delivery_id)),
                ("List-Unsubscribe", f"<{mailto}>,\r\n <{https}>")]

    def compose(self, recipient: Recipient) -> OutgoingMessage:
        """The personalised message for ``recipient`` (headers, text and HTML), filtered by
        ``delivery_message``."""
        values, https, mailto = self._values(recipient)
        headers = [("Date", self._now()), *self.static_headers[:1],
                   *self._personal_headers(recipient, values, https, mailto), *self.static_headers[1:]]
        message = OutgoingMessage(recipient, self.run_id, self.envelope_from, headers,
                                  self.text.render(values, escape_html=False),
                                  self.html.render(values, escape_html=True))
        if self.filtered:
            message = apply_filters("delivery_message", message)
        return message

    def to_bytes(self, message: OutgoingMessage) -> bytes:
        """Serialise a composed message as multipart/alternative (text, then HTML), CRLF ends."""
        head = "".join(f"{name}: {value}\r\n" for name, value in message.headers).encode("utf-8")
        return b"".join((head, b"\r\n", self._text_part, qp(message.text), self._between_parts,
                         qp(message.html), self._closing))

    def build(self, recipient: Recipient) -> tuple[str, str, bytes]:
        """(Message-ID, envelope sender, message bytes) for ``recipient``.

        Without ``delivery_message`` callbacks the bytes are joined from the pieces prepared per
        chunk (the same bytes ``to_bytes(compose(recipient))`` gives); with them, via ``compose``.
        """
        if self.filtered:
            message = self.compose(recipient)
            return self.message_id(recipient.delivery_id), message.envelope_from, self.to_bytes(message)
        values, https, mailto = self._values(recipient)
        head = "".join(f"{name}: {value}\r\n" for name, value in
                       self._personal_headers(recipient, values, https, mailto))
        return self.message_id(recipient.delivery_id), self.envelope_from, b"".join((
            f"Date: {self._now()}\r\n{self._from}{head}".encode("utf-8"), self._after_headers,
            self.encoded_text.render(values), self._between_parts, self.encoded_html.render(values),
            self._closing))
