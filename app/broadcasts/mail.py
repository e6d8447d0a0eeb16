"""Broadcast e-mail messages: building the MIME message, and test sends from the wizard.

``build_message`` is the one place a broadcast becomes a MIME message (multipart/alternative
with a text part generated from the HTML, CSS inlined, Message-ID, Date); the delivery engine
may reuse it or replace it.
"""
import re
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid, parseaddr

import css_inline
import html2text
from email_validator import EmailNotValidError, validate_email
from flask import current_app

from ..mail.transport import DeliveryError, make_transport
from ..mail.tokens import unsubscribe_url
from .rendering import placeholder_values, render_for

MAX_TEST_ADDRESSES = 10
_INLINER = css_inline.CSSInliner(keep_style_tags=False, load_remote_stylesheets=False)


def email_document(body_html: str, subject: str, unsubscribe_link: str = "#unsubscribe") -> str:
    """The whole HTML document of an e-mail around a rendered body, with CSS inlined: the delivery
    engine's own layout, so previews and test sends look exactly like the real e-mails."""
    from ..delivery.rendering import layout

    has_link = "unsubscribe" in body_html.lower()
    return _INLINER.inline(layout(body_html, subject, None if has_link else unsubscribe_link))


def html_to_text(body_html: str) -> str:
    """A readable plain-text version of the HTML body (links kept as URLs)."""
    converter = html2text.HTML2Text()
    converter.body_width = 78
    converter.ignore_images = True
    converter.protect_links = True
    return converter.handle(body_html).strip() + "\n"


def sender() -> tuple[str, str]:
    """The (name, address) of MAIL_FROM."""
    return parseaddr(current_app.config["MAIL_FROM"])


def build_message(subject: str, body_html: str, to: str, from_name=None, reply_to=None,
                  headers=None) -> EmailMessage:
    """A multipart/alternative message (text, then HTML) ready for ``as_bytes(policy=SMTP)``."""
    name, address = sender()
    message = EmailMessage(policy=policy.SMTP)
    message["From"] = formataddr((from_name or name, address))
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(domain=address.rpartition("@")[2] or "localhost")
    if reply_to:
        message["Reply-To"] = reply_to
    for key, value in (headers or {}).items():
        message[key] = value
    message.set_content(html_to_text(body_html))
    message.add_alternative(email_document(body_html, subject), subtype="html")
    return message


def parse_addresses(text: str) -> list[str]:
    """Test addresses typed by an admin (comma, space or line separated); ValueError when wrong."""
    raw = [part for part in re.split(r"[\s,;]+", text or "") if part]
    if not raw:
        raise ValueError("Enter at least one e-mail address.")
    if len(raw) > MAX_TEST_ADDRESSES:
        raise ValueError(f"At most {MAX_TEST_ADDRESSES} test addresses at once.")
    addresses = []
    for item in raw:
        try:
            addresses.append(validate_email(item, check_deliverability=False).normalized)
        except EmailNotValidError as error:
            raise ValueError(f"{item}: {error}") from None
    return addresses


@dataclass(frozen=True)
class TestResult:
    """How the test send to one address went."""
    address: str
    ok: bool
    reply: str


def send_test(broadcast, addresses: list[str], customer=None) -> list[TestResult]:
    """Send ``broadcast`` rendered for ``customer`` to each test address, subject ``[TEST] …``.

    Test sends are not runs and are counted nowhere. The unsubscribe link in a test message is
    the test address's own, so clicking it cannot unsubscribe the customer.
    """
    results = []
    try:
        transport = make_transport(current_app.config["SMTP_URL"])
    except ValueError as error:
        return [TestResult(address, False, str(error)) for address in addresses]
    try:
        for address in addresses:
            values = placeholder_values(customer, unsubscribe_url=unsubscribe_url(address))
            rendered = render_for(broadcast.subject, broadcast.body_html, values)
            message = build_message(f"[TEST] {rendered.subject}", rendered.html, address,
                                    broadcast.from_name, broadcast.reply_to,
                                    {"X-Herald-Test": f"broadcast {broadcast.id}"})
            try:
                result = transport.send(message.as_bytes(), sender()[1], address)
                results.append(TestResult(address, True, result.reply))
            except DeliveryError as error:
                results.append(TestResult(address, False, str(error)))
    finally:
        transport.close()
    return results
